"""The storage operations the IVR and the console call.

Each function adds rows and flushes (so ids are set) but never commits: the caller owns the unit of work,
typically `with session_scope(engine) as session: ...`. Every change of a ticket's status or an agent's
state writes its history row in the same transaction. `at` parameters default to now and exist for tests
and for replaying events with their own timestamps.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from hotline.domain import dossier, tickets
from hotline.domain.enums import AgentState, TicketStatus
from hotline.storage.models import (
    Agent,
    AgentStateChange,
    AuditLog,
    Call,
    Callback,
    CallCreate,
    CallEvent,
    Ticket,
    TicketCall,
    TicketCreate,
    TicketNote,
    TicketStatusChange,
    UnmatchedUtterance,
    utc_now,
)

# Random 7-digit bodies: even with a million tickets a draw collides about 11% of the time, so 20 draws
# all colliding (about 1e-19) means something else is wrong.
MAX_DOSSIER_ATTEMPTS = 20
CRISIS_ROW_ID = 1  # crisis_state holds one row


class DossierNumbersExhaustedError(RuntimeError):
    """No free dossier number was found in MAX_DOSSIER_ATTEMPTS draws."""


def _require_id(row_id: int | None, what: str) -> int:
    if row_id is None:
        raise ValueError(f"{what} has no id yet: add it to the session and flush first")
    return row_id


H = TypeVar("H", bound=SQLModel)


def change_with_history(
    session: Session, row: SQLModel, attribute: str, new: object, history: Callable[[], H]
) -> H | None:
    """Set `row.<attribute>` to `new` and add the history row `history()` builds, in the caller's unit of work;
    None (and no history row) when the row is already there. Tickets, agents, queue entries, callbacks and
    alert recipients all keep their state changes this way."""
    if getattr(row, attribute) == new:
        return None
    entry = history()
    setattr(row, attribute, new)
    session.add_all([row, entry])
    session.flush()
    return entry


# --------------------------------------------------------------------------------------------- calls


def create_call(session: Session, call_in: CallCreate) -> Call:
    """The Call row for a new channel (at StasisStart)."""
    call = Call.model_validate(call_in, update={"started_at": call_in.started_at or utc_now()})
    session.add(call)
    session.flush()
    return call


def record_call_event(
    session: Session,
    call_id: int,
    kind: str,
    data: Mapping[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> CallEvent:
    """One step of a call's timeline; `data` must be JSON-serialisable."""
    event = CallEvent(call_id=call_id, kind=kind, data=dict(data or {}), at=at or utc_now())
    session.add(event)
    session.flush()
    return event


# ------------------------------------------------------------------------------------------- tickets


def _dossier_taken(session: Session, number: str) -> bool:
    return session.exec(select(Ticket.id).where(Ticket.dossier_number == number)).first() is not None


def create_ticket(
    session: Session,
    ticket_in: TicketCreate,
    *,
    by_agent_id: int | None = None,
    rng: random.Random | None = None,
    at: datetime | None = None,
) -> Ticket:
    """A new open ticket with a fresh dossier number, and the first row of its status history."""
    now = at or utc_now()
    for _ in range(MAX_DOSSIER_ATTEMPTS):
        number = dossier.new_dossier_number(rng)
        if _dossier_taken(session, number):
            continue
        ticket = Ticket.model_validate(
            ticket_in, update={"dossier_number": number, "created_at": now, "updated_at": now}
        )
        try:
            # A savepoint, so that losing a race for the number does not roll back the caller's work.
            with session.begin_nested():
                session.add(ticket)
                session.flush()
        except IntegrityError:
            if not _dossier_taken(session, number):
                raise  # some other constraint failed (e.g. an unknown call_id)
            continue
        history = TicketStatusChange(
            ticket_id=_require_id(ticket.id, "ticket"),
            from_status=None,
            to_status=ticket.status,
            at=now,
            by_agent_id=by_agent_id,
        )
        session.add(history)
        session.flush()
        return ticket
    raise DossierNumbersExhaustedError(f"no free dossier number after {MAX_DOSSIER_ATTEMPTS} draws")


def find_ticket_by_dossier(session: Session, number: str) -> Ticket | None:
    """The ticket with this dossier number (spaces, dots, dashes allowed); None if invalid or unknown."""
    canonical = dossier.parse(number)
    if canonical is None:
        return None  # a typing error: no need to ask the database
    return session.exec(select(Ticket).where(Ticket.dossier_number == canonical)).one_or_none()


