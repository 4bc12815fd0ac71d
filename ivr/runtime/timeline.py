"""Call timeline steps are written by one background writer, in batches, off the calls' critical path.

A call's flow must not wait for the database to record "menu_choice" before it plays the answer: with 200
calls at once, waiting per step made key presses seconds late. Steps are queued in order and written in
batches of up to TIMELINE_BATCH in one transaction; `flush()` waits until everything queued so far is
written (a call is closed only after its steps are in).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hotline.storage.models import utc_now
from ivr.runtime.store import CallStore

log = logging.getLogger(__name__)

TIMELINE_BATCH = 200  # rows a transaction; larger batches only lengthen the write lock
WRITE_ATTEMPTS = 5
RETRY_S = 1.0

Step = tuple[int, str, dict[str, Any], datetime]  # call id, kind, data, when it happened
StepObserver = Callable[[str, dict[str, Any]], None]  # e.g. the metrics: each step's kind and data, at once


class TimelineWriter:
    def __init__(self, store: CallStore, observe: StepObserver | None = None) -> None:
        self.store = store
        self.observe = observe
        self._queue: asyncio.Queue[Step] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def record(self, call_id: int, kind: str, data: dict[str, Any], at: datetime | None = None) -> None:
        """Queue a step; `at` (default now) is when it happened, not when the batch is written."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="timeline-writer")
        self._queue.put_nowait((call_id, kind, data, at or utc_now()))
        if self.observe is not None:
            try:
                self.observe(kind, data)
            except Exception:  # counting a step must never cost the call
                log.exception("timeline: the observer failed on %s", kind)

    async def flush(self) -> None:
        """Wait until every step queued so far is written."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < TIMELINE_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[Step]) -> None:
        for attempt in range(WRITE_ATTEMPTS):
            try:
                await asyncio.to_thread(self.store.record_events, batch)
                return
            except Exception:
                log.exception("timeline: writing %d steps failed (attempt %d)", len(batch), attempt + 1)
                await asyncio.sleep(RETRY_S * (attempt + 1))
        log.error("timeline: %d steps dropped after %d attempts: %s", len(batch), WRITE_ATTEMPTS, batch)
