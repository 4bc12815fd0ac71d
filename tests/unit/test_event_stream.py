import asyncio

from hotline.bus import EventBus, QueueChanged, from_json
from hotline.web import event_stream


async def test_the_ready_events_go_out_in_one_frame_each_encoded_once() -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    out = event_stream.stream(subscription)
    hello = await anext(out)
    assert hello.startswith(b": en direct\n") and b"retry: 1000" in hello
    events = [QueueChanged(entry_id=i, call_id=i, state="waiting") for i in range(3)]
    for e in events:
        bus.publish(e)
    batch = (await asyncio.wait_for(anext(out), 1)).decode()
    frames = [f for f in batch.split("\n\n") if f]
    assert len(frames) == 3 and all(f.startswith("event: queue.changed\ndata: ") for f in frames)
    assert [from_json(f.split("data: ", 1)[1]) for f in frames] == events
    assert event_stream.frame(events[0]) is event_stream.frame(events[0]), "encoded once, whoever listens"
    await out.aclose()
    assert subscription.closed and bus.subscriber_count == 0


async def test_an_idle_stream_is_kept_alive(monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setattr(event_stream, "PING_S", 0.05)
    out = event_stream.stream(EventBus().subscribe())
    await anext(out)
    assert await asyncio.wait_for(anext(out), 1) == b": ping\n\n"
    await out.aclose()
