"""The ticket service: every change of a ticket (by the IVR, the console, Open311, the queue) goes through here.

Each change is checked against the workflow (hotline.domain.tickets), written with its history row, and
announced on the bus after the commit. The `*_in` methods work inside a caller's unit of work (the IVR closes a
call and settles its ticket in one transaction); the others open their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from hotline import bus as events
from hotline.bus import EventBus
from hotline.domain import tickets as rules
from hotline.domain.enums import CallOutcome, TicketStatus
from hotline.domain.topics import topic
from hotline.services import callbacks
from hotline.services.unit_of_work import UnitOfWork, unit_of_work
from hotline.storage import repository
from hotline.storage.models import DEFAULT_PRIORITY as DEFAULT_ROW_PRIORITY
from hotline.storage.models import Ticket, TicketCall, TicketCreate, TicketNote, utc_now
from kb.loader import KnowledgeBase


class TicketNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class TicketInfo:
    """What a caller may hear of a ticket they follow up by its dossier number."""

    found: bool
    status: TicketStatus | None
    subject: str | None


def _id(value: int | None) -> int:
    if value is None:
        raise ValueError("row has no id")
    return value


def move_in(
    uow: UnitOfWork, ticket: Ticket, target: TicketStatus, *, by_agent_id: int | None = None, reason: str | None = None
) -> None:
    """Write an allowed move with its history row, announced after the commit (the caller checked the rules)."""
    old = ticket.status
    change = repository.change_ticket_status(uow.session, ticket, target, by_agent_id=by_agent_id, reason=reason)
    if change is not None:
        uow.publish(
            events.TicketStatusChanged(
                ticket_id=_id(ticket.id),
                dossier=ticket.dossier_number,
                from_status=old,
                to_status=target,
                by_agent_id=by_agent_id,
                reason=reason,
            )
        )


PICKED_UP_REASON = "appel pris"


def pick_up_in(uow: UnitOfWork, ticket: Ticket, agent_id: int) -> None:
    """An agent answered the ticket's call: it is theirs, and being worked on (unless already further on)."""
    ticket.assigned_agent_id = agent_id
    uow.session.add(ticket)
    if ticket.status in (TicketStatus.OPEN, TicketStatus.WAITING_CALLBACK):
        move_in(uow, ticket, TicketStatus.IN_PROGRESS, by_agent_id=agent_id, reason=PICKED_UP_REASON)


@dataclass(frozen=True)
class TicketDetails:
    """What an agent files a ticket under and how they resolved it."""

    category: str | None
    service: str | None
    resolution: str | None


