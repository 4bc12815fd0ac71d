"""The Vosk passes the speech bench times: raw KaldiRecognizer feeds, the call pipeline (a `CallListener` fed one
caller's payloads), and concurrent streams, each on a recogniser the bench picked."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.measure import Run
from bench.speech_samples import FRAME_BYTES_PCM, audio_seconds
from ivr.speech.recognizer import TELEPHONE_RATE_HZ, Recognizer, Result, SpeechStream


def raw_vosk_pass(kaldi: Any, utterances: Sequence[bytes], chunk: int = FRAME_BYTES_PCM) -> None:
    """One KaldiRecognizer fed each utterance in chunks (20 ms by default), then FinalResult: VoskStream, bare."""
    for pcm in utterances:
        for start in range(0, len(pcm), chunk):
            if kaldi.AcceptWaveform(pcm[start : start + chunk]):
                kaldi.Result()
        kaldi.FinalResult()


def timed_raw_pass(kaldi: Any, utterances: Sequence[bytes], chunk: int = FRAME_BYTES_PCM) -> Run:
    cpu, wall = time.thread_time(), time.perf_counter()
    raw_vosk_pass(kaldi, utterances, chunk)
    return Run(audio_seconds(utterances), time.thread_time() - cpu, time.perf_counter() - wall)


class _TapStream:
    """A stream that keeps a copy of what the listener feeds, turn by turn (used on an unmeasured pass)."""

    def __init__(self, inner: SpeechStream, turns: list[bytes]) -> None:
        self.sample_rate = inner.sample_rate
        self._inner = inner
        self._turns = turns
        self._current = bytearray()

    def feed(self, pcm16: bytes) -> None:
        self._current.extend(pcm16)
        self._inner.feed(pcm16)

    def partial(self) -> str:
        return self._inner.partial()

    def final(self) -> Result:
        result = self._inner.final()
        self._turns.append(bytes(self._current))
        self._current.clear()
        return result

    def reset(self) -> None:
        self._current.clear()
        self._inner.reset()

    def close(self) -> None:
        self._inner.close()


class TapRecognizer:
    def __init__(self, inner: Recognizer) -> None:
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self.turns: list[bytes] = []
        self._inner = inner

    def open_stream(self, grammar: Sequence[str] | None = None) -> SpeechStream:
        return _TapStream(self._inner.open_stream(grammar), self.turns)


class _NullStream:
    """Takes audio and recognises nothing: what the listener costs by itself."""

    sample_rate = TELEPHONE_RATE_HZ

    def feed(self, pcm16: bytes) -> None:
        pass

    def partial(self) -> str:
        return ""

    def final(self) -> Result:
        return Result("", None, 0.0)

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


class NullRecognizer:
    name = "null"
    sample_rate = TELEPHONE_RATE_HZ

    def open_stream(self, grammar: Sequence[str] | None = None) -> SpeechStream:
        return _NullStream()


@dataclass(frozen=True)
class PipelineRun:
    run: Run
    turns: int
    texts: list[str]


def pipeline_pass(recognizer: Recognizer, payloads: Sequence[bytes]) -> PipelineRun:
    """A CallListener (no matcher: understanding reads yes/no and "conseiller" only) fed one caller's payloads.

    The payloads are queued before its worker thread starts, so it runs flat out; its CPU time is read in the
    thread itself at each turn's end (the padding after the last turn, a few frames, is not counted).
    """
    from ivr.speech.listener import CallListener, TurnTimings

    turns: list[TurnTimings] = []
    cpu = [0.0]

    def on_turn(timings: TurnTimings) -> None:
        turns.append(timings)
        cpu[0] = time.thread_time()

    listener = CallListener(recognizer, None, lambda _event: None, on_turn=on_turn, name="bench-listener")
    for payload in payloads:
        listener.push_ulaw(payload)
    listener.close()
    wall = time.perf_counter()
    listener.start()
    listener.join()
    wall = time.perf_counter() - wall
    audio = sum(t.audio_ms for t in turns) / 1000
    return PipelineRun(Run(audio, cpu[0], wall), len(turns), [t.text for t in turns])


def concurrent_passes(kaldis: Sequence[Any], utterances: Sequence[bytes], passes: int) -> list[Run]:
    """Each recogniser in its own thread decodes all utterances, `passes` times in step; process CPU per pass."""
    barrier = threading.Barrier(len(kaldis) + 1)
    errors: list[BaseException] = []

    def work(kaldi: Any) -> None:
        try:
            for _ in range(passes):
                barrier.wait()
                raw_vosk_pass(kaldi, utterances)
                barrier.wait()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(k,), name=f"bench-stream-{i}") for i, k in enumerate(kaldis)]
    for t in threads:
        t.start()
    runs = []
    try:
        for _ in range(passes):
            barrier.wait()
            cpu, wall = time.process_time(), time.perf_counter()
            barrier.wait()
            runs.append(
                Run(audio_seconds(utterances) * len(kaldis), time.process_time() - cpu, time.perf_counter() - wall)
            )
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return runs


def settle(pool: Any) -> None:
    """Wait for the pool's background warm-up of a spare, if it does one: nothing else may run while measuring."""
    settle = getattr(pool, "settle", None)
    if callable(settle):
        settle()


class Recognisers:
    """New warm recognisers for the measures, from a pool of the benchmark's own (the engine's warm-up)."""

    def __init__(self, engine: Any) -> None:
        from ivr.speech.vosk_engine import RecognizerPool

        self._engine = engine
        start = time.perf_counter()
        self._pool = RecognizerPool(engine.model, engine.sample_rate, None, 1)
        self.create_s = [time.perf_counter() - start]  # each: creating and warming one recogniser

    def fresh(self) -> Any:
        """A recogniser that has decoded nothing but the warm-up; no warm-up is running when it returns."""
        created, start = self._pool.created, time.perf_counter()
        rec = self._pool.acquire()
        settle(self._pool)
        if self._pool.created > created:
            self.create_s.append(time.perf_counter() - start)
        return rec

    def sink(self) -> Any:
        """A pool that only takes recognisers back (a stream's close), so none is handed out again."""
        from ivr.speech.vosk_engine import RecognizerPool

        return RecognizerPool(self._engine.model, self._engine.sample_rate, None, 0)


class OnRecogniser:
    """The engine's streams (VoskStream), all on one recogniser the benchmark picked."""

    name = "vosk"

    def __init__(self, engine: Any, rec: Any, sink: Any) -> None:
        self.sample_rate: int = engine.sample_rate
        self._rec = rec
        self._sink = sink

    def open_stream(self, grammar: Sequence[str] | None = None) -> SpeechStream:
        from ivr.speech.vosk_engine import VoskStream

        return VoskStream(self._sink, self._rec, self.sample_rate)


def raw_on(rec: Any, utterances: Sequence[bytes], chunk: int = FRAME_BYTES_PCM) -> Run:
    return timed_raw_pass(rec.kaldi, utterances, chunk)


def pipeline_on(engine: Any, recs: Recognisers, rec: Any, payloads: Sequence[bytes]) -> Run:
    return pipeline_pass(OnRecogniser(engine, rec, recs.sink()), payloads).run
