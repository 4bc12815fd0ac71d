"""The queue's state over a real database (SQLite and PostgreSQL): offers are exclusive, a missed offer keeps the
caller's place and pauses the agent, answers and hangups move the agent through on call and wrap-up, and the
measured handle times feed the expected wait."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from hotline.domain.agent_states import MISSED_CALL_REASON
from hotline.domain.enums import AgentState, QueueEntryState
from hotline.domain.queue import position_of
from hotline.services.queue import NewEntry, QueueConflictError, QueueService
from hotline.storage.db import session_scope
from hotline.storage.models import Agent, AgentStateChange, Call, QueueEntry


def make_agent(engine: Engine, login: str, state: AgentState = AgentState.AVAILABLE) -> int:
    with session_scope(engine) as s:
        agent = Agent(login=login, display_name=login, sip_endpoint=login, state=state)
        s.add(agent)
        s.flush()
        assert agent.id is not None
        return agent.id


def join(engine: Engine, queue: QueueService, channel: str, priority: int = 0) -> int:
    with session_scope(engine) as s:
        call = Call(channel_id=channel, caller_number="0612345678", called_number="0800123456")
        s.add(call)
        s.flush()
        assert call.id is not None
        call_id = call.id
    return queue.enqueue(NewEntry(call_id, channel, "0612345678", "eau", "eau.coupure", priority, "caller_asked",
                                  "je n'ai plus d'eau"))  # fmt: skip


def test_two_agents_taking_one_caller_one_wins(engine: Engine) -> None:
    queue = QueueService(engine)
    a, b = make_agent(engine, "alice"), make_agent(engine, "bob")
    entry = join(engine, queue, "c1")

    def take(agent_id: int) -> str:
        try:
            queue.offer(entry, agent_id)
            return "won"
        except QueueConflictError:
            return "409"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(take, [a, b]))
    assert outcomes == ["409", "won"]
    with session_scope(engine, write=False) as s:
        states = {x.login: x.state for x in s.exec(select(Agent))}
    assert sorted(states.values()) == sorted([AgentState.AVAILABLE, AgentState.RINGING])


def test_a_missed_offer_keeps_the_place_and_pauses_the_agent(engine: Engine) -> None:
    queue = QueueService(engine)
    a = make_agent(engine, "alice")
    first, second = join(engine, queue, "c1"), join(engine, queue, "c2")
    queue.offer(first, a)
    queue.offer_failed(first, a)
    snap = queue.snapshot()
    assert position_of(first, snap.waiting) == 1 and position_of(second, snap.waiting) == 2
    with session_scope(engine, write=False) as s:
        agent = s.get(Agent, a)
        assert agent is not None and agent.state is AgentState.PAUSED
        last = s.exec(select(AgentStateChange).order_by(AgentStateChange.id.desc())).first()  # type: ignore[union-attr]
        assert last is not None and last.reason == MISSED_CALL_REASON
    with pytest.raises(QueueConflictError, match="en pause"):
        queue.offer(second, a)


def test_answer_hangup_wrap_up_measure_the_handle_time(engine: Engine) -> None:
    queue = QueueService(engine)
    a = make_agent(engine, "alice")
    entry = join(engine, queue, "c1")
    queue.offer(entry, a)
    assert queue.answered(entry, a)
    assert queue.snapshot().waiting == []
    assert queue.conversation_ended(entry) == a
    assert queue.conversation_ended(entry) is None, "once"
    assert queue.set_agent_state(a, AgentState.WRAP_UP).state is AgentState.WRAP_UP
    # the call lasted 100 s and its wrap-up 20 s (backdated by hand)
    with session_scope(engine) as s:
        e = s.get(QueueEntry, entry)
        assert e is not None and e.answered_at is not None
        e.answered_at = e.answered_at - timedelta(seconds=120)
        s.add(e)
    assert queue.end_wrap_up(a)
    assert not queue.end_wrap_up(a), "already available"
    snap = queue.snapshot()
    assert len(snap.recent_handle_s) == 1 and 119 < snap.recent_handle_s[0] < 125
    assert snap.staffed == 1


def test_a_caller_who_left_during_the_offer_is_not_answered(engine: Engine) -> None:
    queue = QueueService(engine)
    a = make_agent(engine, "alice")
    entry = join(engine, queue, "c1")
    queue.offer(entry, a)
    assert queue.left(entry, QueueEntryState.ABANDONED)
    assert not queue.answered(entry, a)
    assert not queue.left(entry, QueueEntryState.ABANDONED), "once"
    queue.offer_failed(entry, a, pause=False)
    with session_scope(engine, write=False) as s:
        agent = s.get(Agent, a)
        e = s.get(QueueEntry, entry)
        assert agent is not None and agent.state is AgentState.AVAILABLE
        assert e is not None and e.state is QueueEntryState.ABANDONED and e.left_at is not None


def test_the_queue_outcome_is_noted_on_the_calls_ticket(engine: Engine) -> None:
    from hotline.storage.models import Ticket, TicketNote

    queue = QueueService(engine)
    a = make_agent(engine, "alice")
    answered, abandoned = join(engine, queue, "c1"), join(engine, queue, "c2")
    with session_scope(engine) as s:
        for entry_id, dossier in ((answered, "11111111"), (abandoned, "22222222")):
            e = s.get(QueueEntry, entry_id)
            assert e is not None
            s.add(Ticket(dossier_number=dossier, subject="Demande", call_id=e.call_id))
    queue.offer(answered, a)
    queue.answered(answered, a)
    queue.conversation_ended(answered)
    queue.left(abandoned, QueueEntryState.ABANDONED)
    with session_scope(engine, write=False) as s:
        notes = {
            t.dossier_number: [n.body for n in s.exec(select(TicketNote).where(TicketNote.ticket_id == t.id))]
            for t in s.exec(select(Ticket))
        }
    assert notes["11111111"][0].startswith("Appel pris par alice après ") and "Conversation" in notes["11111111"][1]
    assert len(notes["22222222"]) == 1 and notes["22222222"][0].startswith("L'appelant a raccroché après ")
