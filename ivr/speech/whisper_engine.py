"""faster-whisper (whisper-base, CTranslate2 int8 on CPU): the embedded French default when no Vosk model is set.

Whisper does not stream: a stream buffers the utterance and decodes it whole on final(), so partial() is
always "". Endpointing happens before (the caller decides when the utterance ends).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ivr.speech.audio import BYTES_PER_SAMPLE, from_pcm16, resample
from ivr.speech.recognizer import TELEPHONE_RATE_HZ, Result
from ivr.speech.understanding import plain_words
from ivr.speech.vocabulary import UNKNOWN_WORD

WHISPER_RATE_HZ = 16000  # Whisper's feature extractor works at 16 kHz only
WHISPER_LANGUAGE = "fr"  # French callers; detection on 1-2 s of telephone audio is unreliable
WHISPER_BEAM_SIZE = 5  # measured on 22 fr prompts at 8 kHz: WER 11.4% at beam 5 against 15.1% at beam 1
WHISPER_COMPUTE_TYPE = "int8"  # CPU: int8 halves the time of float32 at no measurable WER cost
WHISPER_CPU_THREADS = 0  # 0: CTranslate2 picks (all cores); one decode at a time uses them all
WHISPER_MIN_SECONDS = 0.1  # below this there is nothing to decode; avoids hallucinated text on a click


def snap_to_grammar(text: str, grammar: Sequence[str]) -> str:
    """The first grammar phrase said as whole words in `text` (accents and case ignored), else "[unk]"."""
    said = f" {plain_words(text)} "
    for phrase in grammar:
        if phrase != UNKNOWN_WORD and f" {plain_words(phrase)} " in said:
            return phrase
    return UNKNOWN_WORD if UNKNOWN_WORD in grammar else ""


class WhisperEngine:
    """whisper-base loaded once; `open_stream` gives one buffering stream per call."""

    name = "whisper"

    def __init__(self, model_dir: Path, *, sample_rate: int = TELEPHONE_RATE_HZ, beam_size: int = WHISPER_BEAM_SIZE):
        from faster_whisper import WhisperModel  # type: ignore[import-untyped]

        self.sample_rate = sample_rate
        self.beam_size = beam_size
        self._model: Any = WhisperModel(
            str(model_dir),
            device="cpu",
            compute_type=WHISPER_COMPUTE_TYPE,
            cpu_threads=WHISPER_CPU_THREADS,
            local_files_only=True,
        )
        self._lock = threading.Lock()  # one decode at a time: each already uses every core

    def open_stream(self, grammar: Sequence[str] | None = None) -> WhisperStream:
        return WhisperStream(self, list(grammar) if grammar else None)

    def decode(self, pcm16: bytes) -> Result:
        """Decode one whole utterance of PCM at `sample_rate`."""
        seconds = len(pcm16) / (BYTES_PER_SAMPLE * self.sample_rate)
        if seconds < WHISPER_MIN_SECONDS:
            return Result("", None, seconds)
        audio = resample(from_pcm16(pcm16), self.sample_rate, WHISPER_RATE_HZ)
        with self._lock:
            segments, _info = self._model.transcribe(
                audio.astype(np.float32),
                language=WHISPER_LANGUAGE,
                beam_size=self.beam_size,
                condition_on_previous_text=False,
                without_timestamps=True,
                vad_filter=False,
            )
            segs = list(segments)
        text = " ".join(s.text.strip() for s in segs).strip()
        confidence = None
        if segs:
            confidence = sum(math.exp(s.avg_logprob) for s in segs) / len(segs)
        return Result(text, confidence, seconds)


class WhisperStream:
    """Buffers one utterance; decodes it on final()."""

    def __init__(self, engine: WhisperEngine, grammar: list[str] | None) -> None:
        self.sample_rate = engine.sample_rate
        self._engine = engine
        self._grammar = grammar
        self._buffer = bytearray()

    def feed(self, pcm16: bytes) -> None:
        self._buffer.extend(pcm16)

    def partial(self) -> str:
        return ""  # Whisper decodes whole utterances only

    def final(self) -> Result:
        result = self._engine.decode(bytes(self._buffer))
        self._buffer.clear()
        if self._grammar is not None:
            return Result(snap_to_grammar(result.text, self._grammar), result.confidence, result.seconds)
        return result

    def reset(self) -> None:
        self._buffer.clear()

    def close(self) -> None:
        self._buffer.clear()
