"""What the IVR writes and reads in the database. Blocking calls: the runtime runs them in worker threads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from hotline.domain.enums import CallOutcome, TicketStatus
from hotline.storage import repository
from hotline.storage.db import session_scope
from hotline.storage.models import Call, CallCreate, CallEvent, Ticket, TicketCreate, utc_now
from kb.loader import KnowledgeBase

# How each call outcome leaves the ticket that every call becomes.
TICKET_STATUS_BY_OUTCOME = {
    CallOutcome.SELF_SERVED: TicketStatus.RESOLVED,  # the knowledge base answered, the caller said so
    CallOutcome.TO_AGENT: TicketStatus.IN_PROGRESS,
    CallOutcome.CALLBACK_REQUESTED: TicketStatus.WAITING_CALLBACK,
    CallOutcome.ABANDONED: TicketStatus.CLOSED,  # nothing to follow up; kept for the figures
    CallOutcome.FALLBACK: TicketStatus.OPEN,  # the app was down: an agent must look at it
    CallOutcome.IN_PROGRESS: TicketStatus.OPEN,
}

SUBJECT_BY_OUTCOME = {
    CallOutcome.SELF_SERVED: "Réponse donnée par le serveur vocal",
    CallOutcome.TO_AGENT: "Appel transféré à un conseiller",
    CallOutcome.CALLBACK_REQUESTED: "Demande de rappel",
    CallOutcome.ABANDONED: "Appel abandonné",
    CallOutcome.FALLBACK: "Appel reçu pendant une panne du serveur vocal",
    CallOutcome.IN_PROGRESS: "Appel en cours",
}


@dataclass(frozen=True)
class TicketInfo:
    found: bool
    status: TicketStatus | None
    subject: str | None


@dataclass(frozen=True)
class TimelineStep:
    at: datetime
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class OpenCall:
    """A call row not closed yet (outcome in_progress), with its timeline in order."""

    call_id: int
    channel_id: str
    started_at: datetime
    timeline: tuple[TimelineStep, ...]


class CallStore:
    """Persistence of calls, their timelines and their tickets, over SQLModel."""

    def __init__(self, engine: Engine, kb: KnowledgeBase) -> None:
        self.engine = engine
        self.kb = kb

    def start_call(self, channel_id: str, caller: str | None, called: str, crisis_mode: bool = False) -> int:
        with session_scope(self.engine) as session:
            call = repository.create_call(
                session,
                CallCreate(
                    channel_id=channel_id, caller_number=caller or None, called_number=called, crisis_mode=crisis_mode
                ),
            )
            call.answered_at = utc_now()
            repository.record_call_event(session, _id(call.id), "stasis_start", {"caller": caller, "called": called})
            return _id(call.id)

    def record_event(self, call_id: int, kind: str, data: dict[str, Any]) -> None:
        self.record_events([(call_id, kind, data)])

    def record_events(self, events: list[tuple[int, str, dict[str, Any]]]) -> None:
        """Several timeline steps (of any calls) in one transaction."""
        with session_scope(self.engine) as session:
            for call_id, kind, data in events:
                repository.record_call_event(session, call_id, kind, data)

    def lookup_ticket(self, dossier_number: str) -> TicketInfo:
        with session_scope(self.engine) as session:
            ticket = repository.find_ticket_by_dossier(session, dossier_number)
            if ticket is None:
                return TicketInfo(False, None, None)
            return TicketInfo(True, ticket.status, ticket.subject)

    def create_ticket(
        self, call_id: int, reason: str, faq_id: str | None, needs_callback: bool, outcome: CallOutcome | None = None
    ) -> str:
        """A ticket for the call (the human path); returns its dossier number."""
        with session_scope(self.engine) as session:
            call = session.get(Call, call_id)
            entry = self.kb.get(faq_id) if faq_id else None
            subject = entry.title if entry else _reason_subject(reason)
            ticket = repository.create_ticket(
                session,
                TicketCreate(
                    call_id=call_id,
                    caller_phone=call.caller_number if call else None,
                    subject=subject,
                    faq_id=faq_id,
                    service=entry.service if entry else None,
                    needs_callback=needs_callback,
                    priority=entry.priority if entry else 50,
                ),
            )
            if needs_callback:
                repository.change_ticket_status(session, ticket, TicketStatus.WAITING_CALLBACK, reason=reason)
            ticket.outcome = outcome
            repository.record_call_event(session, call_id, "ticket_created", {"dossier": ticket.dossier_number})
            return ticket.dossier_number

    def keep_unmatched(self, call_id: int, text: str, best_faq_id: str | None, score: float) -> None:
        """What the caller said that nothing answered confidently, for the knowledge editors' review list."""
        with session_scope(self.engine) as session:
            repository.record_unmatched(session, text, best_faq_id=best_faq_id, best_score=score, call_id=call_id)

    def open_calls(self, started_before: datetime) -> list[OpenCall]:
        """Calls still in progress that started before `started_before` (those a previous process left)."""
        with session_scope(self.engine, write=False) as session:
            calls = session.exec(
                select(Call).where(Call.outcome == CallOutcome.IN_PROGRESS, Call.started_at < started_before)
            ).all()
            result = []
            for call in calls:
                steps = session.exec(
                    select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.at, CallEvent.id)  # type: ignore[arg-type]
                ).all()
                timeline = tuple(TimelineStep(e.at, e.kind, dict(e.data)) for e in steps)
                result.append(OpenCall(_id(call.id), call.channel_id, call.started_at, timeline))
            return result

    def finish_call(
        self,
        call_id: int,
        outcome: CallOutcome,
        faq_id: str | None,
        transcript: str | None = None,
        ended_at: datetime | None = None,
    ) -> str:
        """Close the call with its outcome; every call becomes a ticket. Returns the ticket's dossier number.
        `ended_at`: when it ended, if not now (a call closed after the app was down)."""
        with session_scope(self.engine) as session:
            call = session.get(Call, call_id)
            if call is None:
                raise LookupError(f"no call {call_id}")
            call.ended_at = ended_at or utc_now()
            call.outcome = outcome
            call.faq_id = faq_id or call.faq_id
            if call.faq_id and (entry := self.kb.get(call.faq_id)):
                call.topic = entry.topic
            if transcript:
                call.transcript = transcript
            repository.record_call_event(session, call_id, "hangup", {"outcome": outcome.value}, at=call.ended_at)
            ticket = session.exec(select(Ticket).where(Ticket.call_id == call_id)).first()
            if ticket is None:
                entry = self.kb.get(call.faq_id) if call.faq_id else None
                ticket = repository.create_ticket(
                    session,
                    TicketCreate(
                        call_id=call_id,
                        caller_phone=call.caller_number,
                        subject=entry.title if entry else SUBJECT_BY_OUTCOME[outcome],
                        faq_id=call.faq_id,
                        service=entry.service if entry else None,
                    ),
                )
            ticket.outcome = outcome
            target = TICKET_STATUS_BY_OUTCOME[outcome]
            if ticket.status != target and not (ticket.needs_callback and outcome is CallOutcome.ABANDONED):
                repository.change_ticket_status(session, ticket, target, reason=f"call {outcome.value}")
            session.add(ticket)
            return ticket.dossier_number


def _reason_subject(reason: str) -> str:
    return f"Demande de rappel ({reason})" if reason else "Demande de rappel"


def _id(value: int | None) -> int:
    if value is None:
        raise ValueError("row has no id")
    return value
