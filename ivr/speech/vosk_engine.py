"""Vosk (Kaldi) streaming recognition at telephone rate, with a warm pool of recognisers.

Any Vosk model folder works (production points HOTLINE_VOSK_MODEL_PATH at e.g. vosk-model-small-fr-0.22).
A recogniser's first utterances cost 3-6x the CPU of later ones, so recognisers are pre-warmed and reused:
a call acquires one from the pool, and close() resets it and gives it back.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ivr.speech.audio import BYTES_PER_SAMPLE, to_pcm16
from ivr.speech.recognizer import TELEPHONE_RATE_HZ, VOSK_POOL_SIZE, Result

VOSK_LOG_LEVEL = -1  # Kaldi logs every utterance to stderr otherwise
WARMUP_SECONDS = 1.0  # audio fed to a new recogniser so the first caller does not pay the cold start
WARMUP_CHUNK_SECONDS = 0.02  # warm up with the same 20 ms frames a call feeds
WARMUP_AMPLITUDE = 0.05  # quiet noise with a voice-band tone: enough for the decoder to do real work
WARMUP_TONE_HZ = 220.0
WARMUP_SEED = 8000  # fixed: warm-up must be deterministic
# A recogniser's memory grows with the new speech it decodes (+100-200 MB a minute measured, Korean model on
# French speech); after this much audio it is replaced by a fresh one, warmed in the background.
RECYCLE_AFTER_AUDIO_S = 300.0


def _warmup_pcm(rate: int) -> bytes:
    rng = np.random.default_rng(WARMUP_SEED)
    t = np.arange(int(rate * WARMUP_SECONDS)) / rate
    signal = WARMUP_AMPLITUDE * (np.sin(2 * np.pi * WARMUP_TONE_HZ * t) + rng.standard_normal(len(t)) * 0.5)
    return to_pcm16(signal.astype(np.float32))


class PooledRecognizer:
    """A KaldiRecognizer with its bookkeeping (for the pool and its tests)."""

    def __init__(self, kaldi: Any, grammar: tuple[str, ...] | None) -> None:
        self.kaldi = kaldi
        self.grammar = grammar
        self.warm = False
        self.uses = 0
        self.audio_s = 0.0  # audio decoded since it was made


class RecognizerPool:
    """Pre-warmed recognisers for one grammar (None: free speech). Grows instead of blocking a caller."""

    def __init__(self, model: Any, sample_rate: int, grammar: tuple[str, ...] | None, size: int) -> None:
        self._model = model
        self._rate = sample_rate
        self._grammar = grammar
        self._idle: queue.SimpleQueue[PooledRecognizer] = queue.SimpleQueue()
        self.created = 0
        self.recycled = 0
        self.recycle_after_s = RECYCLE_AFTER_AUDIO_S
        self._growers = 0  # background warm-ups running
        self._growing_lock = threading.Lock()
        self._settled = threading.Event()
        self._settled.set()
        for _ in range(size):
            self._idle.put(self._new())

    def _new(self) -> PooledRecognizer:
        from vosk import KaldiRecognizer  # type: ignore[import-untyped]

        if self._grammar is None:
            kaldi = KaldiRecognizer(self._model, self._rate)
        else:
            kaldi = KaldiRecognizer(self._model, self._rate, json.dumps(list(self._grammar), ensure_ascii=False))
        kaldi.SetWords(True)  # per-word confidences, averaged into Result.confidence
        rec = PooledRecognizer(kaldi, self._grammar)
        pcm = _warmup_pcm(self._rate)
        step = int(self._rate * WARMUP_CHUNK_SECONDS) * BYTES_PER_SAMPLE
        for start in range(0, len(pcm), step):
            kaldi.AcceptWaveform(pcm[start : start + step])
        kaldi.FinalResult()
        kaldi.Reset()
        rec.warm = True
        self.created += 1
        return rec

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until no spare is being warmed (for tests and benchmarks)."""
        return self._settled.wait(timeout)

    def idle(self) -> int:
        return self._idle.qsize()

    def acquire(self) -> PooledRecognizer:
        """An idle warm recogniser, or a new (warmed) one when all are busy. Taking the last idle one starts
        warming a spare in the background, so the next caller does not pay the cold start either."""
        try:
            rec = self._idle.get_nowait()
        except queue.Empty:
            rec = self._new()
        if self._idle.qsize() == 0:
            self._grow_in_background()
        rec.uses += 1
        return rec

    def _grow_in_background(self, force: bool = False) -> None:
        """Warm one more recogniser in a thread (one at a time unless `force`: a replacement always goes)."""
        with self._growing_lock:
            if self._growers and not force:
                return
            self._growers += 1
            self._settled.clear()

        def grow() -> None:
            try:
                self._idle.put(self._new())
            finally:
                with self._growing_lock:
                    self._growers -= 1
                    if self._growers == 0:
                        self._settled.set()

        threading.Thread(target=grow, name="vosk-pool-grow", daemon=True).start()

    def release(self, rec: PooledRecognizer) -> None:
        """Reset the recogniser (drops any half utterance) and make it available again, or replace it once it
        has decoded RECYCLE_AFTER_AUDIO_S of audio."""
        if rec.audio_s >= self.recycle_after_s:
            self.recycled += 1
            self._grow_in_background(force=True)
            return  # dropped: its memory goes with it
        rec.kaldi.Reset()
        self._idle.put(rec)


