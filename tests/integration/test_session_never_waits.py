"""A call never waits on the database: with the database held by a lock, the caller still hears the timeout
apology on time, a 0 reaches the person path at once, and a hangup is handled at once (and recorded once the
database is back). Real databases (SQLite and PostgreSQL), the in-process ARI fake, the real call flow."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy.engine import URL, make_url
from sqlmodel import select

from hotline.domain import dossier
from hotline.domain.enums import CallOutcome
from hotline.storage.db import session_scope
from hotline.storage.models import Call, CallEvent, Ticket
from ivr.flow import call_flow
from ivr.flow.call_flow import CallFlow, CallState
from ivr.runtime.ivr_app import IvrApp
from ivr.runtime.store import CallStore
from tests.conftest import _empty_postgres_schema
from tests.integration.fake_ari import FakeAri, dtmf, stasis_end
from tests.integration.test_ivr_app import CHANNEL, finish_current, make_ivr_app

OPERATION_TIMEOUT_S = 1.5  # the flow's operation timeout, shortened for the test
PROMPT_MARGIN_S = 1.0  # a loaded CI machine still hears the apology this soon after the timeout
AT_ONCE_S = 0.5


@contextmanager
def database_held(database_url: str) -> Iterator[None]:
    """Another process holds a lock on the ticket and call tables. On PostgreSQL every read and write of them
    waits behind it; on SQLite (WAL) writers wait, readers do not."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(url.database or "", isolation_level=None, timeout=10)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as holder:
        holder.execute("LOCK TABLE ticket, call IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            holder.rollback()


@pytest.fixture
def postgres_url(postgres_database: URL) -> str:
    """PostgreSQL only: there a lock makes a read wait (SQLite's WAL readers never wait)."""
    _empty_postgres_schema(postgres_database)
    return postgres_database.render_as_string(hide_password=False)


@pytest.fixture(autouse=True)
def short_operation_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_flow, "OPERATION_TIMEOUT_S", OPERATION_TIMEOUT_S)


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[tuple[IvrApp, FakeAri, CallStore]]:
    """On SQLite and PostgreSQL."""
    parts = make_ivr_app(database_url)
    yield parts
    parts[2].engine.dispose()


@pytest.fixture
async def pg_app(postgres_url: str) -> AsyncIterator[tuple[IvrApp, FakeAri, CallStore]]:
    parts = make_ivr_app(postgres_url)
    yield parts
    parts[2].engine.dispose()


async def until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until `condition` holds; fails the test after `timeout`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not true after {timeout} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def at_dossier_entry(ivr: IvrApp, ari: FakeAri) -> None:
    await ivr.handle(ari.stasis_start(CHANNEL))
    await finish_current(ivr, ari)  # greeting
    await finish_current(ivr, ari)  # menu
    await ivr.handle(dtmf(CHANNEL, "5"))
    assert await finish_current(ivr, ari) == ("prompt:dossier_enter",)


async def type_dossier(ivr: IvrApp, ari: FakeAri) -> None:
    for digit in dossier.new_dossier_number() + "#":
        await ivr.handle(dtmf(CHANNEL, digit))


def heard(ari: FakeAri, prompt: str) -> Callable[[], bool]:
    return lambda: any(f"prompt:{prompt}" in media for media in ari.plays(CHANNEL))


def steps(store: CallStore) -> list[str]:
    with session_scope(store.engine, write=False) as s:
        return [e.kind for e in s.exec(select(CallEvent).order_by(CallEvent.id))]


