"""A second IvrApp on the same database and the same (fake) Asterisk takes over what a killed one left:
calls still in Stasis are resumed, rows of calls that ended meanwhile are closed with their ticket, the
speech taps' leftover channels and bridges are cleared. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import pytest
from sqlmodel import col, select

from hotline.domain.enums import CallOutcome, TicketStatus
from hotline.storage.db import make_engine, session_scope, upgrade_database
from hotline.storage.models import Call, CallEvent, Ticket
from ivr.ari.client import AriConfig
from ivr.flow.call_flow import CallFlow
from ivr.flow.menu import DEFAULT_MENU_FILE, load_menu
from ivr.runtime import speech_tap
from ivr.runtime.ivr_app import IvrApp
from ivr.runtime.session import PLAYBACK_VARIABLE
from ivr.runtime.store import CallStore
from tests.integration.fake_ari import FakeAri, FakeSpeechAri, dtmf, stasis_end
from tests.integration.test_ivr_app import CHANNEL, KB, LabelMedia, settle
from tests.integration.test_speech_runtime import Rig, matcher, rig, until  # noqa: F401 (fixtures)

MENU = load_menu(DEFAULT_MENU_FILE, KB.ids())
ACTIONS = {e.id: e.action for e in KB.entries}
OTHER = "1732200000.7"
CLOSE_TIMEOUT_S = 10.0


def new_app(ari: FakeAri, store: CallStore) -> IvrApp:
    return IvrApp(
        AriConfig("http://127.0.0.1:1/ari", "u", "p", "hotline"),
        ari,
        LabelMedia(),
        store,
        lambda: CallFlow(MENU, ACTIONS),
    )


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[CallStore]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    yield CallStore(engine, KB)
    engine.dispose()


async def kill(app: IvrApp) -> None:
    """As kill -9 would: the app stops at once, writing nothing more (Asterisk keeps the channels)."""
    for session in app.sessions.values():
        session.call_id = None  # its closing would write to the database: a killed process does not
        session._row = None  # nor would it learn the row's id again to close it
        if session._worker is not None:
            session._worker.cancel()
    for task in list(app._tasks):
        task.cancel()
    await asyncio.sleep(0.01)


async def wait_for(condition: Callable[[], bool], what: str) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), CLOSE_TIMEOUT_S)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def resumed(app: IvrApp) -> None:
    """Every adopted call runs its flow (its resume is a task of its own), and has handled what it was fed."""
    await wait_for(lambda: all(s._worker is not None for s in app.sessions.values()), "the resumed calls")
    await settle(app)


def call_rows(store: CallStore) -> list[Call]:
    with session_scope(store.engine, write=False) as s:
        rows = list(s.exec(select(Call).order_by(col(Call.id))).all())
        for row in rows:
            s.expunge(row)
        return rows


def kinds_of(store: CallStore, call_id: int | None) -> list[str]:
    with session_scope(store.engine, write=False) as s:
        query = select(CallEvent).where(CallEvent.call_id == call_id).order_by(col(CallEvent.id))
        return [e.kind for e in s.exec(query)]


def last_event_at(store: CallStore, call_id: int) -> datetime:
    with session_scope(store.engine, write=False) as s:
        query = select(CallEvent).where(CallEvent.call_id == call_id).order_by(col(CallEvent.at).desc())
        event = s.exec(query).first()
        assert event is not None
        return event.at


def ticket_of(store: CallStore, call_id: int | None) -> Ticket:
    with session_scope(store.engine, write=False) as s:
        ticket = s.exec(select(Ticket).where(Ticket.call_id == call_id)).one()
        s.expunge(ticket)
        return ticket


async def test_a_new_session_keeps_its_playback_id_on_the_channel(store: CallStore) -> None:
    ari = FakeAri()
    app = new_app(ari, store)
    await app.handle(ari.stasis_start(CHANNEL))
    await settle(app)
    assert ari.variables[(CHANNEL, PLAYBACK_VARIABLE)] == ari.last_playback(CHANNEL)


async def test_a_call_still_held_is_resumed_by_the_next_app_and_ends_with_a_ticket(store: CallStore) -> None:
    ari = FakeAri()
    first = new_app(ari, store)
    await first.on_connected()
    await first.handle(ari.stasis_start(CHANNEL))
    await settle(first)
    await first.handle(ari.finish(ari.last_playback(CHANNEL)))  # the greeting; the menu is playing
    await settle(first)
    left_playing = ari.last_playback(CHANNEL)
    [row] = call_rows(store)
    await kill(first)

    second = new_app(ari, store)
    before = len(ari.requests)
    await second.on_connected()
    await resumed(second)
    after = ari.requests[before:]
    assert ("stop", left_playing) in after  # cut at once: Asterisk would play the apology after it
    assert ("answer", CHANNEL) not in after
    assert ari.plays(CHANNEL)[-1] == ("prompt:call_resumed", "prompt:menu")
    assert after.index(("stop", left_playing)) < next(i for i, r in enumerate(after) if r[0] == "play")
    session = second.sessions[CHANNEL]
    assert session.call_id == row.id  # the call's row is reused
    # The old playback's end reaches the new app: it is not the new flow's.
    await second.handle(ari.finish(left_playing))
    await settle(second)
    assert ari.plays(CHANNEL)[-1] == ("prompt:call_resumed", "prompt:menu")
    await second.handle(ari.finish(ari.last_playback(CHANNEL)))
    await second.handle(dtmf(CHANNEL, "1"))
    await settle(second)
    assert ari.plays(CHANNEL)[-1] == ("faq:mairie.horaires",)
    await second.handle(stasis_end(CHANNEL))
    await settle(second)
    [closed] = call_rows(store)
    assert closed.id == row.id and closed.ended_at is not None
    assert closed.outcome is CallOutcome.ABANDONED and closed.faq_id == "mairie.horaires"
    kinds = kinds_of(store, row.id)
    assert kinds[0] == "stasis_start" and "call_resumed" in kinds and kinds[-1] == "hangup"
    assert kinds.count("stasis_start") == 1
    assert ticket_of(store, row.id).outcome is CallOutcome.ABANDONED


async def test_a_held_call_without_a_row_gets_one(store: CallStore) -> None:
    ari = FakeAri()
    ari.stasis_start(CHANNEL)  # the previous app died before writing the row
    app = new_app(ari, store)
    await app.on_connected()
    await resumed(app)
    [row] = call_rows(store)
    assert row.channel_id == CHANNEL and row.outcome is CallOutcome.IN_PROGRESS
    assert ari.plays(CHANNEL)[-1] == ("prompt:call_resumed", "prompt:menu")


async def test_calls_that_ended_while_the_app_was_down_are_closed_with_their_ticket(store: CallStore) -> None:
    ari = FakeAri()
    abandoned = await asyncio.to_thread(store.start_call, "gone-1", "0611111111", "0800123456")
    await asyncio.to_thread(store.record_event, abandoned, "menu_choice", {"digit": "1"})
    await asyncio.to_thread(store.record_event, abandoned, "faq_answered", {"faq_id": "mairie.horaires"})
    helped = await asyncio.to_thread(store.start_call, "gone-2", "0622222222", "0800123456")
    await asyncio.to_thread(store.record_event, helped, "confirm", {"faq_id": "mairie.horaires", "helped": 1})
    callback = await asyncio.to_thread(store.start_call, "gone-3", "0633333333", "0800123456")
    await asyncio.to_thread(store.create_ticket, callback, "caller_asked", None, True)
    last_steps = {call_id: last_event_at(store, call_id) for call_id in (abandoned, helped, callback)}

    app = new_app(ari, store)
    await app.on_connected()
    await app.handle(ari.stasis_start(OTHER))  # a new call, right after the start: not the previous run's
    await wait_for(lambda: all(r.ended_at is not None for r in call_rows(store) if r.channel_id != OTHER), "closing")
    await settle(app)
    rows = {r.channel_id: r for r in call_rows(store)}
    assert rows[OTHER].outcome is CallOutcome.IN_PROGRESS and rows[OTHER].ended_at is None
    expected = {
        "gone-1": (CallOutcome.ABANDONED, TicketStatus.CLOSED),
        "gone-2": (CallOutcome.SELF_SERVED, TicketStatus.RESOLVED),
        "gone-3": (CallOutcome.CALLBACK_REQUESTED, TicketStatus.WAITING_CALLBACK),
    }
    for channel_id, (outcome, status) in expected.items():
        row = rows[channel_id]
        assert row.id is not None
        assert row.outcome is outcome, channel_id
        assert row.ended_at == last_steps[row.id], channel_id  # its last known step, not the restart
        ticket = ticket_of(store, row.id)
        assert ticket.outcome is outcome and ticket.status is status, channel_id
        assert kinds_of(store, row.id)[-2:] == ["closed_after_restart", "hangup"]
    assert rows["gone-1"].faq_id == "mairie.horaires" and rows["gone-1"].topic == "mairie"


async def test_a_held_call_goes_to_the_fallback_when_the_database_is_gone(store: CallStore) -> None:
    ari = FakeAri()
    ari.stasis_start(CHANNEL)
    store.engine.dispose()
    store.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    app = new_app(ari, store)
    await app.on_connected()
    await wait_for(lambda: ("continue", CHANNEL, "hotline-fallback") in ari.requests, "the fallback")
    assert app.sessions == {}


async def test_leftover_speech_channels_are_cleared_and_the_resumed_call_opens_its_own(rig: Rig) -> None:  # noqa: F811
    ari: FakeSpeechAri = rig.ari
    store = rig.app.store
    call_id = await asyncio.to_thread(store.start_call, CHANNEL, "0612345678", "0800123456")
    ear, media, bridge = (
        CHANNEL + s for s in (speech_tap.SNOOP_SUFFIX, speech_tap.MEDIA_SUFFIX, speech_tap.BRIDGE_SUFFIX)
    )
    ari.held |= {CHANNEL, ear, media}
    ari.bridge_members[bridge] = [ear, media]
    ari.bridge_members["agents-holding"] = []  # not a speech tap's: left alone
    await rig.app.on_connected()
    hung_up = [r[1] for r in ari.requests if r[0] == "hangup"]
    assert sorted(hung_up) == sorted([ear, media])  # the caller stays
    assert ("destroyBridge", bridge) in ari.requests and "agents-holding" in ari.bridge_members
    # The resumed call's own tap, like a new call's.
    await until(lambda: media in ari.external_hosts and ear in ari.held, "media requests")
    await rig.app.handle(ari.media_started(ear))
    await rig.app.handle(ari.media_started(media))
    await until(lambda: len(ari.bridge_members.get(bridge, [])) == 2, "the new bridge")
    await until(lambda: bool(ari.plays(CHANNEL)), "the apology")
    assert ari.plays(CHANNEL)[-1] == ("prompt:call_resumed", "prompt:speech_hint", "prompt:menu")
    assert rig.app.sessions[CHANNEL].call_id == call_id
    await rig.app.handle(stasis_end(CHANNEL))
    await settle(rig.app)
    [row] = call_rows(store)
    assert row.outcome is CallOutcome.ABANDONED and ticket_of(store, call_id).status is TicketStatus.CLOSED
