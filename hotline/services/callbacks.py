"""Callbacks in the database: requested when a caller leaves for one, offered to an agent like a waiting caller,
then each attempt's result (hotline.domain.callbacks) kept on the callback, its attempts and its ticket.

As in the queue, every step two parties may take at once is a conditional update: two agents never get one
callback, and a callback being placed is not offered again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hotline import bus as events
from hotline.bus import EventBus
from hotline.domain.agent_states import MISSED_CALL_REASON
from hotline.domain.callbacks import FRENCH_RESULTS, AttemptResult, after_attempt
from hotline.domain.enums import AgentState, CallbackState
from hotline.domain.queue import WaitingCaller
from hotline.services.agents import move_agent_in, why_not_offerable
from hotline.services.unit_of_work import UnitOfWork, unit_of_work
from hotline.storage import repository
from hotline.storage.models import Agent, Callback, CallbackAttempt, QueueEntry, Ticket, utc_now

OPEN_STATES = (CallbackState.PENDING, CallbackState.IN_PROGRESS)


class CallbackConflictError(RuntimeError):
    """The callback or the agent is no longer in the state the step needs."""


class CallbackNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class PlacedCallback:
    """What dialling a callback needs."""

    callback_id: int
    attempt_id: int
    agent_id: int
    agent_endpoint: str
    agent_name: str
    phone: str
    attempt_number: int  # on the citizen: 1 for the first


@dataclass(frozen=True)
class CallbackView:
    """A callback as the API lists it."""

    callback: Callback
    dossier: str
    attempts: list[CallbackAttempt]


def request_in(uow: UnitOfWork, ticket: Ticket, call_id: int | None, now: datetime | None = None) -> Callback | None:
    """The callback of a ticket that needs one (None without a phone number). A ticket has one open callback at
    most; it keeps the place of the caller's queue entry when the caller came from the queue."""
    s = uow.session
    if not ticket.caller_phone:
        return None
    open_one = s.exec(
        select(Callback).where(Callback.ticket_id == ticket.id, col(Callback.state).in_(list(OPEN_STATES)))
    ).first()
    if open_one is not None:
        return open_one
    now = now or utc_now()
    callback = repository.request_callback(s, ticket, due_at=now, at=now)
    entry = (
        s.exec(
            select(QueueEntry).where(QueueEntry.call_id == call_id).order_by(col(QueueEntry.enqueued_at).desc())
        ).first()
        if call_id is not None
        else None
    )
    callback.call_id = call_id
    callback.place_at = entry.enqueued_at if entry is not None else now
    callback.priority = entry.priority if entry is not None else ticket.priority
    callback.topic = entry.topic if entry is not None else None
    s.add(callback)
    s.flush()
    assert callback.id is not None
    uow.publish(events.CallbackChanged(callback_id=callback.id, ticket_id=ticket.id or 0, state=callback.state.value))
    return callback


def _note(session: Session, ticket_id: int, body: str) -> None:
    ticket = session.get(Ticket, ticket_id)
    if ticket is not None:
        repository.add_ticket_note(session, ticket, body)


