"""The IVR app over the in-process ARI fake, with the real call flow and a real database (SQLite and
PostgreSQL): what ARI is asked, and what lands in the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlmodel import select

from hotline.domain.enums import CallOutcome, TicketStatus
from hotline.settings import DEFAULT_KB_PATH
from hotline.storage.db import make_engine, session_scope, upgrade_database
from hotline.storage.models import Call, CallEvent, Ticket
from ivr.ari.client import AriConfig
from ivr.flow import commands as cmd
from ivr.flow.call_flow import CallFlow
from ivr.flow.menu import DEFAULT_MENU_FILE, load_menu
from ivr.runtime.ivr_app import IvrApp
from ivr.runtime.store import CallStore
from kb.loader import load_kb
from tests.integration.fake_ari import FakeAri, dtmf, stasis_end

KB = load_kb(DEFAULT_KB_PATH)
CHANNEL = "1732200000.1"


class LabelMedia:
    """Media resolver for tests: a readable label per item instead of a sound file."""

    async def resolve_all(self, items: Sequence[cmd.Media]) -> list[str]:
        return [label for item in items for label in self.resolve(item)]

    def resolve(self, item: cmd.Media) -> list[str]:
        match item:
            case cmd.Prompt(key=key):
                return [f"prompt:{key}"]
            case cmd.Digits(digits=digits):
                return [f"digits:{digits}"]
            case cmd.FaqAnswer(faq_id=faq_id):
                return [f"faq:{faq_id}"]
            case _:
                return [f"other:{item}"]


def make_ivr_app(database_url: str) -> tuple[IvrApp, FakeAri, CallStore]:
    """The IVR app with the real flow and store on a migrated database, over the ARI fake."""
    upgrade_database(database_url)
    engine = make_engine(database_url)
    store = CallStore(engine, KB)
    menu = load_menu(DEFAULT_MENU_FILE, KB.ids())
    actions = {e.id: e.action for e in KB.entries}
    ari = FakeAri()
    app = IvrApp(
        AriConfig("http://127.0.0.1:1/ari", "u", "p", "hotline"),
        ari,
        LabelMedia(),
        store,
        lambda: CallFlow(menu, actions),
    )
    return app, ari, store


@pytest.fixture
async def setup(database_url: str) -> AsyncIterator[tuple[IvrApp, FakeAri, CallStore]]:
    parts = make_ivr_app(database_url)
    yield parts
    parts[2].engine.dispose()


SETTLE_TIMEOUT_S = 10  # generous: database threads on a loaded CI machine


async def settle(app: IvrApp) -> None:
    """Wait until every call has handled what it was fed, and ended calls are closed in the database."""

    async def quiet() -> None:
        while True:
            await asyncio.sleep(0)
            sessions = list(app.sessions.values())
            for session in sessions:
                if session.hung_up:
                    await session.finished.wait()
                else:
                    await session.idle()
            await asyncio.sleep(0.001)
            if all(s.hung_up is False or s.finished.is_set() for s in app.sessions.values()) and all(
                s._queue.empty() for s in app.sessions.values()
            ):
                return

    await asyncio.wait_for(quiet(), SETTLE_TIMEOUT_S)


async def finish_current(app: IvrApp, ari: FakeAri) -> tuple[str, ...]:
    await settle(app)
    playback = ari.last_playback(CHANNEL)
    media = ari.plays(CHANNEL)[-1]
    await app.handle(ari.finish(playback))
    await settle(app)
    return media


async def test_menu_faq_answer_then_yes(setup: tuple[IvrApp, FakeAri, CallStore]) -> None:
    app, ari, store = setup
    await app.handle(ari.stasis_start(CHANNEL))
    assert await finish_current(app, ari) == ("prompt:greeting",)
    assert await finish_current(app, ari) == ("prompt:menu",)
    await app.handle(dtmf(CHANNEL, "1"))
    assert await finish_current(app, ari) == ("faq:mairie.horaires",)
    assert await finish_current(app, ari) == ("prompt:confirm",)
    await app.handle(dtmf(CHANNEL, "1"))
    assert await finish_current(app, ari) == ("prompt:goodbye",)
    assert ("hangup", CHANNEL) in ari.requests
    await app.handle(stasis_end(CHANNEL))
    await settle(app)
    assert app.sessions == {}
    with session_scope(store.engine) as s:
        call = s.exec(select(Call)).one()
        assert call.outcome is CallOutcome.SELF_SERVED and call.faq_id == "mairie.horaires"
        assert call.topic == "mairie" and call.ended_at is not None and call.caller_number == "0612345678"
        kinds = [e.kind for e in s.exec(select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.id))]
        assert kinds[0] == "stasis_start" and kinds[-1] == "hangup"
        assert "menu_choice" in kinds and "faq_answered" in kinds
        ticket = s.exec(select(Ticket)).one()
        assert ticket.call_id == call.id and ticket.outcome is CallOutcome.SELF_SERVED
        assert ticket.status is TicketStatus.RESOLVED


async def test_human_path_creates_callback_ticket_and_reads_dossier(
    setup: tuple[IvrApp, FakeAri, CallStore],
) -> None:
    app, ari, store = setup
    await app.handle(ari.stasis_start(CHANNEL))
    await settle(app)
    greeting = ari.last_playback(CHANNEL)
    await app.handle(dtmf(CHANNEL, "0"))  # during the greeting
    await settle(app)
    assert ("stop", greeting) in ari.requests
    await app.handle(ari.finish(greeting))  # ARI reports the stopped playback as finished
    media = await finish_current(app, ari)
    assert media == ("prompt:human_stub",)
    media = await finish_current(app, ari)
    assert media[0] == "prompt:your_dossier_is" and media[1].startswith("digits:")
    dossier = media[1].removeprefix("digits:")
    await app.handle(stasis_end(CHANNEL))
    await settle(app)
    with session_scope(store.engine) as s:
        ticket = s.exec(select(Ticket)).one()
        assert ticket.dossier_number == dossier and ticket.needs_callback
        assert ticket.status is TicketStatus.WAITING_CALLBACK
        assert ticket.outcome is CallOutcome.CALLBACK_REQUESTED
        assert s.exec(select(Call)).one().outcome is CallOutcome.CALLBACK_REQUESTED


async def test_caller_hangs_up_during_menu(setup: tuple[IvrApp, FakeAri, CallStore]) -> None:
    app, ari, store = setup
    await app.handle(ari.stasis_start(CHANNEL))
    await finish_current(app, ari)
    await app.handle(stasis_end(CHANNEL))
    await settle(app)
    assert app.sessions == {}
    with session_scope(store.engine) as s:
        assert s.exec(select(Call)).one().outcome is CallOutcome.ABANDONED
        ticket = s.exec(select(Ticket)).one()
        assert ticket.outcome is CallOutcome.ABANDONED and ticket.status is TicketStatus.CLOSED


async def test_dossier_follow_up_reads_status(setup: tuple[IvrApp, FakeAri, CallStore]) -> None:
    app, ari, store = setup
    existing = await asyncio.to_thread(store.start_call, "old-call", "0600000000", "0800123456")
    dossier = await asyncio.to_thread(store.create_ticket, existing, "test", "voirie.signalement", False)
    await app.handle(ari.stasis_start(CHANNEL))
    await finish_current(app, ari)  # greeting
    await finish_current(app, ari)  # menu
    await app.handle(dtmf(CHANNEL, "5"))
    assert await finish_current(app, ari) == ("prompt:dossier_enter",)
    for digit in dossier + "#":
        await app.handle(dtmf(CHANNEL, digit))
    await settle(app)
    media = ari.plays(CHANNEL)[-1]
    assert media == (
        "prompt:dossier_status_intro",
        f"digits:{dossier}",
        "prompt:ticket_status.open",
        "prompt:anything_else",
    ) or media[:3] == ("prompt:dossier_status_intro", f"digits:{dossier}", "prompt:ticket_status.open")


async def test_socket_gap_resync(setup: tuple[IvrApp, FakeAri, CallStore]) -> None:
    """A playback that ended while the events socket was down is reported on reconnect; a call that ended
    meanwhile is closed."""
    app, ari, store = setup
    await app.handle(ari.stasis_start(CHANNEL))
    await settle(app)
    greeting = ari.last_playback(CHANNEL)
    await app.on_connected()
    await app.on_disconnected()
    ari.playing.pop(greeting)  # it finished while nobody listened
    await app.on_connected()
    await settle(app)
    assert ari.plays(CHANNEL)[-1] == ("prompt:menu",)  # the flow moved on
    await app.on_disconnected()
    ari.held.discard(CHANNEL)  # the caller hung up during the gap
    await app.on_connected()
    await settle(app)
    assert app.sessions == {}
    with session_scope(store.engine) as s:
        assert s.exec(select(Call)).one().outcome is CallOutcome.ABANDONED


async def test_failed_play_does_not_stall_the_call(setup: tuple[IvrApp, FakeAri, CallStore]) -> None:
    app, ari, _ = setup
    ari.fail_play = True
    await app.handle(ari.stasis_start(CHANNEL))
    await settle(app)
    # Each failed play counts as finished, so the flow keeps going instead of waiting forever.
    assert len(ari.plays(CHANNEL)) >= 2


async def test_call_goes_to_fallback_when_it_cannot_start(setup: tuple[IvrApp, FakeAri, CallStore]) -> None:
    """The database is gone: the call is not dropped, the dialplan fallback takes it."""
    app, ari, store = setup
    store.engine.dispose()
    store.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    await app.handle(ari.stasis_start(CHANNEL))
    for _ in range(500):  # the start runs in its own task; a refused connection fails fast
        if ("continue", CHANNEL, "hotline-fallback") in ari.requests:
            break
        await asyncio.sleep(0.01)
    assert ari.requests[0] == ("answer", CHANNEL)  # answered first: the caller is not left ringing
    assert ("continue", CHANNEL, "hotline-fallback") in ari.requests
    assert app.sessions == {}
