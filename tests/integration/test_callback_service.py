"""Callbacks over a real database (SQLite and PostgreSQL): requested with the ticket, in the caller's queue place,
offered to one agent only, each attempt's result on the callback, its attempts and its ticket, retried then failed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from hotline.domain.agent_states import MISSED_CALL_REASON
from hotline.domain.callbacks import AttemptResult
from hotline.domain.enums import AgentState, CallbackState, QueueEntryState
from hotline.services.callbacks import CallbackConflictError, CallbackService
from hotline.services.queue import QueueService
from hotline.settings import DEFAULT_KB_PATH
from hotline.storage.db import session_scope
from hotline.storage.models import Agent, AgentStateChange, Callback, CallbackAttempt, Ticket, TicketNote, utc_now
from ivr.runtime.store import CallStore
from kb.loader import load_kb
from tests.integration.test_queue_service import join, make_agent

KB = load_kb(DEFAULT_KB_PATH)


def callback_from_the_queue(engine: Engine) -> tuple[int, int]:
    """A caller who waited, then pressed the callback key: (callback id, queue entry id)."""
    queue = QueueService(engine)
    entry_id = join(engine, queue, "c1", priority=10)
    entry = queue.entry(entry_id)
    assert entry is not None
    queue.left(entry_id, QueueEntryState.CALLBACK)
    CallStore(engine, KB).create_ticket(entry.call_id, "callback_requested", "eau.coupure", needs_callback=True)
    with session_scope(engine, write=False) as s:
        [callback] = s.exec(select(Callback)).all()
        assert callback.id is not None
        return callback.id, entry_id


def notes(engine: Engine) -> list[str]:
    with session_scope(engine, write=False) as s:
        return [n.body for n in s.exec(select(TicketNote).order_by(TicketNote.id))]


def state_of(engine: Engine, agent_id: int) -> tuple[AgentState, str | None]:
    """The agent's state and the reason of the change that put them there."""
    with session_scope(engine, write=False) as s:
        agent = s.get(Agent, agent_id)
        assert agent is not None
        last = s.exec(
            select(AgentStateChange).where(AgentStateChange.agent_id == agent_id).order_by(AgentStateChange.id.desc())
        ).first()
        return agent.state, last.reason if last is not None else None


def test_a_callback_keeps_the_callers_place_and_is_due_at_once(engine: Engine) -> None:
    callback_id, entry_id = callback_from_the_queue(engine)
    entry = QueueService(engine).entry(entry_id)
    assert entry is not None
    [due] = CallbackService(engine).due()
    assert due.callback_id == callback_id and due.priority == 10 and due.topic == "eau"
    assert due.enqueued_at == entry.enqueued_at
    # One open callback per ticket: asking again keeps it.
    CallStore(engine, KB).create_ticket(entry.call_id, "callback_requested", "eau.coupure", needs_callback=True)
    with session_scope(engine, write=False) as s:
        assert len(s.exec(select(Callback)).all()) == 1


def test_two_agents_one_callback_one_wins(engine: Engine) -> None:
    callback_id, _ = callback_from_the_queue(engine)
    service = CallbackService(engine)
    agents = [make_agent(engine, "alice"), make_agent(engine, "bob")]

    def take(agent_id: int) -> str:
        try:
            service.offer(callback_id, agent_id)
            return "won"
        except CallbackConflictError:
            return "409"

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(take, agents)) == ["409", "won"]
    assert service.due() == []


