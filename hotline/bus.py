"""Domain events and the in-process bus that fans them out.

Services publish an event only after their transaction has committed, so a subscriber never sees a change that
was rolled back. Each subscriber has its own bounded queue: a slow one (a browser on a bad line) loses its oldest
events and is told how many with an `EventsDropped`, and never holds up a call or another subscriber.

Publishing is safe from any thread (the IVR's database work runs in worker threads): delivery always happens on
the subscriber's own event loop.

Every event has a JSON form (`to_json` / `from_json`, by its `kind`), so that several processes can later share
the bus through PostgreSQL LISTEN/NOTIFY: a process publishes locally and NOTIFYs the JSON; the others decode it
and publish it to their own subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_SIZE = 1000  # a wallboard a few seconds behind at the busiest hour still catches up


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Something that happened and was committed. `kind` names it on the wire."""

    kind: ClassVar[str] = ""
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class CallStarted(DomainEvent):
    kind: ClassVar[str] = "call.started"
    call_id: int
    channel_id: str
    crisis_mode: bool


@dataclass(frozen=True, kw_only=True)
class CallEnded(DomainEvent):
    kind: ClassVar[str] = "call.ended"
    call_id: int
    outcome: str
    topic: str | None
    dossier: str


@dataclass(frozen=True, kw_only=True)
class TicketCreated(DomainEvent):
    kind: ClassVar[str] = "ticket.created"
    ticket_id: int
    dossier: str
    status: str
    call_id: int | None


@dataclass(frozen=True, kw_only=True)
class TicketStatusChanged(DomainEvent):
    kind: ClassVar[str] = "ticket.status_changed"
    ticket_id: int
    dossier: str
    from_status: str
    to_status: str
    by_agent_id: int | None
    reason: str | None


@dataclass(frozen=True, kw_only=True)
class QueueChanged(DomainEvent):
    """A caller joined, was offered, answered, or left the queue."""

    kind: ClassVar[str] = "queue.changed"
    entry_id: int
    call_id: int
    state: str


@dataclass(frozen=True, kw_only=True)
class CallbackChanged(DomainEvent):
    """A callback was requested, is being placed, or an attempt ended (`result`)."""

    kind: ClassVar[str] = "callback.changed"
    callback_id: int
    ticket_id: int
    state: str
    agent_id: int | None = None
    result: str | None = None


@dataclass(frozen=True, kw_only=True)
class AgentStateChanged(DomainEvent):
    kind: ClassVar[str] = "agent.state_changed"
    agent_id: int
    from_state: str
    to_state: str
    reason: str | None


@dataclass(frozen=True, kw_only=True)
class CrisisChanged(DomainEvent):
    kind: ClassVar[str] = "crisis.changed"
    active: bool
    message: str | None
    by: str


@dataclass(frozen=True, kw_only=True)
class EventsDropped(DomainEvent):
    """Told to a subscriber that fell behind: `count` events were dropped before this one."""

    kind: ClassVar[str] = "bus.events_dropped"
    count: int


EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.kind: cls
    for cls in (
        CallStarted,
        CallEnded,
        TicketCreated,
        TicketStatusChanged,
        QueueChanged,
        CallbackChanged,
        AgentStateChanged,
        CrisisChanged,
    )
}


def to_json(event: DomainEvent) -> str:
    data = dataclasses.asdict(event)
    data["at"] = event.at.isoformat()
    return json.dumps({"kind": event.kind, **data}, ensure_ascii=False)


def from_json(text: str) -> DomainEvent:
    """The event `to_json` wrote; ValueError for an unknown kind or missing fields."""
    data: dict[str, Any] = json.loads(text)
    kind = data.pop("kind", None)
    cls = EVENT_TYPES.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    data["at"] = datetime.fromisoformat(data["at"])
    try:
        return cls(**data)
    except TypeError as exc:
        raise ValueError(f"bad {kind} event: {exc}") from exc


class Subscription:
    """One subscriber's bounded queue, filled on its own event loop. Iterate it, or `await get()`."""

    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop, maxsize: int) -> None:
        self._bus = bus
        self._loop = loop
        self._events: deque[DomainEvent] = deque()
        self._maxsize = maxsize
        self._dropped = 0
        self._ready = asyncio.Event()
        self.closed = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def put(self, event: DomainEvent) -> None:  # on self._loop
        if len(self._events) >= self._maxsize:
            self._events.popleft()
            self._dropped += 1
        self._events.append(event)
        self._ready.set()

    def get_nowait(self) -> DomainEvent | None:
        if self._dropped:
            count, self._dropped = self._dropped, 0
            return EventsDropped(count=count)
        if not self._events:
            self._ready.clear()
            return None
        return self._events.popleft()

    async def get(self) -> DomainEvent:
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            await self._ready.wait()

    def __aiter__(self) -> AsyncIterator[DomainEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[DomainEvent]:
        while not self.closed:
            yield await self.get()

    def close(self) -> None:
        self.closed = True
        self._bus.unsubscribe(self)


class EventBus:
    """In-process fan-out of committed domain events."""

    def __init__(self) -> None:
        self._subscribers: list[Subscription] = []
        self._lock = threading.Lock()

    def subscribe(self, maxsize: int = SUBSCRIBER_QUEUE_SIZE) -> Subscription:
        """A new subscription, delivered on the running event loop (call it from a coroutine)."""
        subscription = Subscription(self, asyncio.get_running_loop(), maxsize)
        with self._lock:
            self._subscribers.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)

    def publish(self, event: DomainEvent) -> None:
        """Hand `event` to every subscriber; never blocks, never raises (a broken subscriber is logged). From
        another thread, each subscribers' loop is woken once for all its subscribers, not once for each."""
        with self._lock:
            subscribers = list(self._subscribers)
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        elsewhere: dict[asyncio.AbstractEventLoop, list[Subscription]] = {}
        for subscription in subscribers:
            if subscription.loop is running:
                self._deliver_all([subscription], event)
            else:
                elsewhere.setdefault(subscription.loop, []).append(subscription)
        for loop, group in elsewhere.items():
            if not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # closed meanwhile
                    loop.call_soon_threadsafe(self._deliver_all, group, event)

    @staticmethod
    def _deliver_all(group: list[Subscription], event: DomainEvent) -> None:
        for subscription in group:
            try:
                if not subscription.closed:
                    subscription.put(event)
            except Exception:
                log.exception("bus: delivering %s failed", event.kind)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)
