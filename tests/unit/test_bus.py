"""The in-process event bus: fan-out, a bounded queue per subscriber, thread-safe publishing, the JSON form."""

from __future__ import annotations

import asyncio
import threading

import pytest

from hotline import bus
from hotline.bus import EventBus, EventsDropped, TicketCreated


def ticket(n: int) -> TicketCreated:
    return TicketCreated(ticket_id=n, dossier=f"{n:08d}", status="open", call_id=None)


async def test_every_subscriber_gets_every_event_in_order() -> None:
    b = EventBus()
    first, second = b.subscribe(), b.subscribe()
    for n in range(3):
        b.publish(ticket(n))
    for sub in (first, second):
        got = [await asyncio.wait_for(sub.get(), 1) for _ in range(3)]
        assert [e.ticket_id for e in got] == [0, 1, 2]  # type: ignore[attr-defined]


async def test_a_slow_subscriber_loses_its_oldest_events_and_is_told_so() -> None:
    b = EventBus()
    slow = b.subscribe(maxsize=3)
    fast = b.subscribe()
    for n in range(10):
        b.publish(ticket(n))  # never blocks, however far behind `slow` is
    dropped = await slow.get()
    assert isinstance(dropped, EventsDropped) and dropped.count == 7
    assert [(await slow.get()).ticket_id for _ in range(3)] == [7, 8, 9]  # type: ignore[attr-defined]
    assert slow.get_nowait() is None
    assert [(await fast.get()).ticket_id for _ in range(10)] == list(range(10))  # type: ignore[attr-defined]


async def test_publishing_from_a_worker_thread_delivers_on_the_subscribers_loop() -> None:
    b = EventBus()
    sub = b.subscribe()
    loop_thread = threading.get_ident()
    seen: list[int] = []

    original = sub.put

    def put(event: bus.DomainEvent) -> None:
        seen.append(threading.get_ident())
        original(event)

    sub.put = put  # type: ignore[method-assign]
    await asyncio.to_thread(b.publish, ticket(1))
    event = await asyncio.wait_for(sub.get(), 1)
    assert isinstance(event, TicketCreated) and seen == [loop_thread]


async def test_a_closed_subscription_gets_nothing_more() -> None:
    b = EventBus()
    sub = b.subscribe()
    sub.close()
    b.publish(ticket(1))
    assert sub.get_nowait() is None and b.subscriber_count == 0


async def test_a_failing_subscriber_does_not_stop_the_others() -> None:
    b = EventBus()
    broken, ok = b.subscribe(), b.subscribe()

    def fail(event: bus.DomainEvent) -> None:
        raise RuntimeError("broken subscriber")

    broken.deliver = fail  # type: ignore[method-assign]
    b.publish(ticket(1))
    assert isinstance(await asyncio.wait_for(ok.get(), 1), TicketCreated)


@pytest.mark.parametrize(
    "event",
    [
        bus.CallStarted(call_id=1, channel_id="1700.1", crisis_mode=True),
        bus.CallEnded(call_id=1, outcome="self_served", topic="mairie", dossier="12345678"),
        ticket(4),
        bus.TicketStatusChanged(
            ticket_id=4, dossier="00000004", from_status="open", to_status="resolved", by_agent_id=None, reason="x"
        ),
        bus.AgentStateChanged(agent_id=2, from_state="offline", to_state="available", reason=None),
        bus.CrisisChanged(active=True, message="Coupure d'eau à Vauclair.", by="superviseur1"),
    ],
)
def test_json_round_trip_for_sharing_between_processes(event: bus.DomainEvent) -> None:
    assert bus.from_json(bus.to_json(event)) == event


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event kind"):
        bus.from_json('{"kind": "nope", "at": "2026-12-01T09:00:00+00:00"}')
    with pytest.raises(ValueError, match=r"bad ticket\.created"):
        bus.from_json('{"kind": "ticket.created", "at": "2026-12-01T09:00:00+00:00"}')


def test_every_event_type_has_a_distinct_kind() -> None:
    kinds = [cls.kind for cls in bus.EVENT_TYPES.values()]
    assert len(kinds) == len(set(kinds)) and "" not in kinds


async def test_from_a_thread_each_loop_is_woken_once_for_all_its_subscribers() -> None:
    b = EventBus()
    subs = [b.subscribe() for _ in range(50)]
    loop = asyncio.get_running_loop()
    wakes: list[int] = []
    original = loop.call_soon_threadsafe

    def counted(*args: object, **kwargs: object) -> object:
        if getattr(args[0], "__name__", "") == "_deliver_all":  # not asyncio.to_thread's own wake-up
            wakes.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
    try:
        await asyncio.to_thread(b.publish, ticket(7))
    finally:
        loop.call_soon_threadsafe = original  # type: ignore[method-assign]
    got = [await asyncio.wait_for(s.get(), 1) for s in subs]
    assert len(wakes) == 1 and all(isinstance(e, TicketCreated) for e in got)


def test_every_event_kind_round_trips_through_json() -> None:
    kinds = {cls.kind for cls in bus.EVENT_TYPES.values()}
    published = {c.kind for c in vars(bus).values() if isinstance(c, type) and issubclass(c, bus.DomainEvent)
                 and c.kind and c is not bus.EventsDropped}  # fmt: skip
    assert published <= kinds, sorted(published - kinds)