def test_unanswered_attempts_are_retried_then_the_callback_fails(engine: Engine) -> None:
    callback_id, _ = callback_from_the_queue(engine)
    service = CallbackService(engine, max_attempts=3, retry_s=300)
    alice = make_agent(engine, "alice")
    results = [AttemptResult.NO_ANSWER, AttemptResult.BUSY, AttemptResult.NO_ANSWER]
    for n, result in enumerate(results, start=1):
        placed = service.offer(callback_id, alice, anytime=True)
        assert placed.attempt_number == n and placed.phone == "0612345678"
        service.agent_answered(placed)
        assert state_of(engine, alice)[0] is AgentState.ON_CALL
        before = utc_now()
        state = service.attempt_ended(placed, result)
        assert state_of(engine, alice)[0] is AgentState.WRAP_UP  # to note the attempt
        QueueService(engine).end_wrap_up(alice)
        with session_scope(engine, write=False) as s:
            callback = s.get(Callback, callback_id)
            assert callback is not None and callback.attempts == n and callback.last_result == result.value
            if n < 3:
                assert state is CallbackState.PENDING and callback.due_at >= before + timedelta(seconds=299)
    assert state is CallbackState.FAILED
    with session_scope(engine, write=False) as s:
        attempts = s.exec(select(CallbackAttempt).order_by(CallbackAttempt.id)).all()
        assert [a.result for a in attempts] == ["no_answer", "busy", "no_answer"]
        ticket = s.exec(select(Ticket)).one()
        assert not ticket.needs_callback
    said = notes(engine)
    assert "Rappel, tentative 1 sur 3 par alice : pas de réponse. Nouvelle tentative dans 5 min." in said
    assert "Rappel, tentative 2 sur 3 par alice : occupé. Nouvelle tentative dans 5 min." in said
    assert said[-1] == "Rappel, tentative 3 sur 3 par alice : pas de réponse. Rappel abandonné après 3 tentatives."


def test_a_missed_agent_pauses_them_and_leaves_the_callback_due(engine: Engine) -> None:
    callback_id, _ = callback_from_the_queue(engine)
    service = CallbackService(engine)
    alice = make_agent(engine, "alice")
    placed = service.offer(callback_id, alice)
    assert service.attempt_ended(placed, AttemptResult.AGENT_MISSED) is CallbackState.PENDING
    assert state_of(engine, alice) == (AgentState.PAUSED, MISSED_CALL_REASON)
    assert QueueService(engine).snapshot().agents[0].state is AgentState.PAUSED
    [due] = service.due()
    assert due.callback_id == callback_id
    with session_scope(engine, write=False) as s:
        callback = s.get(Callback, callback_id)
        assert callback is not None and callback.attempts == 0


def test_an_answered_callback_is_done_and_its_agent_wraps_up(engine: Engine) -> None:
    callback_id, _ = callback_from_the_queue(engine)
    service = CallbackService(engine)
    alice = make_agent(engine, "alice")
    placed = service.offer(callback_id, alice)
    service.agent_answered(placed)
    assert service.attempt_ended(placed, AttemptResult.ANSWERED) is CallbackState.DONE
    service.conversation_ended(placed, 42.4)
    assert state_of(engine, alice)[0] is AgentState.WRAP_UP
    assert notes(engine)[-2:] == [
        "Rappel, tentative 1 sur 3 par alice : l'appelant a répondu.",
        "Conversation de rappel terminée (42 s).",
    ]
    [view] = service.listed()
    assert view.callback.state is CallbackState.DONE and [a.result for a in view.attempts] == ["answered"]


def test_a_callback_being_placed_at_a_restart_is_due_again(engine: Engine) -> None:
    callback_id, _ = callback_from_the_queue(engine)
    service = CallbackService(engine)
    alice = make_agent(engine, "alice")
    placed = service.offer(callback_id, alice)
    service.agent_answered(placed)
    assert service.placed(callback_id) == placed
    assert service.recover() == 1
    assert state_of(engine, alice)[0] is AgentState.WRAP_UP
    [due] = service.due()
    assert due.callback_id == callback_id
    with session_scope(engine, write=False) as s:
        assert [a.result for a in s.exec(select(CallbackAttempt))] == ["interrupted"]


def test_call_now_needs_an_available_agent(engine: Engine) -> None:
    callback_id, _ = callback_from_the_queue(engine)
    service = CallbackService(engine)
    busy = make_agent(engine, "bob", AgentState.ON_CALL)
    with pytest.raises(CallbackConflictError, match="bob est en communication"):
        service.call_now(callback_id, busy)
    assert service.due()[0].callback_id == callback_id  # nothing changed
