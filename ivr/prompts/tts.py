"""Text-to-speech engines: French text in, 8 kHz 16-bit mono WAV bytes out (what Asterisk plays as slin).

The embedded engine is espeak-ng (Debian package `espeak-ng`), voice fr-fr, post-processed by sox (Debian
package `sox`): resampled to 8 kHz mono 16-bit, leading and trailing silence trimmed, loudness normalised.
It is instant and offline but robotic; recorded prompts are preferred where they exist (see `recorded`).

Hook for a better production voice (Piper, e.g. fr_FR-siwis): write a class with the same three members as
`TtsEngine` (`name`, `voice`, `synthesize`). Its `synthesize` runs piper-tts with the voice's .onnx file
(outputs WAV at the voice's own rate, 22.05 kHz for most) and passes the bytes through `to_phone_wav()`, so
the telephone format and loudness match this engine's. Give `voice` the model file's name plus any settings
that change the audio: the cache key includes it, so switching voices never serves stale audio. No Piper
engine ships here because no French Piper voice can be installed from the registries this project uses.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

PHONE_SAMPLE_RATE_HZ = 8000  # Asterisk's native slin rate: no resampling on the way to the caller
PHONE_SAMPLE_WIDTH_BYTES = 2  # 16-bit signed PCM, the format Asterisk's .wav reader expects
PHONE_CHANNELS = 1

ESPEAK_VOICE = "fr-fr"  # espeak-ng's France French voice (the mbrola fr voices need mbrola, not in Debian main)
# espeak-ng's default is 175 words a minute; 150 is easier to follow for elderly callers on a narrow phone line.
ESPEAK_RATE_WPM = 150
# Default pitch is 50 (0-99); a little lower sounds less shrill through the 300-3400 Hz telephone band.
ESPEAK_PITCH = 45
# Extra pause between words, in units of 10 ms at the default speed: 1 separates words a touch more.
ESPEAK_WORD_GAP = 1

# Silence trim: drop leading and trailing audio quieter than this share of full scale...
TRIM_THRESHOLD = "0.5%"
TRIM_MIN_DURATION_S = "0.02"  # ...once it lasts this long (shorter dips are inside the speech)
LEAD_PAD_S = "0.05"  # keep a hair of silence before speech so the first phoneme is not clipped by the codec
TAIL_PAD_S = "0.15"  # and a short breath after it, so prompts played back to back do not run together
# Peak normalisation target: -3 dBFS leaves headroom for the G.711 encoder (clipping sounds harsh on the phone).
NORMALISE_DBFS = "-3"

SUBPROCESS_TIMEOUT_S = 30.0  # espeak-ng renders 45 s of speech in well under a second; 30 s means it is stuck


class TtsError(RuntimeError):
    """Synthesis or audio conversion failed."""


class TtsUnavailable(TtsError):
    """A program the engine needs is not installed."""


@runtime_checkable
class TtsEngine(Protocol):
    """Turns French text into 8 kHz 16-bit mono WAV bytes. Blocking: call it from a worker thread."""

    @property
    def name(self) -> str:
        """The engine's identifier, part of the cache key (e.g. "espeak-ng")."""
        ...

    @property
    def voice(self) -> str:
        """The voice and every setting that changes the audio, part of the cache key."""
        ...

    def synthesize(self, text: str) -> bytes:
        """The spoken text as a complete WAV file (8 kHz, mono, 16-bit). Raises TtsError."""
        ...