def change_ticket_status(
    session: Session,
    ticket: Ticket,
    new_status: TicketStatus,
    *,
    by_agent_id: int | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> TicketStatusChange | None:
    """Move `ticket` to `new_status` and record the change; None (and no history row) if already there.

    No workflow check here: the ticket service checks the move against hotline.domain.tickets first."""
    old = ticket.status
    now = at or utc_now()
    change = change_with_history(
        session,
        ticket,
        "status",
        new_status,
        lambda: TicketStatusChange(
            ticket_id=_require_id(ticket.id, "ticket"),
            from_status=old,
            to_status=new_status,
            at=now,
            by_agent_id=by_agent_id,
            reason=reason,
        ),
    )
    if change is not None:
        ticket.updated_at = now
        ticket.resolved_at = tickets.resolved_at_after(new_status, ticket.resolved_at, now)
        session.add(ticket)
        session.flush()
    return change


def ticket_of_call(session: Session, call_id: int) -> Ticket | None:
    """The ticket a call belongs to: the one it opened, or the open one it joined."""
    own = session.exec(select(Ticket).where(Ticket.call_id == call_id)).first()
    if own is not None:
        return own
    link = session.get(TicketCall, call_id)
    return session.get(Ticket, link.ticket_id) if link is not None else None


def add_ticket_note(
    session: Session,
    ticket: Ticket,
    body: str,
    *,
    author_agent_id: int | None = None,
    at: datetime | None = None,
) -> TicketNote:
    """A note on `ticket` (author None: written by the system)."""
    now = at or utc_now()
    note = TicketNote(ticket_id=_require_id(ticket.id, "ticket"), author_agent_id=author_agent_id, body=body, at=now)
    ticket.updated_at = now
    session.add_all([ticket, note])
    session.flush()
    return note


def request_callback(
    session: Session,
    ticket: Ticket,
    *,
    due_at: datetime,
    phone: str | None = None,
    at: datetime | None = None,
) -> Callback:
    """A pending callback for `ticket`, to `phone` or else the ticket's caller phone."""
    number = phone or ticket.caller_phone
    if not number:
        raise ValueError("a callback needs a phone number and the ticket has none")
    now = at or utc_now()
    callback = Callback(ticket_id=_require_id(ticket.id, "ticket"), phone=number, requested_at=now, due_at=due_at)
    ticket.needs_callback = True
    ticket.updated_at = now
    session.add_all([ticket, callback])
    session.flush()
    return callback


# -------------------------------------------------------------------------------------------- agents


def set_agent_state(
    session: Session,
    agent: Agent,
    new_state: AgentState,
    *,
    reason: str | None = None,
    at: datetime | None = None,
) -> AgentStateChange | None:
    """Move `agent` to `new_state` and record the change; None (and no history row) if already there."""
    old = agent.state
    now = at or utc_now()
    change = change_with_history(
        session,
        agent,
        "state",
        new_state,
        lambda: AgentStateChange(
            agent_id=_require_id(agent.id, "agent"), from_state=old, to_state=new_state, at=now, reason=reason
        ),
    )
    if change is not None:
        agent.state_changed_at = now
        session.add(agent)
        session.flush()
    return change


# ------------------------------------------------------------------------------------ KB review, audit


def record_unmatched(
    session: Session,
    text: str,
    *,
    best_faq_id: str | None,
    best_score: float,
    call_id: int | None = None,
    at: datetime | None = None,
) -> UnmatchedUtterance:
    """What a caller said that nothing matched confidently, for the knowledge editors' review list."""
    utterance = UnmatchedUtterance(
        call_id=call_id, text=text, best_faq_id=best_faq_id, best_score=best_score, at=at or utc_now()
    )
    session.add(utterance)
    session.flush()
    return utterance


def audit(
    session: Session,
    actor: str,
    action: str,
    target: str = "",
    details: Mapping[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> AuditLog:
    """Record a supervisor's action (crisis mode on/off, export, KB edit...)."""
    row = AuditLog(actor=actor, action=action, target=target, details=dict(details or {}), at=at or utc_now())
    session.add(row)
    session.flush()
    return row
