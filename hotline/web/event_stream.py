"""The server-sent events stream of the bus, written by hand for many listeners: each event is encoded once for
every console (not once per console), the events that are ready are written together in one frame, and a
comment keeps idle connections alive. FastAPI's generic SSE response costs several task switches and a timer per
event per client, which, times 50 consoles, held the event loop for whole seconds at the busiest hour."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from hotline.bus import DomainEvent, Subscription, to_json

PING_S = 15.0  # a comment this often on an idle stream, so proxies keep it open
RECONNECT_MS = 1000  # a console whose stream broke (a restart of the server) comes back this fast
MAX_BATCH = 200  # events written in one frame at most
MEDIA_TYPE = "text/event-stream"
WALLBOARD_SETTLE_S = 0.2  # a supervisor's stream pushes the board this long after a burst's first event
WALLBOARD_IDLE_S = 15.0  # and this often when nothing happens (the last half hour moves on)

Snapshot = Callable[[], Awaitable[dict[str, Any]]]  # the wallboard's JSON snapshot, computed off the event loop


@lru_cache(maxsize=4096)
def frame(event: DomainEvent) -> bytes:
    """One event on the wire (`event: KIND`, `data: JSON`); the same bytes for every subscriber."""
    return f"event: {event.kind}\ndata: {to_json(event)}\n\n".encode()


def wallboard_frame(board: dict[str, Any], events: list[datetime]) -> bytes:
    """The board pushed to a supervisor, with the times of the events it includes (for the delay they see)."""
    data = {"board": board, "events": [e.isoformat() for e in events]}
    return f"event: wallboard\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _drain(subscription: Subscription, first: DomainEvent) -> list[DomainEvent]:
    ready = [first]
    while len(ready) < MAX_BATCH and (more := subscription.get_nowait()) is not None:
        ready.append(more)
    return ready


async def stream(subscription: Subscription, wallboard: Snapshot | None = None) -> AsyncIterator[bytes]:
    """The subscription's events until the client leaves (the response cancels this; it closes the subscription).
    With `wallboard` (a supervisor's stream), also the board itself: at once, WALLBOARD_SETTLE_S after each burst of
    events (one board for the burst), and every WALLBOARD_IDLE_S."""
    try:
        yield f": en direct\nretry: {RECONNECT_MS}\n\n".encode()
        if wallboard is not None:
            yield wallboard_frame(await wallboard(), [])
        while True:
            try:
                async with asyncio.timeout(PING_S if wallboard is None else WALLBOARD_IDLE_S):
                    first = await subscription.get()
            except TimeoutError:
                yield b": ping\n\n" if wallboard is None else wallboard_frame(await wallboard(), [])
                continue
            ready = _drain(subscription, first)
            yield b"".join(frame(e) for e in ready)
            if wallboard is None:
                continue
            await asyncio.sleep(WALLBOARD_SETTLE_S)
            if (more := subscription.get_nowait()) is not None:
                later = _drain(subscription, more)
                yield b"".join(frame(e) for e in later)
                ready += later
            yield wallboard_frame(await wallboard(), [e.at for e in ready])
    finally:
        subscription.close()
