"""One recogniser interface for every engine, and the factory that picks the engine from the settings.

A call opens a `SpeechStream`, feeds it the caller's audio (16-bit little-endian mono PCM at the engine's
`sample_rate`), reads `partial()` while the caller speaks and `final()` once endpointing says the caller has
finished. Everything here is blocking and CPU-bound: the caller runs it in a worker thread, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hotline.settings import Settings

TELEPHONE_RATE_HZ = 8000  # narrowband telephone audio, what Asterisk's externalMedia sends with slin
# Warm recognisers ready at start (HOTLINE_SPEECH_POOL_SIZE): the calls that may speak at once in a burst. Beyond
# it, a spare is warmed in the background each time the last idle one is taken.
VOSK_POOL_SIZE = 4


@dataclass(frozen=True)
class Result:
    """A finished utterance: the text, the engine's confidence in [0, 1] if it gives one, the audio length in s."""

    text: str
    confidence: float | None
    seconds: float


class SpeechStream(Protocol):
    """The recogniser of one call (or one question in a call)."""

    sample_rate: int

    def feed(self, pcm16: bytes) -> None:
        """Append 16-bit little-endian mono PCM at `sample_rate`."""

    def partial(self) -> str:
        """The text so far ("" for engines that do not stream)."""

    def final(self) -> Result:
        """Finish the utterance and return it; the stream is then ready for the next utterance."""

    def reset(self) -> None:
        """Forget the audio fed since the last final()."""

    def close(self) -> None:
        """Hand the underlying recogniser back (to its pool); the stream must not be used afterwards."""


class Recognizer(Protocol):
    """An engine with its model loaded, shared by every call."""

    name: str
    sample_rate: int

    def open_stream(self, grammar: Sequence[str] | None = None) -> SpeechStream:
        """A stream for one caller. `grammar` restricts the answer to these phrases (short closed answers)."""


def make_recognizer(settings: Settings, *, pool_size: int | None = None) -> Recognizer:
    """Vosk when a Vosk model folder is configured (production), else the embedded French whisper-base.

    `pool_size` is the number of pre-warmed Vosk recognisers (a one-shot command wants 1).
    """
    if settings.vosk_model_path is not None:
        from ivr.speech.vosk_engine import VoskEngine

        size = settings.speech_pool_size if pool_size is None else pool_size
        return VoskEngine(settings.vosk_model_path, sample_rate=TELEPHONE_RATE_HZ, pool_size=size)
    from ivr.speech.models import ensure_whisper_model
    from ivr.speech.whisper_engine import WhisperEngine

    return WhisperEngine(ensure_whisper_model(settings), sample_rate=TELEPHONE_RATE_HZ)
