"""What an agent's desk shows, read from the database: their own state and call, and the waiting callers.

Shared by the JSON API (/api/agents/me, /api/queue) and the console's server-rendered parts, so both always
say the same thing.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Session, col, or_, select

from hotline.domain.enums import AgentState, QueueEntryState
from hotline.domain.queue import WaitingCaller, position_of, queue_order
from hotline.domain.roles import Role
from hotline.services.queue import waited_s
from hotline.storage import repository
from hotline.storage.models import Agent, AgentStateChange, QueueEntry, Ticket, utc_now

EARLIER_TICKETS = 5  # on the agent's screen: the caller's last requests


class AgentNotFoundError(LookupError):
    pass


class EarlierTicket(BaseModel):
    dossier: str
    subject: str
    status: str
    created_at: datetime


class CurrentCall(BaseModel):
    entry_id: int
    call_id: int
    caller_phone: str | None
    topic: str | None
    faq_id: str | None
    reason: str | None
    transcript: str | None
    waited_s: float
    state: QueueEntryState
    dossier: str | None = None  # the call's ticket
    earlier_tickets: list[EarlierTicket] = []


class Me(BaseModel):
    login: str
    name: str
    role: Role
    state: AgentState
    since: datetime
    reason: str | None
    skills: list[str]
    call: CurrentCall | None  # the caller offered (ringing) or being talked to


class WaitingCallerView(BaseModel):
    entry_id: int
    call_id: int
    position: int
    waited_s: float
    priority: int
    topic: str | None
    faq_id: str | None
    reason: str | None
    transcript: str | None
    caller_phone: str | None
    earlier_tickets: list[EarlierTicket]


def earlier_tickets(session: Session, phone: str | None, call_id: int) -> list[EarlierTicket]:
    """The number's latest requests other than this call's own, newest first."""
    if not phone:
        return []
    own = repository.ticket_of_call(session, call_id)
    query = (
        select(Ticket)
        .where(
            Ticket.caller_phone == phone,
            or_(col(Ticket.call_id).is_(None), col(Ticket.call_id) != call_id),
        )
        .order_by(col(Ticket.created_at).desc())
        .limit(EARLIER_TICKETS + 1)
    )
    tickets = [t for t in session.exec(query) if own is None or t.id != own.id][:EARLIER_TICKETS]
    return [EarlierTicket(dossier=t.dossier_number, subject=t.subject, status=t.status.value,
                          created_at=t.created_at) for t in tickets]  # fmt: skip


def my_desk(session: Session, agent_id: int) -> Me:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise AgentNotFoundError(agent_id)
    session.refresh(agent)
    last = session.exec(
        select(AgentStateChange).where(AgentStateChange.agent_id == agent_id).order_by(col(AgentStateChange.id).desc())
    ).first()
    entry = session.exec(
        select(QueueEntry)
        .where(
            (col(QueueEntry.offered_agent_id) == agent_id) & (QueueEntry.state == QueueEntryState.OFFERED)
            | (col(QueueEntry.answered_by_agent_id) == agent_id)
            & (QueueEntry.state == QueueEntryState.ANSWERED)
            & col(QueueEntry.left_at).is_(None)
        )
        .order_by(col(QueueEntry.id).desc())
    ).first()
    call = None
    if entry is not None and entry.id is not None:
        ticket = repository.ticket_of_call(session, entry.call_id)
        call = CurrentCall(
            entry_id=entry.id,
            call_id=entry.call_id,
            caller_phone=entry.caller_phone,
            topic=entry.topic,
            faq_id=entry.faq_id,
            reason=entry.reason,
            transcript=entry.transcript,
            waited_s=round(waited_s(entry), 1),
            state=entry.state,
            dossier=ticket.dossier_number if ticket is not None else None,
            earlier_tickets=earlier_tickets(session, entry.caller_phone, entry.call_id),
        )
    return Me(
        login=agent.login,
        name=agent.display_name,
        role=agent.role,
        state=agent.state,
        since=agent.state_changed_at,
        reason=last.reason if last is not None and last.to_state is agent.state else None,
        skills=list(agent.skills),
        call=call,
    )


def waiting_callers(session: Session) -> list[WaitingCallerView]:
    """The callers waiting for a person, in the order they will be answered."""
    entries = list(session.exec(select(QueueEntry).where(QueueEntry.state == QueueEntryState.WAITING)))
    callers = [WaitingCaller(e.id, e.priority, e.enqueued_at, e.topic) for e in entries if e.id is not None]
    by_id = {e.id: e for e in entries}
    now = utc_now()
    return [
        WaitingCallerView(
            entry_id=caller.entry_id,
            call_id=entry.call_id,
            position=position_of(caller.entry_id, callers) or 0,
            waited_s=round(waited_s(entry, now), 1),
            priority=entry.priority,
            topic=entry.topic,
            faq_id=entry.faq_id,
            reason=entry.reason,
            transcript=entry.transcript,
            caller_phone=entry.caller_phone,
            earlier_tickets=earlier_tickets(session, entry.caller_phone, entry.call_id),
        )
        for caller in queue_order(callers)
        for entry in (by_id[caller.entry_id],)
    ]
