"""One call's ear: the caller's telephone audio in, turn events out.

The event loop only hands over RTP payloads (`push_ulaw`, a queue put). A worker thread per call decodes them,
runs the endpointer, feeds the recogniser, and understands the finished turn; its results go back to the loop
through `deliver` (loop.call_soon_threadsafe in the service). Vosk and CTranslate2 release the GIL while decoding.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ivr.flow.commands import Expect
from ivr.flow.events import Event, SpeechStarted
from ivr.speech.endpointing import DEFAULT_THRESHOLDS, FRAME_MS, Endpointer, TurnEventKind, TurnThresholds
from ivr.speech.g711 import ulaw_to_pcm16
from ivr.speech.recognizer import TELEPHONE_RATE_HZ, Recognizer, SpeechStream
from ivr.speech.understanding import understand
from ivr.speech.vocabulary import YES_NO_GRAMMAR
from kb.matcher import Matcher

log = logging.getLogger(__name__)

FRAME_BYTES_ULAW = TELEPHONE_RATE_HZ * FRAME_MS // 1000  # one byte per sample
FEED_CHUNK_MS = 40  # audio goes to the recogniser in chunks this long: fewer calls, and little left at turn end
_STOP = object()


@dataclass(frozen=True)
class TurnTimings:
    """One turn, for the call's timeline and the benchmark. Times in ms."""

    engine: str
    expect: str
    audio_ms: int  # speech sent to the recogniser (pre-roll included)
    endpoint_ms: float  # from the end of speech to the turn's end being detected (the end-of-turn silence)
    recognize_ms: float  # final() of the recogniser, wall time
    match_ms: float  # understanding the text (matcher), wall time
    text: str
    confidence: float | None
    ended_at: float = 0.0  # time.monotonic() when the end of the turn was detected
    backlog_ms: float = 0.0  # how long the packet that ended the turn waited for this thread (CPU starvation)


class CallListener:
    """Runs one worker thread; `deliver` receives SpeechStarted and SpeechRecognized, `on_turn` the timings."""

    def __init__(
        self,
        recognizer: Recognizer,
        matcher: Matcher | None,
        deliver: Callable[[Event], None],
        on_turn: Callable[[TurnTimings], None] | None = None,
        thresholds: TurnThresholds = DEFAULT_THRESHOLDS,
        name: str = "listener",
        pinned: Callable[[], str | None] | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.matcher = matcher
        self.pinned = pinned  # crisis mode's pinned entry, read at each turn
        self.deliver = deliver
        self.on_turn = on_turn
        self.endpointer = Endpointer(thresholds)
        self.expect = Expect.FREE
        self.frames = 0  # 20 ms frames received
        self._preroll: deque[bytes] = deque(maxlen=max(1, thresholds.preroll_ms // FRAME_MS))
        self._pending = bytearray()
        self._stream: SpeechStream | None = None
        self._stream_expect: Expect | None = None
        self._turn_bytes = 0
        self._inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._carry = b""
        self._received_at = 0.0  # when the packet being processed reached the process
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # ---- event loop side (thread-safe, never blocks)
    def start(self) -> None:
        self._inbox.put(Expect.FREE)  # takes a warm recogniser now, not when the caller starts speaking
        self._thread.start()

    def push_ulaw(self, payload: bytes) -> None:
        self._inbox.put((time.monotonic(), payload))

    def listen_for(self, expect: Expect) -> None:
        self._inbox.put(expect)

    def close(self) -> None:
        self._inbox.put(_STOP)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # ---- worker thread
    def _run(self) -> None:
        try:
            while True:
                item = self._inbox.get()
                if item is _STOP:
                    break
                if isinstance(item, Expect):
                    self.expect = item
                    if not self.endpointer.in_speech:
                        self._ensure_stream()
                elif isinstance(item, tuple):
                    self._received_at, payload = item
                    self._audio(payload)
        except Exception:
            log.exception("speech listener failed; the call carries on with keys")
        finally:
            if self._stream is not None:
                self._stream.close()
                self._stream = None

    def _audio(self, ulaw: bytes) -> None:
        data = self._carry + ulaw
        whole = len(data) - len(data) % FRAME_BYTES_ULAW
        self._carry = data[whole:]
        for start in range(0, whole, FRAME_BYTES_ULAW):
            self._frame(ulaw_to_pcm16(data[start : start + FRAME_BYTES_ULAW]))

    def _frame(self, pcm: bytes) -> None:
        self.frames += 1
        was_speaking = self.endpointer.in_speech
        event = self.endpointer.push(pcm)
        if event is None:
            if was_speaking:
                self._feed(pcm)  # the end-of-turn silence too: fed now, it is not left to final()
            else:
                self._preroll.append(pcm)
            return
        if event.kind is TurnEventKind.SPEECH_STARTED:
            self._ensure_stream()  # held since the call started; final() left it ready for this turn
            for old in self._preroll:
                self._feed(old)
            self._preroll.clear()
            self._feed(pcm)
            self.deliver(SpeechStarted())
        else:
            self._feed(pcm)
            silence_ms = event.at_ms - (event.speech_end_ms or event.at_ms)
            self._finish_turn(silence_ms)

    def _ensure_stream(self) -> None:
        """A stream for what is expected now (the one held is handed back if it was for something else)."""
        if self._stream is not None and self._stream_expect is self.expect:
            return
        if self._stream is not None:
            self._stream.close()
        grammar = YES_NO_GRAMMAR if self.expect is Expect.YES_NO else None
        self._stream = self.recognizer.open_stream(grammar)
        self._stream_expect = self.expect
        self._turn_bytes = 0

    def _feed(self, pcm: bytes) -> None:
        self._pending.extend(pcm)
        if len(self._pending) >= FEED_CHUNK_MS * TELEPHONE_RATE_HZ * 2 // 1000:
            self._flush()

    def _flush(self) -> None:
        if self._pending and self._stream is not None:
            self._stream.feed(bytes(self._pending))
            self._turn_bytes += len(self._pending)
        self._pending.clear()

    def _finish_turn(self, silence_ms: int) -> None:
        self._flush()
        assert self._stream is not None
        ended_at = time.monotonic()
        backlog_ms = (ended_at - self._received_at) * 1000
        started = time.perf_counter()
        result = self._stream.final()
        recognized = time.perf_counter()
        text = "" if result.text.strip() == "[unk]" else result.text.strip()
        matcher = self.matcher if self.expect is Expect.FREE else None
        event = understand(text, matcher, self.pinned() if self.pinned is not None else None)
        matched = time.perf_counter()
        audio_ms = self._turn_bytes * 1000 // (2 * TELEPHONE_RATE_HZ)
        self._turn_bytes = 0
        if self.on_turn is not None:
            self.on_turn(
                TurnTimings(
                    engine=self.recognizer.name,
                    expect=self.expect.value,
                    audio_ms=audio_ms,
                    endpoint_ms=float(silence_ms),
                    recognize_ms=(recognized - started) * 1000,
                    match_ms=(matched - recognized) * 1000,
                    text=text,
                    confidence=result.confidence,
                    ended_at=ended_at,
                    backlog_ms=backlog_ms,
                )
            )
        self.deliver(event)  # after the timings: the session knows when the turn ended before it answers
