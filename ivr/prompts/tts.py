"""Text-to-speech engines: French text in, 8 kHz 16-bit mono WAV bytes out (what Asterisk plays as slin).

Two engines, both post-processed by sox (Debian package `sox`): resampled to 8 kHz mono 16-bit, leading and
trailing silence trimmed, loudness normalised, so the telephone format and loudness never depend on the engine.
- `PicoEngine` (the default): SVOX Pico, `pico2wave -l fr-FR` (Debian package `libttspico-utils`, in the
  non-free component). A natural-sounding small French voice; whisper-base understands it (17.9 % word errors
  measured on IVR sentences, against 119 % for espeak-ng).
- `EspeakEngine`: espeak-ng, voice fr-fr (Debian main). Instant but robotic; the fallback when Pico is missing.
`engine_named` picks one from the settings' name and falls back from Pico to espeak-ng, logged once.

Another engine (Piper, e.g. fr_FR-siwis, in production) is a class with the same members as `TtsEngine`
(`name`, `voice`, `synthesize`). Its `synthesize` passes its WAV bytes through `to_phone_wav()`. Give `voice`
the model's name plus any settings that change the audio: the cache key includes it, so switching voices
never serves stale audio.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

log = logging.getLogger(__name__)

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
TRIM_THRESHOLD = "0.1%"  # 0.5 % cut the burst of a first "t" (Pico's "Tapez" was heard as "L'appeler")
TRIM_MIN_DURATION_S = "0.02"  # ...once it lasts this long (shorter dips are inside the speech)
LEAD_PAD_S = "0.05"  # keep a hair of silence before speech so the first phoneme is not clipped by the codec
TAIL_PAD_S = "0.15"  # and a short breath after it, so prompts played back to back do not run together
# Peak normalisation target: -3 dBFS leaves headroom for the G.711 encoder (clipping sounds harsh on the phone).
NORMALISE_DBFS = "-3"

SUBPROCESS_TIMEOUT_S = 30.0  # both engines render 45 s of speech in well under a second; 30 s means it is stuck

PICO_LANGUAGE = "fr-FR"  # Pico's France French voice (its only French one)
PICO_DEBIAN_PACKAGE = "libttspico-utils"
# Pico's <speed level>, in percent of its normal rate, and the pause added after each sentence (a menu choice
# is one sentence). Tuned by ear and by whisper-base transcripts of the 8 kHz audio: see README.md.
PICO_SPEED_PERCENT = 90
PICO_SENTENCE_BREAK_MS = 250
# A sentence ends at . ! ? or … followed by a space (not "3.5" nor "n°.").
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_MARKUP_CHARS = re.compile(r"[<>]")  # Pico reads its markup in the text: no tag may come from the text itself

EngineName = Literal["pico", "espeak"]
ENGINE_NAMES: tuple[EngineName, ...] = ("pico", "espeak")


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


_NUMBER_WORDS = (
    "un|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|treize|quatorze|quinze|seize"
    "|vingts?|trente|quarante|cinquante|soixante|cents?|et"
)
# A hyphen inside a number written in words ("dix-sept", "quatre-vingt-dix"): Pico swallows the part after it
# ("dix-sept heures" was heard as "dix heures", "dix-huit" as "dix"); with a space it says each part clearly.
_NUMBER_HYPHEN = re.compile(rf"\b({_NUMBER_WORDS})-(?=(?:{_NUMBER_WORDS})\b)", re.IGNORECASE)


def pico_markup(text: str, *, speed_percent: int, sentence_break_ms: int) -> str:
    """The text in Pico's markup: numbers said part by part, a slower rate overall and a short pause after
    each sentence."""
    plain = " ".join(_MARKUP_CHARS.sub(" ", _NUMBER_HYPHEN.sub(r"\1 ", text)).split())
    pause = f'<break time="{sentence_break_ms}ms"/> '
    return f'<speed level="{speed_percent}">{pause.join(_SENTENCE_END.split(plain))}</speed>'


@dataclass(frozen=True)
class PicoEngine:
    """SVOX Pico French (pico2wave), post-processed with sox. Needs the Debian packages libttspico-utils and sox."""

    language: str = PICO_LANGUAGE
    speed_percent: int = PICO_SPEED_PERCENT
    sentence_break_ms: int = PICO_SENTENCE_BREAK_MS

    @property
    def name(self) -> str:
        return "pico"

    @property
    def voice(self) -> str:
        return f"{self.language}/s{self.speed_percent}/b{self.sentence_break_ms}/n"  # n: numbers unhyphenated

    def check(self) -> None:
        """Raise TtsUnavailable now (at startup) rather than on the first call."""
        _require("pico2wave", PICO_DEBIAN_PACKAGE)
        _require("sox", "sox")

    def markup(self, text: str) -> str:
        return pico_markup(text, speed_percent=self.speed_percent, sentence_break_ms=self.sentence_break_ms)

    def synthesize(self, text: str) -> bytes:
        if not text.strip():
            raise TtsError("nothing to say: the text is empty")
        pico = _require("pico2wave", PICO_DEBIAN_PACKAGE)
        _require("sox", "sox")
        with tempfile.TemporaryDirectory(prefix="hotline-tts-") as folder:
            raw = Path(folder) / "pico.wav"  # pico2wave insists on a .wav name; it writes 16 kHz mono
            phone = Path(folder) / "phone.wav"
            # "--": a sentence starting with "-" is text, not an option.
            _run([pico, "-l", self.language, "-w", str(raw), "--", self.markup(text)], what="pico2wave")
            if not raw.is_file() or raw.stat().st_size == 0:
                raise TtsError("pico2wave produced no audio")
            convert_file_to_phone_wav(raw, phone, trim=True)
            return phone.read_bytes()


_fallbacks_logged: set[str] = set()  # "logged once" per process, however many times the engine is built


def engine_named(name: str) -> PicoEngine | EspeakEngine:
    """The engine the settings name, checked. Pico falls back to espeak-ng when pico2wave is missing (logged once).

    Raises ValueError for an unknown name, TtsUnavailable when no engine can run.
    """
    if name not in ENGINE_NAMES:
        raise ValueError(f"unknown TTS engine {name!r}: choose one of {', '.join(ENGINE_NAMES)}")
    if name == "espeak":
        espeak = EspeakEngine()
        espeak.check()
        return espeak
    pico = PicoEngine()
    try:
        pico.check()
    except TtsUnavailable as missing:
        espeak = EspeakEngine()
        espeak.check()
        if name not in _fallbacks_logged:
            _fallbacks_logged.add(name)
            log.warning(
                "TTS: the Pico French voice is unavailable (%s); prompts are spoken by espeak-ng instead, "
                "which callers understand far less well. Run scripts/setup to install it.",
                missing,
            )
        return espeak
    return pico
