"""What the IVR writes and reads in the database. Blocking calls: the runtime runs them in worker threads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from hotline import bus as events
from hotline.bus import EventBus
from hotline.domain.enums import CallOutcome
from hotline.services.tickets import TicketInfo, TicketService
from hotline.services.unit_of_work import unit_of_work
from hotline.storage import repository
from hotline.storage.models import Call, CallCreate, CallEvent, utc_now
from kb.loader import KnowledgeBase
from kb.territory import Territory, default_territory

__all__ = ["CallStore", "TicketInfo"]


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
    """Persistence of calls and their timelines; their tickets go through the ticket service."""

    def __init__(
        self, engine: Engine, kb: KnowledgeBase, bus: EventBus | None = None, territory: Territory | None = None
    ) -> None:
        self.engine = engine
        self.kb = kb
        self.bus = bus
        self.territory = territory or default_territory()
        self.tickets = TicketService(engine, bus, kb)

    def start_call(self, channel_id: str, caller: str | None, called: str, crisis_mode: bool = False) -> int:
        with unit_of_work(self.engine, self.bus) as uow:
            call = repository.create_call(
                uow.session,
                CallCreate(
                    channel_id=channel_id, caller_number=caller or None, called_number=called, crisis_mode=crisis_mode
                ),
            )
            call.answered_at = utc_now()
            call_id = _id(call.id)
            repository.record_call_event(uow.session, call_id, "stasis_start", {"caller": caller, "called": called})
            uow.publish(events.CallStarted(call_id=call_id, channel_id=channel_id, crisis_mode=crisis_mode))
            return call_id

    def record_event(self, call_id: int, kind: str, data: dict[str, Any]) -> None:
        self.record_events([(call_id, kind, data, utc_now())])

    def record_events(self, steps: list[tuple[int, str, dict[str, Any], datetime]]) -> None:
        """Several timeline steps (of any calls) in one transaction, each at the time it happened."""
        with unit_of_work(self.engine, None) as uow:
            for call_id, kind, data, at in steps:
                repository.record_call_event(uow.session, call_id, kind, data, at=at)

    def lookup_ticket(self, dossier_number: str) -> TicketInfo:
        return self.tickets.lookup(dossier_number)

    def create_ticket(
        self,
        call_id: int,
        reason: str,
        faq_id: str | None,
        needs_callback: bool,
        message: tuple[str, float] | None = None,
    ) -> str:
        """A ticket for the call (the human path); returns its dossier number. `message`: the caller's recorded
        message (its name in Asterisk's recordings and its length), noted on the ticket."""
        with unit_of_work(self.engine, self.bus) as uow:
            call = uow.session.get(Call, call_id)
            ticket = self.tickets.open_for_caller_in(
                uow,
                call_id=call_id,
                caller_phone=call.caller_number if call else None,
                reason=reason,
                faq_id=faq_id,
                needs_callback=needs_callback,
            )
            repository.record_call_event(uow.session, call_id, "ticket_created", {"dossier": ticket.dossier_number})
            if message is not None:
                name, seconds = message
                note = f"Message de l'appelant ({round(seconds)} s), enregistrement {name}.wav."
                repository.add_ticket_note(uow.session, ticket, note)
                repository.record_call_event(uow.session, call_id, "message_kept", {"recording": name})
            return ticket.dossier_number

    def keep_unmatched(self, call_id: int, text: str, best_faq_id: str | None, score: float) -> None:
        """What the caller said that nothing answered confidently, for the knowledge editors' review list."""
        with unit_of_work(self.engine, None) as uow:
            repository.record_unmatched(uow.session, text, best_faq_id=best_faq_id, best_score=score, call_id=call_id)

    def open_calls(self, started_before: datetime) -> list[OpenCall]:
        """Calls still in progress that started before `started_before` (those a previous process left)."""
        with unit_of_work(self.engine, None, write=False) as uow:
            session = uow.session
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
        with unit_of_work(self.engine, self.bus) as uow:
            session = uow.session
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
            call.commune = call.commune or self.territory.commune_in(call.transcript)
            session.add(call)
            repository.record_call_event(session, call_id, "hangup", {"outcome": outcome.value}, at=call.ended_at)
            ticket = self.tickets.settle_after_call_in(
                uow,
                repository.ticket_of_call(session, call_id),
                call_id=call_id,
                caller_phone=call.caller_number,
                faq_id=call.faq_id,
                outcome=outcome,
            )
            uow.publish(
                events.CallEnded(call_id=call_id, outcome=outcome, topic=call.topic, dossier=ticket.dossier_number)
            )
            return ticket.dossier_number


def _id(value: int | None) -> int:
    if value is None:
        raise ValueError("row has no id")
    return value
