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


async def test_a_supervisors_stream_pushes_the_board_after_each_burst_and_when_idle(monkeypatch: object) -> None:
    import json

    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setattr(event_stream, "WALLBOARD_SETTLE_S", 0.05)
    monkeypatch.setattr(event_stream, "WALLBOARD_IDLE_S", 0.2)
    boards = iter(range(100))

    async def board() -> dict[str, object]:
        return {"n": next(boards)}

    bus = EventBus()
    out = event_stream.stream(bus.subscribe(), board)
    await anext(out)  # the hello
    first = json.loads((await asyncio.wait_for(anext(out), 1)).decode().split("data: ", 1)[1])
    assert first == {"board": {"n": 0}, "events": []}  # the board at once, on (re)connection
    burst = [QueueChanged(entry_id=i, call_id=i, state="waiting") for i in range(2)]
    bus.publish(burst[0])
    assert (await asyncio.wait_for(anext(out), 1)).startswith(b"event: queue.changed")
    bus.publish(burst[1])  # within the settle time: the same board covers it
    assert (await asyncio.wait_for(anext(out), 1)).startswith(b"event: queue.changed")
    pushed = (await asyncio.wait_for(anext(out), 1)).decode()
    assert pushed.startswith("event: wallboard\n")
    data = json.loads(pushed.split("data: ", 1)[1])
    assert data["board"] == {"n": 1} and data["events"] == [e.at.isoformat() for e in burst]
    idle = json.loads((await asyncio.wait_for(anext(out), 1)).decode().split("data: ", 1)[1])
    assert idle == {"board": {"n": 2}, "events": []}
    await out.aclose()
