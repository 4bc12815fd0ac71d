"""The agent queue's state in the database: callers' entries, offers to agents, answers, hangups, wrap-up.

Every step that two parties might take at once is a conditional update ("set offered where still waiting"): two
agents taking one caller, or a caller hanging up while their call is offered, leave one winner and a clear
refusal, never a double answer. Agents' state changes write their history rows in the same transaction, and
the events go out after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, and_, col, or_, select

from hotline import bus as events
from hotline.bus import EventBus
from hotline.domain.agent_states import MISSED_CALL_REASON
from hotline.domain.enums import AgentState, QueueEntryState
from hotline.domain.queue import RECENT_HANDLE_TIMES, STAFFED_STATES, AgentSnapshot, WaitingCaller
from hotline.domain.transfers import PRIORITY_TRANSFER
from hotline.services.agents import move_agent_in, why_not_offerable
from hotline.services.tickets import pick_up_in
from hotline.services.unit_of_work import UnitOfWork, unit_of_work
from hotline.storage import repository
from hotline.storage.models import Agent, QueueEntry, utc_now


class QueueConflictError(RuntimeError):
    """The caller or the agent is no longer in the state the step needs (someone else was faster)."""


@dataclass(frozen=True)
class NewEntry:
    call_id: int
    channel_id: str
    caller_phone: str | None
    topic: str | None
    faq_id: str | None
    priority: int
    reason: str
    transcript: str | None


@dataclass(frozen=True)
class QueueSnapshot:
    """What distribution needs, read in one transaction."""

    waiting: list[WaitingCaller]
    agents: list[AgentSnapshot]
    recent_handle_s: list[float]

    @property
    def staffed(self) -> int:
        return sum(1 for a in self.agents if a.state in STAFFED_STATES)

    @property
    def logged_in(self) -> int:
        """Agents who may take calls today, paused ones included: while there is one, callers may wait."""
        return sum(1 for a in self.agents if a.state is not AgentState.OFFLINE)


def _note(session: Session, call_id: int, body: str) -> None:
    """The queue's outcome on the call's ticket (when it has one yet), for whoever follows the request."""
    ticket = repository.ticket_of_call(session, call_id)
    if ticket is not None:
        repository.add_ticket_note(session, ticket, body)


_LEFT_NOTES = {
    QueueEntryState.ABANDONED: "L'appelant a raccroché après {s} s d'attente.",
    QueueEntryState.CALLBACK: "L'appelant a demandé à être rappelé après {s} s d'attente.",
}


class QueueService:
    def __init__(self, engine: Engine, bus: EventBus | None = None) -> None:
        self.engine = engine
        self.bus = bus

    # --- callers
    def enqueue(self, new: NewEntry) -> int:
        with unit_of_work(self.engine, self.bus) as uow:
            entry = QueueEntry(
                call_id=new.call_id,
                channel_id=new.channel_id,
                caller_phone=new.caller_phone,
                topic=new.topic,
                faq_id=new.faq_id,
                priority=new.priority,
                reason=new.reason,
                transcript=new.transcript,
            )
            uow.session.add(entry)
            uow.session.flush()
            assert entry.id is not None
            uow.publish(events.QueueChanged(entry_id=entry.id, call_id=new.call_id, state=entry.state.value))
            return entry.id

    def snapshot(self) -> QueueSnapshot:
        with unit_of_work(self.engine, None, write=False) as uow:
            s = uow.session
            entries = s.exec(select(QueueEntry).where(QueueEntry.state == QueueEntryState.WAITING))
            waiting = [
                WaitingCaller(e.id, e.priority, e.enqueued_at, e.topic, only_agent_id=e.target_agent_id)
                for e in entries
                if e.id is not None
            ]
            agents = [
                AgentSnapshot(a.id, a.state, a.state_changed_at, frozenset(a.skills))
                for a in s.exec(select(Agent).where(col(Agent.active).is_(True)))
                if a.id is not None
            ]
            return QueueSnapshot(waiting, agents, self._recent_handle_s(s))

    def open_entries(self) -> list[QueueEntry]:
        """Callers still waiting or offered, and conversations not ended: what a restarted process takes over."""
        with unit_of_work(self.engine, None, write=False) as uow:
            rows = uow.session.exec(
                select(QueueEntry)
                .where(
                    or_(
                        col(QueueEntry.state).in_([QueueEntryState.WAITING, QueueEntryState.OFFERED]),
                        and_(col(QueueEntry.state) == QueueEntryState.ANSWERED, col(QueueEntry.left_at).is_(None)),
                    )
                )
                .order_by(col(QueueEntry.enqueued_at), col(QueueEntry.id))
            )
            return list(rows)

    def entry(self, entry_id: int) -> QueueEntry | None:
        with unit_of_work(self.engine, None, write=False) as uow:
            return uow.session.get(QueueEntry, entry_id)

    def _recent_handle_s(self, session: Session) -> list[float]:
        done = session.exec(
            select(QueueEntry)
            .where(col(QueueEntry.wrapped_up_at).is_not(None), col(QueueEntry.answered_at).is_not(None))
            .order_by(col(QueueEntry.wrapped_up_at).desc())
            .limit(RECENT_HANDLE_TIMES)
        )
        times = [(e.wrapped_up_at - e.answered_at).total_seconds() for e in done if e.wrapped_up_at and e.answered_at]
        return list(reversed(times))

    def left(self, entry_id: int, state: QueueEntryState) -> bool:
        """The caller left while waiting or offered (ABANDONED, CALLBACK); False when already answered or gone."""
        with unit_of_work(self.engine, self.bus) as uow:
            result = uow.session.execute(
                update(QueueEntry)
                .where(
                    col(QueueEntry.id) == entry_id,
                    col(QueueEntry.state).in_([QueueEntryState.WAITING, QueueEntryState.OFFERED]),
                )
                .values(state=state, left_at=utc_now())
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            entry = uow.session.get(QueueEntry, entry_id)
            assert entry is not None
            uow.session.refresh(entry)
            if state in _LEFT_NOTES:
                _note(uow.session, entry.call_id, _LEFT_NOTES[state].format(s=round(waited_s(entry))))
            uow.publish(events.QueueChanged(entry_id=entry_id, call_id=entry.call_id, state=state.value))
            return True

    # --- offers
    def offer(self, entry_id: int, agent_id: int) -> QueueEntry:
        """Reserve the caller for the agent: the caller must still be waiting and the agent available (or in
        wrap-up, when they take a caller themselves). QueueConflictError otherwise; nothing changed then."""
        with unit_of_work(self.engine, self.bus) as uow:
            s = uow.session
            agent = s.get(Agent, agent_id)
            if (refusal := why_not_offerable(agent, agent_id)) is not None:
                raise QueueConflictError(refusal)
            assert agent is not None
            now = utc_now()
            taken = s.execute(
                update(QueueEntry)
                .where(col(QueueEntry.id) == entry_id, col(QueueEntry.state) == QueueEntryState.WAITING)
                .values(state=QueueEntryState.OFFERED, offered_agent_id=agent_id, offered_at=now)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise QueueConflictError("cet appelant n'attend plus (pris par un collègue ou raccroché)")
            self._agent_to(uow, agent, AgentState.RINGING)
            entry = s.get(QueueEntry, entry_id)
            assert entry is not None
            s.refresh(entry)
            uow.publish(events.QueueChanged(entry_id=entry_id, call_id=entry.call_id, state=entry.state.value))
            return entry

    def offer_failed(self, entry_id: int, agent_id: int, *, pause: bool = True) -> None:
        """The agent's phone did not answer (or was busy, or unregistered): the caller keeps their place (the
        entry keeps its time of joining), and the agent is paused "appel manqué"."""
        with unit_of_work(self.engine, self.bus) as uow:
            s = uow.session
            s.execute(
                update(QueueEntry)
                .where(
                    col(QueueEntry.id) == entry_id,
                    col(QueueEntry.state) == QueueEntryState.OFFERED,
                    col(QueueEntry.offered_agent_id) == agent_id,
                )
                .values(state=QueueEntryState.WAITING, offered_agent_id=None, offered_at=None)
            )
            agent = s.get(Agent, agent_id)
            if agent is not None and agent.state is AgentState.RINGING:
                if pause:
                    self._agent_to(uow, agent, AgentState.PAUSED, reason=MISSED_CALL_REASON)
                else:
                    self._agent_to(uow, agent, AgentState.AVAILABLE)
            entry = s.get(QueueEntry, entry_id)
            if entry is not None:
                uow.publish(events.QueueChanged(entry_id=entry_id, call_id=entry.call_id, state=entry.state.value))

    def answered(self, entry_id: int, agent_id: int) -> bool:
        """The agent picked up: False (nothing changed) if the caller left meanwhile."""
        with unit_of_work(self.engine, self.bus) as uow:
            s = uow.session
            result = s.execute(
                update(QueueEntry)
                .where(
                    col(QueueEntry.id) == entry_id,
                    col(QueueEntry.state) == QueueEntryState.OFFERED,
                    col(QueueEntry.offered_agent_id) == agent_id,
                )
                .values(state=QueueEntryState.ANSWERED, answered_by_agent_id=agent_id, answered_at=utc_now())
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            agent = s.get(Agent, agent_id)
            assert agent is not None
            self._agent_to(uow, agent, AgentState.ON_CALL)
            entry = s.get(QueueEntry, entry_id)
            assert entry is not None
            s.refresh(entry)
            _note(s, entry.call_id, f"Appel pris par {agent.display_name} après {round(waited_s(entry))} s d'attente.")
            ticket = repository.ticket_of_call(s, entry.call_id)
            if ticket is not None:
                pick_up_in(uow, ticket, agent_id)
            uow.publish(events.QueueChanged(entry_id=entry_id, call_id=entry.call_id, state=entry.state.value))
            return True

    def conversation_ended(self, entry_id: int) -> int | None:
        """Either side hung up an answered call: the entry is closed and its agent goes to wrap-up.
        Returns the agent's id (None if the entry was not answered)."""
        with unit_of_work(self.engine, self.bus) as uow:
            s = uow.session
            entry = s.get(QueueEntry, entry_id)
            if entry is None or entry.state is not QueueEntryState.ANSWERED or entry.left_at is not None:
                return None
            entry.left_at = utc_now()
            s.add(entry)
            if entry.answered_at is not None:
                talk = round((entry.left_at - entry.answered_at).total_seconds())
                _note(s, entry.call_id, f"Conversation avec un conseiller terminée ({talk} s).")
            agent = s.get(Agent, entry.answered_by_agent_id) if entry.answered_by_agent_id else None
            if agent is not None and agent.state is AgentState.ON_CALL:
                self._agent_to(uow, agent, AgentState.WRAP_UP)
            return agent.id if agent is not None else None

    def transferred(self, entry_id: int, note: str) -> int | None:
        """The agent passed the caller on: their conversation ends (the agent goes to wrap-up), with the trail on
        the ticket. Returns the agent's id (None when the conversation was already over)."""
        with unit_of_work(self.engine, self.bus) as uow:
            s = uow.session
            entry = s.get(QueueEntry, entry_id)
            if entry is None or entry.state is not QueueEntryState.ANSWERED or entry.left_at is not None:
                return None
            _note(s, entry.call_id, note)
        return self.conversation_ended(entry_id)

    def note_on_entry(self, entry_id: int, note: str) -> None:
        """A line on the ticket of the entry's call."""
        with unit_of_work(self.engine, self.bus) as uow:
            entry = uow.session.get(QueueEntry, entry_id)
            if entry is not None:
                _note(uow.session, entry.call_id, note)

    def requeue(self, entry_id: int, *, topic: str | None, target_agent_id: int | None) -> int:
        """The caller of a closed entry waits again, at the front (a transfer to an agent or a skill, or a
        service that did not answer): a new entry with the same call, words and number."""
        with unit_of_work(self.engine, self.bus) as uow:
            s = uow.session
            old = s.get(QueueEntry, entry_id)
            assert old is not None
            entry = QueueEntry(
                call_id=old.call_id, channel_id=old.channel_id, caller_phone=old.caller_phone, topic=topic,
                faq_id=old.faq_id, priority=PRIORITY_TRANSFER, reason="transfer", transcript=old.transcript,
                target_agent_id=target_agent_id,
            )  # fmt: skip
            s.add(entry)
            s.flush()
            assert entry.id is not None
            uow.publish(events.QueueChanged(entry_id=entry.id, call_id=entry.call_id, state=entry.state.value))
            return entry.id

    def end_wrap_up(self, agent_id: int) -> bool:
        """The wrap-up is over (timer or request): available, and the last call's handle time is measured.
        False when the agent was not in wrap-up (nothing changed)."""
        with unit_of_work(self.engine, self.bus) as uow:
            s = uow.session
            agent = s.get(Agent, agent_id)
            if agent is None or agent.state is not AgentState.WRAP_UP:
                return False
            last = s.exec(
                select(QueueEntry)
                .where(QueueEntry.answered_by_agent_id == agent_id, col(QueueEntry.wrapped_up_at).is_(None))
                .order_by(col(QueueEntry.answered_at).desc())
            ).first()
            if last is not None and last.left_at is not None:
                last.wrapped_up_at = utc_now()
                s.add(last)
            self._agent_to(uow, agent, AgentState.AVAILABLE)
            return True

    # --- agents
    def set_agent_state(self, agent_id: int, state: AgentState, reason: str | None = None) -> Agent:
        with unit_of_work(self.engine, self.bus) as uow:
            agent = uow.session.get(Agent, agent_id)
            if agent is None:
                raise QueueConflictError(f"no agent {agent_id}")
            self._agent_to(uow, agent, state, reason=reason)
            uow.session.refresh(agent)
            return agent

    def agent(self, agent_id: int) -> Agent | None:
        with unit_of_work(self.engine, None, write=False) as uow:
            return uow.session.get(Agent, agent_id)

    def agents_in(self, states: Sequence[AgentState]) -> list[Agent]:
        with unit_of_work(self.engine, None, write=False) as uow:
            return list(
                uow.session.exec(select(Agent).where(col(Agent.state).in_(list(states)), col(Agent.active).is_(True)))
            )

    def _agent_to(self, uow: UnitOfWork, agent: Agent, state: AgentState, reason: str | None = None) -> None:
        move_agent_in(uow, agent, state, reason=reason)


def waited_s(entry: QueueEntry, now: datetime | None = None) -> float:
    end = entry.answered_at or entry.left_at or now or utc_now()
    return (end - entry.enqueued_at).total_seconds()
