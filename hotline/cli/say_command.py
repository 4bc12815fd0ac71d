"""`hotline say TEXT --out FILE.wav [--engine pico|espeak]`: one sentence as a caller hears it.

For staff to preview a message before callers hear it: the same engine choice (HOTLINE_TTS_ENGINE, Pico falling
back to espeak-ng), text preparation, telephone format (8 kHz mono 16-bit WAV), trimming, normalisation and
cache as the IVR. The file is the synthetic voice; a sentence that a human recording says word for word is
played from that recording on a call instead.
"""

from __future__ import annotations

import logging
import os
import shutil
import wave
from pathlib import Path
from typing import Annotated

import typer

from hotline.settings import get_settings


def _fail(message: str) -> typer.Exit:
    typer.echo(f"say: {message}", err=True)
    return typer.Exit(2)


def say(
    text: Annotated[str, typer.Argument(help="The French sentence to speak.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The WAV file to write (8 kHz mono 16-bit).")],
    engine: Annotated[
        str | None, typer.Option(help="pico or espeak (default HOTLINE_TTS_ENGINE, pico).", show_default=False)
    ] = None,
) -> None:
    """Render one sentence exactly as a caller will hear it, into a WAV file."""
    from ivr.prompts.cache import tts_cache_for
    from ivr.prompts.tts import TtsError

    logging.basicConfig(level=logging.WARNING, format="say: %(message)s")  # the Pico fallback warning
    if not text.strip():
        raise _fail("nothing to say: the text is empty")
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        raise _fail(f"cannot write {out}: {'it is a folder' if out.is_dir() else 'no writable folder there'}")
    try:
        cache = tts_cache_for(get_settings(), engine)
    except (ValueError, TtsError) as exc:
        raise _fail(str(exc)) from exc
    try:
        cache.get(text)
        shutil.copyfile(cache.path_for(text), out)
    except TtsError as exc:
        raise _fail(str(exc)) from exc
    except OSError as exc:
        raise _fail(f"cannot write {out}: {exc}") from exc
    with wave.open(str(out), "rb") as rendered:
        seconds = rendered.getnframes() / rendered.getframerate()
    typer.echo(f"{out}: {seconds:.1f} s, {cache.engine.name} {cache.engine.voice}")
