"""The server-sent events stream of the bus, written by hand for many listeners: each event is encoded once for
every console (not once per console), the events that are ready are written together in one frame, and a
comment keeps idle connections alive. FastAPI's generic SSE response costs several task switches and a timer per
event per client, which, times 50 consoles, held the event loop for whole seconds at the busiest hour."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import lru_cache

from hotline.bus import DomainEvent, Subscription, to_json

PING_S = 15.0  # a comment this often on an idle stream, so proxies keep it open
RECONNECT_MS = 1000  # a console whose stream broke (a restart of the server) comes back this fast
MAX_BATCH = 200  # events written in one frame at most
MEDIA_TYPE = "text/event-stream"


@lru_cache(maxsize=4096)
def frame(event: DomainEvent) -> bytes:
    """One event on the wire (`event: KIND`, `data: JSON`); the same bytes for every subscriber."""
    return f"event: {event.kind}\ndata: {to_json(event)}\n\n".encode()


async def stream(subscription: Subscription) -> AsyncIterator[bytes]:
    """The subscription's events until the client leaves (the response cancels this; it closes the subscription)."""
    try:
        yield f": en direct\nretry: {RECONNECT_MS}\n\n".encode()
        while True:
            try:
                async with asyncio.timeout(PING_S):
                    first = await subscription.get()
            except TimeoutError:
                yield b": ping\n\n"
                continue
            frames = [frame(first)]
            while len(frames) < MAX_BATCH and (more := subscription.get_nowait()) is not None:
                frames.append(frame(more))
            yield b"".join(frames)
    finally:
        subscription.close()