class TicketService:
    def __init__(self, engine: Engine, bus: EventBus | None, kb: KnowledgeBase) -> None:
        self.engine = engine
        self.bus = bus
        self.kb = kb

    # ---- units of their own
    def lookup(self, dossier_number: str) -> TicketInfo:
        with unit_of_work(self.engine, self.bus, write=False) as uow:
            ticket = repository.find_ticket_by_dossier(uow.session, dossier_number)
            if ticket is None:
                return TicketInfo(False, None, None)
            return TicketInfo(True, ticket.status, ticket.subject)

    def change_status(
        self, ticket_id: int, target: TicketStatus, *, by_agent_id: int | None = None, reason: str | None = None
    ) -> Ticket:
        """Move a ticket on in the workflow; TransitionNotAllowedError (nothing written) if the move is refused."""
        with unit_of_work(self.engine, self.bus) as uow:
            ticket = self._get(uow, ticket_id)
            if ticket.status != target:
                rules.check_change(ticket.status, target)
                self.move_in(uow, ticket, target, by_agent_id=by_agent_id, reason=reason)
            return ticket

    def reopen(self, ticket_id: int, *, by_agent_id: int | None = None, reason: str | None = None) -> Ticket:
        with unit_of_work(self.engine, self.bus) as uow:
            ticket = self._get(uow, ticket_id)
            if not rules.can_reopen(ticket.status):
                raise rules.TransitionNotAllowedError(ticket.status, rules.REOPENED_STATUS)
            self.move_in(uow, ticket, rules.REOPENED_STATUS, by_agent_id=by_agent_id, reason=reason)
            return ticket

    def work_on(self, ticket_id: int, target: TicketStatus, *, by_agent_id: int, reason: str | None = None) -> Ticket:
        """An agent's status button: a move the workflow allows, or "rouvrir" a resolved or closed ticket."""
        with unit_of_work(self.engine, self.bus) as uow:
            ticket = self._get(uow, ticket_id)
            if ticket.status == target:
                return ticket
            if target == rules.REOPENED_STATUS and rules.can_reopen(ticket.status):
                self.move_in(uow, ticket, target, by_agent_id=by_agent_id, reason=reason or rules.REOPEN_LABEL)
            else:
                rules.check_change(ticket.status, target)
                self.move_in(uow, ticket, target, by_agent_id=by_agent_id, reason=reason)
            return ticket

    def add_note(self, ticket_id: int, body: str, *, by_agent_id: int) -> TicketNote:
        text = body.strip()
        if not text:
            raise ValueError("une note vide n'est pas enregistrée")
        with unit_of_work(self.engine, self.bus) as uow:
            ticket = self._get(uow, ticket_id)
            return repository.add_ticket_note(uow.session, ticket, text, author_agent_id=by_agent_id)

    def update_details(self, ticket_id: int, change: TicketDetails, *, by_agent_id: int) -> list[str]:
        """Category, owning service and resolution text; each change is said in a note signed by the agent.
        Returns the French lines of that note (empty: nothing changed)."""
        topics = {e.topic for e in self.kb.entries}
        if change.category is not None and change.category not in topics:
            raise ValueError(f"catégorie inconnue : {change.category}")
        with unit_of_work(self.engine, self.bus) as uow:
            ticket = self._get(uow, ticket_id)
            lines = []
            for field, label in (("category", "Catégorie"), ("service", "Service"), ("resolution", "Résolution")):
                new = getattr(change, field)
                new = new.strip() or None if isinstance(new, str) else new
                if new != getattr(ticket, field):
                    setattr(ticket, field, new)
                    shown = topic(new) if field == "category" and new else new
                    lines.append(f"{label} : {shown or '(effacé)'}")
            if lines:
                repository.add_ticket_note(uow.session, ticket, "\n".join(lines), author_agent_id=by_agent_id)
            return lines

    # ---- inside a caller's unit of work
    def create_in(self, uow: UnitOfWork, ticket_in: TicketCreate, *, by_agent_id: int | None = None) -> Ticket:
        ticket = repository.create_ticket(uow.session, ticket_in, by_agent_id=by_agent_id)
        uow.publish(
            events.TicketCreated(
                ticket_id=_id(ticket.id), dossier=ticket.dossier_number, status=ticket.status, call_id=ticket.call_id
            )
        )
        return ticket

    def move_in(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        target: TicketStatus,
        *,
        by_agent_id: int | None = None,
        reason: str | None = None,
    ) -> None:
        """Write an allowed move with its history row (the caller has checked it against the rules)."""
        move_in(uow, ticket, target, by_agent_id=by_agent_id, reason=reason)

    def open_for_caller_in(
        self,
        uow: UnitOfWork,
        *,
        call_id: int,
        caller_phone: str | None,
        reason: str,
        faq_id: str | None,
        needs_callback: bool,
    ) -> Ticket:
        """The ticket of a caller handed to a person (a callback to make, when `needs_callback`). One call has one
        ticket: a call that already has one (asked again after the app was restarted) keeps it."""
        existing = repository.ticket_of_call(uow.session, call_id) or self._join_open_ticket_in(
            uow, call_id, caller_phone, faq_id
        )
        if existing is not None:
            if needs_callback and not existing.needs_callback:
                existing.needs_callback = True
                uow.session.add(existing)
            if needs_callback and rules.can_change(existing.status, TicketStatus.WAITING_CALLBACK):
                self.move_in(uow, existing, TicketStatus.WAITING_CALLBACK, reason=reason)
            if needs_callback:
                callbacks.request_in(uow, existing, call_id)
            return existing
        entry = self.kb.get(faq_id) if faq_id else None
        subject = rules.subject_for_callback(reason, entry.title if entry else None)
        ticket = self.create_in(
            uow,
            self._for_call(
                call_id,
                caller_phone,
                faq_id,
                subject,
                needs_callback=needs_callback,
                priority=entry.priority if entry else rules.DEFAULT_PRIORITY,  # a person will take it: by urgency
            ),
        )
        if needs_callback:
            self.move_in(uow, ticket, TicketStatus.WAITING_CALLBACK, reason=reason)
            callbacks.request_in(uow, ticket, call_id)
        return ticket

    def _join_open_ticket_in(
        self, uow: UnitOfWork, call_id: int, caller_phone: str | None, faq_id: str | None
    ) -> Ticket | None:
        """The caller's open ticket on the same topic, touched within the last week, which this call joins (a
        note says so); None when there is none (a new ticket is opened)."""
        entry = self.kb.get(faq_id) if faq_id else None
        if not caller_phone or entry is None:
            return None
        now = utc_now()
        candidates = uow.session.exec(
            select(Ticket)
            .where(Ticket.caller_phone == caller_phone, col(Ticket.faq_id).is_not(None))
            .order_by(col(Ticket.updated_at).desc())
        )
        for ticket in candidates:
            earlier = self.kb.get(ticket.faq_id) if ticket.faq_id else None
            same_topic = earlier is not None and earlier.topic == entry.topic
            if not same_topic or not rules.may_join(ticket.status, ticket.updated_at, now):
                continue
            uow.session.add(TicketCall(call_id=call_id, ticket_id=_id(ticket.id), joined_at=now))
            note = f"Nouvel appel du même numéro sur le même sujet ({entry.title})."
            repository.add_ticket_note(uow.session, ticket, note)
            return ticket
        return None

    def settle_after_call_in(
        self,
        uow: UnitOfWork,
        ticket: Ticket | None,
        *,
        call_id: int,
        caller_phone: str | None,
        faq_id: str | None,
        outcome: CallOutcome,
    ) -> Ticket:
        """Every call becomes a ticket: the call's own (made now if the call had none), moved to where the
        call's outcome leaves it."""
        if ticket is None:
            entry = self.kb.get(faq_id) if faq_id else None
            subject = rules.subject_for_call(outcome, entry.title if entry else None)
            ticket = self.create_in(uow, self._for_call(call_id, caller_phone, faq_id, subject))
        ticket.outcome = outcome
        uow.session.add(ticket)
        target = rules.status_after_call(ticket.status, outcome, ticket.needs_callback)
        if target is not None:
            self.move_in(uow, ticket, target, reason=f"call {outcome.value}")
        return ticket

    def _for_call(
        self,
        call_id: int,
        caller_phone: str | None,
        faq_id: str | None,
        subject: str,
        *,
        needs_callback: bool = False,
        priority: int = DEFAULT_ROW_PRIORITY,
    ) -> TicketCreate:
        """A call's ticket, filed under its knowledge-base entry's service."""
        entry = self.kb.get(faq_id) if faq_id else None
        return TicketCreate(
            call_id=call_id,
            caller_phone=caller_phone,
            subject=subject,
            faq_id=faq_id,
            service=entry.service if entry else None,
            needs_callback=needs_callback,
            priority=priority,
        )

    def _get(self, uow: UnitOfWork, ticket_id: int) -> Ticket:
        ticket = uow.session.get(Ticket, ticket_id)
        if ticket is None:
            raise TicketNotFoundError(f"no ticket {ticket_id}")
        return ticket
