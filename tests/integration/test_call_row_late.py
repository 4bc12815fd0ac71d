"""The call's database row may be slow to write (200 calls at once share one database): the caller is answered
and hears the hotline meanwhile, and nothing of the call is lost once the row is in."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from hotline.domain.enums import CallOutcome
from hotline.settings import DEFAULT_KB_PATH
from hotline.storage.db import make_engine, session_scope, upgrade_database
from hotline.storage.models import Call, CallEvent, Ticket
from ivr.ari.client import AriConfig
from ivr.flow.call_flow import CallFlow
from ivr.flow.menu import DEFAULT_MENU_FILE, load_menu
from ivr.runtime.ivr_app import IvrApp
from ivr.runtime.store import CallStore
from kb.loader import KnowledgeBase, load_kb
from tests.integration.fake_ari import FakeAri, dtmf, stasis_end
from tests.integration.test_ivr_app import LabelMedia

KB = load_kb(DEFAULT_KB_PATH)
CHANNEL = "1732200000.7"
WAIT_S = 5.0  # generous: database threads on a loaded CI machine


class SlowRowStore(CallStore):
    """start_call waits until the test lets it through, as a database busy with other calls would."""

    def __init__(self, engine: Engine, kb: KnowledgeBase) -> None:
        super().__init__(engine, kb)
        self.release = threading.Event()

    def start_call(self, channel_id: str, caller: str | None, called: str, crisis_mode: bool = False) -> int:
        if not self.release.wait(WAIT_S * 4):
            raise TimeoutError("the test never released the row")
        return super().start_call(channel_id, caller, called, crisis_mode)


async def eventually(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), WAIT_S)


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[tuple[IvrApp, FakeAri, SlowRowStore]]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    store = SlowRowStore(engine, KB)
    menu = load_menu(DEFAULT_MENU_FILE, KB.ids())
    actions = {e.id: e.action for e in KB.entries}
    ari = FakeAri()
    config = AriConfig("http://127.0.0.1:1/ari", "u", "p", "hotline")
    app = IvrApp(config, ari, LabelMedia(), store, lambda: CallFlow(menu, actions))
    yield app, ari, store
    store.release.set()
    engine.dispose()


def timeline(store: CallStore) -> tuple[Call, list[str], Any]:
    with session_scope(store.engine, write=False) as s:
        call = s.exec(select(Call)).one()
        kinds = [e.kind for e in s.exec(select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.id))]
        return call, kinds, s.exec(select(Ticket)).one()


async def test_the_caller_reaches_an_answer_before_the_row_is_in(rig: tuple[IvrApp, FakeAri, SlowRowStore]) -> None:
    app, ari, store = rig
    await app.handle(ari.stasis_start(CHANNEL))
    await eventually(lambda: ari.plays(CHANNEL) == [("prompt:greeting",)])
    await app.handle(ari.finish(ari.last_playback(CHANNEL)))
    await eventually(lambda: ari.plays(CHANNEL)[-1] == ("prompt:menu",))
    await app.handle(dtmf(CHANNEL, "1"))
    await eventually(lambda: ari.plays(CHANNEL)[-1] == ("faq:mairie.horaires",))
    assert ari.requests[0] == ("answer", CHANNEL)

    store.release.set()  # the row goes in; the call carries on and ends self-served
    await app.handle(ari.finish(ari.last_playback(CHANNEL)))
    await eventually(lambda: ari.plays(CHANNEL)[-1] == ("prompt:confirm",))
    await app.handle(dtmf(CHANNEL, "1"))
    await eventually(lambda: ari.plays(CHANNEL)[-1] == ("prompt:goodbye",))
    await app.handle(ari.finish(ari.last_playback(CHANNEL)))
    await eventually(lambda: ("hangup", CHANNEL) in ari.requests)
    await app.handle(stasis_end(CHANNEL))
    await eventually(lambda: app.sessions == {})

    call, kinds, ticket = timeline(store)
    assert call.outcome is CallOutcome.SELF_SERVED and call.faq_id == "mairie.horaires" and call.ended_at
    assert kinds[0] == "stasis_start" and kinds[-1] == "hangup"
    # the steps taken before the row was in are kept, in their order
    assert kinds.index("menu_choice") < kinds.index("faq_answered") < kinds.index("confirm")
    assert ticket.call_id == call.id and ticket.outcome is CallOutcome.SELF_SERVED


async def test_a_hangup_before_the_row_is_in_still_closes_the_call(
    rig: tuple[IvrApp, FakeAri, SlowRowStore],
) -> None:
    app, ari, store = rig
    await app.handle(ari.stasis_start(CHANNEL))
    await eventually(lambda: ari.plays(CHANNEL) == [("prompt:greeting",)])
    await app.handle(stasis_end(CHANNEL))
    await asyncio.sleep(0.05)
    assert CHANNEL in app.sessions  # not closed yet: it waits for its row
    store.release.set()
    await eventually(lambda: app.sessions == {})
    call, kinds, ticket = timeline(store)
    assert call.outcome is CallOutcome.ABANDONED and call.ended_at is not None
    assert kinds[0] == "stasis_start" and kinds[-1] == "hangup"
    assert ticket.call_id == call.id