class VoskEngine:
    """One Vosk model, loaded once, and a pool of recognisers per grammar."""

    name = "vosk"

    def __init__(self, model_path: Path, *, sample_rate: int = TELEPHONE_RATE_HZ, pool_size: int = VOSK_POOL_SIZE):
        from vosk import Model, SetLogLevel

        if not (model_path / "am").is_dir() and not (model_path / "conf").is_dir():
            raise FileNotFoundError(f"{model_path} is not a Vosk model folder (no am/ or conf/)")
        SetLogLevel(VOSK_LOG_LEVEL)
        self.sample_rate = sample_rate
        self.model: Any = Model(str(model_path))
        self._pool_size = pool_size
        self._pools: dict[tuple[str, ...] | None, RecognizerPool] = {}
        self._lock = threading.Lock()
        self.pool(None)  # free-speech recognisers are warm before the first call

    def pool(self, grammar: Sequence[str] | None) -> RecognizerPool:
        """The pool for this grammar (created and warmed on first use; one recogniser for grammars)."""
        key = tuple(grammar) if grammar else None
        with self._lock:
            if key not in self._pools:
                size = self._pool_size if key is None else 1
                self._pools[key] = RecognizerPool(self.model, self.sample_rate, key, size)
            return self._pools[key]

    def open_stream(self, grammar: Sequence[str] | None = None) -> VoskStream:
        pool = self.pool(grammar)
        return VoskStream(pool, pool.acquire(), self.sample_rate)


def _words_confidence(result: dict[str, Any]) -> float | None:
    words = result.get("result") or []
    if not words:
        return None
    return float(sum(w.get("conf", 0.0) for w in words) / len(words))


class VoskStream:
    """One caller's recogniser. Vosk's own endpointing may close sentences while feeding; final() joins them."""

    def __init__(self, pool: RecognizerPool, rec: PooledRecognizer, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._pool = pool
        self._rec: PooledRecognizer | None = rec
        self._done: list[dict[str, Any]] = []
        self._bytes = 0

    @property
    def recognizer(self) -> PooledRecognizer:
        if self._rec is None:
            raise RuntimeError("stream closed")
        return self._rec

    def feed(self, pcm16: bytes) -> None:
        self._bytes += len(pcm16)
        self.recognizer.audio_s += len(pcm16) / (BYTES_PER_SAMPLE * self.sample_rate)
        kaldi = self.recognizer.kaldi
        if kaldi.AcceptWaveform(pcm16):
            self._done.append(json.loads(kaldi.Result()))

    def partial(self) -> str:
        now = json.loads(self.recognizer.kaldi.PartialResult()).get("partial", "")
        return " ".join(t for t in [*(d.get("text", "") for d in self._done), now] if t)

    def final(self) -> Result:
        parts = [*self._done, json.loads(self.recognizer.kaldi.FinalResult())]
        text = " ".join(p.get("text", "") for p in parts if p.get("text"))
        confs = [c for c in (_words_confidence(p) for p in parts) if c is not None]
        seconds = self._bytes / (BYTES_PER_SAMPLE * self.sample_rate)
        self._done, self._bytes = [], 0
        return Result(text, sum(confs) / len(confs) if confs else None, seconds)

    def reset(self) -> None:
        self.recognizer.kaldi.Reset()
        self._done, self._bytes = [], 0

    def close(self) -> None:
        if self._rec is not None:
            self._pool.release(self._rec)
            self._rec = None