async def test_a_lookup_that_never_returns_still_gives_the_apology_on_time(
    pg_app: tuple[IvrApp, FakeAri, CallStore], postgres_url: str
) -> None:
    ivr, ari, store = pg_app
    await at_dossier_entry(ivr, ari)
    with database_held(postgres_url):
        await type_dossier(ivr, ari)
        # The lookup hangs: at the timeout the caller is told and handed to a person.
        waited = await until(heard(ari, "human_stub"), OPERATION_TIMEOUT_S + PROMPT_MARGIN_S)
        assert waited >= OPERATION_TIMEOUT_S - 0.1
        await ivr.handle(ari.finish(ari.last_playback(CHANNEL)))
        # Opening the ticket hangs too: the caller hears of the technical problem, not silence.
        await until(heard(ari, "technical_problem"), OPERATION_TIMEOUT_S + PROMPT_MARGIN_S)
    await ivr.handle(stasis_end(CHANNEL))
    session = next(iter(ivr.sessions.values()), None)
    if session is not None:
        await asyncio.wait_for(session.finished.wait(), 15)
    with session_scope(store.engine, write=False) as s:
        call = s.exec(select(Call)).one()
        assert call.ended_at is not None and call.outcome is CallOutcome.FALLBACK
    assert "dossier_lookup_failed" in steps(store) and "ticket_failed" in steps(store)


async def test_a_zero_pressed_during_a_hung_lookup_reaches_a_person_at_once(
    pg_app: tuple[IvrApp, FakeAri, CallStore], postgres_url: str
) -> None:
    ivr, ari, store = pg_app
    await at_dossier_entry(ivr, ari)
    with database_held(postgres_url):
        await type_dossier(ivr, ari)
        await asyncio.sleep(0.1)
        await ivr.handle(dtmf(CHANNEL, "0"))
        await until(heard(ari, "human_stub"), AT_ONCE_S)
    await ivr.handle(stasis_end(CHANNEL))
    await asyncio.wait_for(next(iter(ivr.sessions.values())).finished.wait(), 15)
    assert "to_human" in steps(store)


async def test_a_hangup_during_a_hung_lookup_is_handled_at_once_and_recorded(
    pg_app: tuple[IvrApp, FakeAri, CallStore], postgres_url: str
) -> None:
    ivr, ari, store = pg_app
    await at_dossier_entry(ivr, ari)
    session = ivr.sessions[CHANNEL]
    with database_held(postgres_url):
        await type_dossier(ivr, ari)
        await asyncio.sleep(0.1)
        await ivr.handle(stasis_end(CHANNEL))
        flow = session.flow
        assert isinstance(flow, CallFlow)
        await until(lambda: flow.state is CallState.ENDED, AT_ONCE_S)
    await asyncio.wait_for(session.finished.wait(), 15)
    with session_scope(store.engine, write=False) as s:
        call = s.exec(select(Call)).one()
        assert call.outcome is CallOutcome.ABANDONED and call.ended_at is not None
    kinds = steps(store)
    assert "caller_hung_up" in kinds and kinds[-1] == "hangup"


async def test_a_ticket_that_cannot_be_written_gives_the_apology_on_time(
    app: tuple[IvrApp, FakeAri, CallStore], database_url: str
) -> None:
    ivr, ari, store = app
    await ivr.handle(ari.stasis_start(CHANNEL))
    await finish_current(ivr, ari)  # greeting
    session = ivr.sessions[CHANNEL]
    with database_held(database_url):
        await ivr.handle(dtmf(CHANNEL, "0"))
        await until(heard(ari, "human_stub"), AT_ONCE_S)
        await ivr.handle(ari.finish(ari.last_playback(CHANNEL)))
        # The ticket cannot be written yet: the caller is told of the problem at the timeout, not left in silence.
        await until(heard(ari, "technical_problem"), OPERATION_TIMEOUT_S + PROMPT_MARGIN_S)
        await ivr.handle(stasis_end(CHANNEL))
    await asyncio.wait_for(session.finished.wait(), 30)
    with session_scope(store.engine, write=False) as s:
        call = s.exec(select(Call)).one()
        assert call.ended_at is not None
        assert len(s.exec(select(Ticket)).all()) == 1  # one ticket per call, even when its first write failed