class CallbackService:
    def __init__(self, engine: Engine, bus: EventBus | None = None, max_attempts: int = 3, retry_s: float = 300.0):
        self.engine = engine
        self.bus = bus
        self.max_attempts = max_attempts
        self.retry_s = retry_s

    def due(self, now: datetime | None = None) -> list[WaitingCaller]:
        """The pending callbacks whose time has come, as callers in the queue's order (they keep their place)."""
        now = now or utc_now()
        with unit_of_work(self.engine, None, write=False) as uow:
            rows = uow.session.exec(
                select(Callback).where(Callback.state == CallbackState.PENDING, col(Callback.due_at) <= now)
            )
            return [
                WaitingCaller(0, c.priority, c.place_at or c.requested_at, c.topic, callback_id=c.id)
                for c in rows
                if c.id is not None
            ]

    def offer(self, callback_id: int, agent_id: int, *, anytime: bool = False) -> PlacedCallback:
        """Reserve the callback for the agent (available, or in wrap-up when they ask for it themselves) and open
        an attempt. `anytime`: an agent's "rappeler maintenant", even before it is due."""
        with unit_of_work(self.engine, self.bus) as uow:
            s = uow.session
            agent = s.get(Agent, agent_id)
            if (refusal := why_not_offerable(agent, agent_id)) is not None:
                raise CallbackConflictError(refusal)
            assert agent is not None
            now = utc_now()
            conditions = [col(Callback.id) == callback_id, col(Callback.state) == CallbackState.PENDING]
            if not anytime:
                conditions.append(col(Callback.due_at) <= now)
            taken = s.execute(
                update(Callback).where(*conditions).values(state=CallbackState.IN_PROGRESS, agent_id=agent_id)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                if s.get(Callback, callback_id) is None:
                    raise CallbackNotFoundError(f"no callback {callback_id}")
                raise CallbackConflictError("ce rappel n'attend plus d'être passé (déjà en cours ou terminé)")
            callback = s.get(Callback, callback_id)
            assert callback is not None
            s.refresh(callback)
            attempt = CallbackAttempt(callback_id=callback_id, agent_id=agent_id, started_at=now)
            s.add(attempt)
            s.flush()
            assert attempt.id is not None
            move_agent_in(uow, agent, AgentState.RINGING)
            uow.publish(
                events.CallbackChanged(
                    callback_id=callback_id, ticket_id=callback.ticket_id, state=callback.state.value, agent_id=agent_id
                )
            )
            return PlacedCallback(
                callback_id,
                attempt.id,
                agent_id,
                agent.sip_endpoint,
                agent.display_name,
                callback.phone,
                callback.attempts + 1,
            )

    def agent_answered(self, placed: PlacedCallback) -> None:
        """The agent picked up: on the call while the citizen's phone rings."""
        with unit_of_work(self.engine, self.bus) as uow:
            agent = uow.session.get(Agent, placed.agent_id)
            if agent is not None and agent.state is AgentState.RINGING:
                move_agent_in(uow, agent, AgentState.ON_CALL)

    def attempt_ended(self, placed: PlacedCallback, result: AttemptResult) -> CallbackState:
        """The attempt's result: kept on the attempt, the callback (again later, done or failed) and the ticket.
        The agent: paused "appel manqué" if they missed it, in wrap-up after an unanswered citizen."""
        with unit_of_work(self.engine, self.bus) as uow:
            s = uow.session
            callback = s.get(Callback, placed.callback_id)
            attempt = s.get(CallbackAttempt, placed.attempt_id)
            if callback is None or attempt is None or callback.state is not CallbackState.IN_PROGRESS:
                return callback.state if callback is not None else CallbackState.CANCELLED
            now = utc_now()
            attempt.ended_at, attempt.result = now, result.value
            outcome = after_attempt(result, callback.attempts, now, self.max_attempts, self.retry_s)
            callback.state, callback.attempts, callback.last_result = outcome.state, outcome.attempts, result.value
            if outcome.due_at is not None:
                callback.due_at = outcome.due_at
            if outcome.state in (CallbackState.DONE, CallbackState.FAILED):
                callback.done_at = now
            s.add_all([callback, attempt])
            agent = s.get(Agent, placed.agent_id)
            if result is not AttemptResult.AGENT_MISSED:
                _note(s, callback.ticket_id, self._attempt_note(callback, agent, result, outcome.state))
            if outcome.state is CallbackState.FAILED:
                ticket = s.get(Ticket, callback.ticket_id)
                if ticket is not None:
                    ticket.needs_callback = False
                    s.add(ticket)
            if agent is not None and result is not AttemptResult.ANSWERED:
                if agent.state is AgentState.RINGING:
                    reason = MISSED_CALL_REASON if result is AttemptResult.AGENT_MISSED else None
                    move_agent_in(uow, agent, AgentState.PAUSED if reason else AgentState.AVAILABLE, reason=reason)
                elif agent.state is AgentState.ON_CALL:  # they heard the citizen's phone ring: time to note it
                    move_agent_in(uow, agent, AgentState.WRAP_UP)
            uow.publish(
                events.CallbackChanged(
                    callback_id=placed.callback_id,
                    ticket_id=callback.ticket_id,
                    state=callback.state.value,
                    agent_id=placed.agent_id,
                    result=result.value,
                )
            )
            return callback.state

    def _attempt_note(
        self, callback: Callback, agent: Agent | None, result: AttemptResult, state: CallbackState
    ) -> str:
        who = agent.display_name if agent is not None else "un conseiller"
        said = f"Rappel, tentative {callback.attempts} sur {self.max_attempts} par {who} : {FRENCH_RESULTS[result]}."
        if state is CallbackState.FAILED:
            return f"{said} Rappel abandonné après {callback.attempts} tentatives."
        if state is CallbackState.PENDING:
            return f"{said} Nouvelle tentative dans {round(self.retry_s / 60)} min."
        return said

    def conversation_ended(self, placed: PlacedCallback, talk_s: float) -> None:
        """The callback's conversation is over: the agent goes to wrap-up."""
        with unit_of_work(self.engine, self.bus) as uow:
            s = uow.session
            callback = s.get(Callback, placed.callback_id)
            if callback is not None:
                _note(s, callback.ticket_id, f"Conversation de rappel terminée ({round(talk_s)} s).")
                ticket = s.get(Ticket, callback.ticket_id)
                if ticket is not None and ticket.needs_callback:
                    ticket.needs_callback = False
                    s.add(ticket)
            agent = s.get(Agent, placed.agent_id)
            if agent is not None and agent.state is AgentState.ON_CALL:
                move_agent_in(uow, agent, AgentState.WRAP_UP)

    def placed(self, callback_id: int) -> PlacedCallback | None:
        """An in-progress callback's dialling details (its open attempt), for the process that dials it."""
        with unit_of_work(self.engine, None, write=False) as uow:
            s = uow.session
            callback = s.get(Callback, callback_id)
            if callback is None or callback.state is not CallbackState.IN_PROGRESS or callback.agent_id is None:
                return None
            agent = s.get(Agent, callback.agent_id)
            attempt = s.exec(
                select(CallbackAttempt)
                .where(CallbackAttempt.callback_id == callback_id, col(CallbackAttempt.ended_at).is_(None))
                .order_by(col(CallbackAttempt.started_at).desc())
            ).first()
            if agent is None or attempt is None or attempt.id is None:
                return None
            return PlacedCallback(
                callback_id, attempt.id, agent.id or 0, agent.sip_endpoint, agent.display_name, callback.phone,
                callback.attempts + 1,
            )  # fmt: skip

    def conversations_left(self) -> list[tuple[PlacedCallback, datetime]]:
        """Callback conversations a previous run bridged and never saw end (the citizen answered, the agent is
        still on that call): each with the time the two were bridged."""
        with unit_of_work(self.engine, None, write=False) as uow:
            s = uow.session
            found: list[tuple[PlacedCallback, datetime]] = []
            answered = select(Callback).where(
                Callback.state == CallbackState.DONE, Callback.last_result == AttemptResult.ANSWERED.value
            )
            for callback in s.exec(answered):
                ticket = s.get(Ticket, callback.ticket_id)
                agent = s.get(Agent, callback.agent_id) if callback.agent_id is not None else None
                attempt = s.exec(
                    select(CallbackAttempt)
                    .where(CallbackAttempt.callback_id == callback.id)
                    .order_by(col(CallbackAttempt.started_at).desc())
                ).first()
                if (
                    ticket is None or not ticket.needs_callback  # the conversation's end clears it
                    or agent is None or agent.state is not AgentState.ON_CALL
                    or attempt is None or attempt.id is None or attempt.ended_at is None
                    or agent.state_changed_at > attempt.ended_at  # on another call since
                ):  # fmt: skip
                    continue
                assert callback.id is not None and agent.id is not None
                placed = PlacedCallback(
                    callback.id, attempt.id, agent.id, agent.sip_endpoint, agent.display_name, callback.phone,
                    callback.attempts,
                )  # fmt: skip
                found.append((placed, attempt.ended_at))
            return found

    def call_now(self, callback_id: int, agent_id: int) -> PlacedCallback:
        """An agent's "rappeler maintenant": the callback is theirs now, due or not (the queue dials it)."""
        return self.offer(callback_id, agent_id, anytime=True)

    def recover(self) -> int:
        """Callbacks a previous run was placing when it stopped: pending again, due now (that try is not counted:
        nobody can say how it ended). Returns how many."""
        with unit_of_work(self.engine, self.bus) as uow:
            s = uow.session
            stuck = list(s.exec(select(Callback).where(Callback.state == CallbackState.IN_PROGRESS)))
            for callback in stuck:
                callback.state, callback.due_at = CallbackState.PENDING, utc_now()
                s.add(callback)
                agent = s.get(Agent, callback.agent_id) if callback.agent_id is not None else None
                if agent is not None and agent.state is AgentState.RINGING:
                    move_agent_in(uow, agent, AgentState.AVAILABLE)  # its legs are hung up as nobody follows them
                elif agent is not None and agent.state is AgentState.ON_CALL:
                    move_agent_in(uow, agent, AgentState.WRAP_UP)  # ended at the restart, as the queue's are
                for attempt in s.exec(
                    select(CallbackAttempt).where(
                        CallbackAttempt.callback_id == callback.id, col(CallbackAttempt.ended_at).is_(None)
                    )
                ):
                    attempt.ended_at, attempt.result = utc_now(), "interrupted"
                    s.add(attempt)
            return len(stuck)

    def listed(self, limit: int = 200) -> list[CallbackView]:
        """Open callbacks first (by due time), then the most recent closed ones, each with its attempts."""
        with unit_of_work(self.engine, None, write=False) as uow:
            s = uow.session
            open_ones = list(
                s.exec(
                    select(Callback).where(col(Callback.state).in_(list(OPEN_STATES))).order_by(col(Callback.due_at))
                )
            )
            closed = list(
                s.exec(
                    select(Callback)
                    .where(col(Callback.state).not_in(list(OPEN_STATES)))
                    .order_by(col(Callback.requested_at).desc())
                    .limit(max(0, limit - len(open_ones)))
                )
            )
            views = []
            for callback in open_ones + closed:
                ticket = s.get(Ticket, callback.ticket_id)
                attempts = list(
                    s.exec(
                        select(CallbackAttempt)
                        .where(CallbackAttempt.callback_id == callback.id)
                        .order_by(col(CallbackAttempt.started_at))
                    )
                )
                views.append(CallbackView(callback, ticket.dossier_number if ticket else "", attempts))
            return views