def _require(program: str, debian_package: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise TtsUnavailable(f"{program} is not installed (Debian package: apt-get install {debian_package})")
    return path


def _run(argv: list[str], *, stdin: bytes | None = None, what: str) -> None:
    try:
        result = subprocess.run(argv, input=stdin, capture_output=True, timeout=SUBPROCESS_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TtsError(f"{what} took longer than {SUBPROCESS_TIMEOUT_S:.0f} s and was stopped") from exc
    except OSError as exc:
        raise TtsError(f"{what} could not start: {exc}") from exc
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip() or "no message"
        raise TtsError(f"{what} failed (exit {result.returncode}): {detail}")


def _sox_phone_args(source: Path, target: Path, *, trim: bool) -> list[str]:
    """sox arguments converting any readable audio file to the phone format, normalised."""
    # -D: no dither, so the same input always gives the same bytes and silence stays digital silence.
    argv = [
        "-D",
        str(source),
        "-r",
        str(PHONE_SAMPLE_RATE_HZ),
        "-c",
        str(PHONE_CHANNELS),
        "-b",
        str(PHONE_SAMPLE_WIDTH_BYTES * 8),
        "-e",
        "signed-integer",
        str(target),
    ]
    if trim:
        # Trim the start, reverse, trim the (former) end, reverse back.
        trim_args = ["silence", "1", TRIM_MIN_DURATION_S, TRIM_THRESHOLD]
        argv += [*trim_args, "reverse", *trim_args, "reverse"]
    argv += ["gain", "-n", NORMALISE_DBFS]
    if trim:
        argv += ["pad", LEAD_PAD_S, TAIL_PAD_S]
    return argv


def convert_file_to_phone_wav(source: Path, target: Path, *, trim: bool = True) -> None:
    """Convert an audio file sox can read (WAV, FLAC, Ogg...) to 8 kHz mono 16-bit WAV at `target`."""
    sox = _require("sox", "sox")
    if not source.is_file():
        raise TtsError(f"audio file not found: {source}")
    _run([sox, *_sox_phone_args(source, target, trim=trim)], what=f"sox converting {source.name}")


def to_phone_wav(wav: bytes, *, trim: bool = True) -> bytes:
    """Convert WAV bytes at any rate and width to the phone format (shared by every engine)."""
    with tempfile.TemporaryDirectory(prefix="hotline-tts-") as folder:
        source = Path(folder) / "in.wav"
        target = Path(folder) / "out.wav"
        source.write_bytes(wav)
        convert_file_to_phone_wav(source, target, trim=trim)
        return target.read_bytes()


@dataclass(frozen=True)
class EspeakEngine:
    """espeak-ng French, post-processed with sox. Needs the Debian packages espeak-ng and sox."""

    voice_name: str = ESPEAK_VOICE
    rate_wpm: int = ESPEAK_RATE_WPM
    pitch: int = ESPEAK_PITCH
    word_gap: int = ESPEAK_WORD_GAP

    @property
    def name(self) -> str:
        return "espeak-ng"

    @property
    def voice(self) -> str:
        return f"{self.voice_name}/s{self.rate_wpm}/p{self.pitch}/g{self.word_gap}"

    def check(self) -> None:
        """Raise TtsUnavailable now (at startup) rather than on the first call."""
        _require("espeak-ng", "espeak-ng")
        _require("sox", "sox")

    def synthesize(self, text: str) -> bytes:
        if not text.strip():
            raise TtsError("nothing to say: the text is empty")
        espeak = _require("espeak-ng", "espeak-ng")
        _require("sox", "sox")
        with tempfile.TemporaryDirectory(prefix="hotline-tts-") as folder:
            raw = Path(folder) / "espeak.wav"
            phone = Path(folder) / "phone.wav"
            # Text on stdin (-b 1: UTF-8), never in argv: a sentence starting with "-" is not an option.
            argv = [
                espeak,
                "-v",
                self.voice_name,
                "-s",
                str(self.rate_wpm),
                "-p",
                str(self.pitch),
                "-g",
                str(self.word_gap),
                "-b",
                "1",
                "-w",
                str(raw),
            ]
            _run(argv, stdin=text.encode("utf-8"), what="espeak-ng")
            if not raw.is_file() or raw.stat().st_size == 0:
                raise TtsError("espeak-ng produced no audio")
            convert_file_to_phone_wav(raw, phone, trim=True)
            return phone.read_bytes()
