"""`hotline transcribe FILE [--json]`: transcribe one WAV file with the configured engine.

Vosk when HOTLINE_VOSK_MODEL_PATH is set, else the embedded French whisper-base. Any WAV works (any rate,
mono or stereo): it is mixed to mono and resampled to the engine's telephone rate first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hotline.settings import get_settings

FEED_CHUNK_SECONDS = 0.02  # feed 20 ms frames, as a call does


def transcribe(
    file: Annotated[Path, typer.Argument(help="A WAV file (any rate, mono or stereo).")],
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"text": ..., "engine": ..., "seconds": ...} (seconds of audio).')
    ] = False,
) -> None:
    """Transcribe a WAV file with the configured speech engine."""
    from ivr.speech.audio import BYTES_PER_SAMPLE, AudioFileError, read_wav, resample, to_pcm16
    from ivr.speech.models import ModelMissing
    from ivr.speech.recognizer import make_recognizer

    try:
        audio = read_wav(file)
    except AudioFileError as exc:
        typer.echo(f"transcribe: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        recognizer = make_recognizer(get_settings(), pool_size=1)
    except (ModelMissing, FileNotFoundError) as exc:
        typer.echo(f"transcribe: {exc}", err=True)
        raise typer.Exit(2) from exc
    pcm = to_pcm16(resample(audio.samples, audio.rate, recognizer.sample_rate))
    stream = recognizer.open_stream()
    step = int(recognizer.sample_rate * FEED_CHUNK_SECONDS) * BYTES_PER_SAMPLE
    for start in range(0, len(pcm), step):
        stream.feed(pcm[start : start + step])
    result = stream.final()
    stream.close()
    if as_json:
        typer.echo(json.dumps({"text": result.text, "engine": recognizer.name, "seconds": round(audio.seconds, 3)}))
    else:
        typer.echo(result.text)
