"""What the ticket pages show: a search (by dossier number, phone number or words) and one ticket with its notes,
history, calls, recordings and the caller's other requests. Read-only: changes go through the ticket service."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists
from sqlmodel import Session, col, or_, select

from hotline.domain import dossier
from hotline.domain import tickets as rules
from hotline.domain.enums import CallOutcome, TicketStatus
from hotline.storage import repository
from hotline.storage.models import Agent, Call, CallEvent, Ticket, TicketCall, TicketNote, TicketStatusChange

RESULTS_SHOWN = 50
MIN_WORD = 2  # shorter words ("d", "l") would match every ticket
_WORD = re.compile(r"[\w'’-]+")


@dataclass(frozen=True)
class Search:
    query: str
    kind: str  # "recent", "dossier", "phone" or "words"
    tickets: list[Ticket]
    problem: str | None = None  # said to the agent (a dossier number whose check digit is wrong)


def phone_variants(digits: str) -> set[str]:
    """The forms a French number may be stored in: as dialled, national (0…) and E.164 (+33…)."""
    bare = digits.removeprefix("+")
    found = {digits, bare}
    if len(bare) == 10 and bare.startswith("0"):
        found |= {"+33" + bare[1:], "33" + bare[1:]}
    if len(bare) == 11 and bare.startswith("33"):
        found |= {"0" + bare[2:], "+" + bare}
    return found


def search(session: Session, query: str) -> Search:
    text = query.strip()
    latest = select(Ticket).order_by(col(Ticket.created_at).desc()).limit(RESULTS_SHOWN)
    if not text:
        return Search(text, "recent", list(session.exec(latest)))
    compact = dossier.normalize(text)
    if compact and all(c in dossier.DIGITS for c in compact.removeprefix("+")):
        if len(compact) == dossier.DOSSIER_LENGTH and compact[0] != "0":
            number = dossier.parse(compact)
            if number is None:
                return Search(text, "dossier", [], problem=(
                    f"« {text} » n'est pas un numéro de dossier valide : le dernier chiffre (chiffre de contrôle) "
                    "ne correspond pas. Vérifiez un chiffre mal lu ou deux chiffres inversés."))  # fmt: skip
            found = repository.find_ticket_by_dossier(session, number)
            return Search(text, "dossier", [found] if found is not None else [])
        phones = phone_variants(compact)
        by_phone = latest.where(col(Ticket.caller_phone).in_(phones))
        return Search(text, "phone", list(session.exec(by_phone)))
    words = [w for w in _WORD.findall(text) if len(w) >= MIN_WORD]
    query_rows = latest
    for word in words:
        like = f"%{word}%"
        query_rows = query_rows.where(
            or_(
                col(Ticket.subject).ilike(like),
                col(Ticket.resolution).ilike(like),
                exists().where(col(TicketNote.ticket_id) == Ticket.id, col(TicketNote.body).ilike(like)),
                exists().where(col(Call.id) == Ticket.call_id, col(Call.transcript).ilike(like)),
            )
        )
    return Search(text, "words", list(session.exec(query_rows)) if words else [])


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    from_status: TicketStatus | None
    to_status: TicketStatus
    by: str  # the agent's name, or "serveur vocal"
    reason: str | None


@dataclass(frozen=True)
class NoteLine:
    at: datetime
    by: str
    body: str


@dataclass(frozen=True)
class CallLine:
    call: Call
    talk_s: float | None
    has_message: bool


@dataclass
class TicketPage:
    ticket: Ticket
    history: list[HistoryLine]
    notes: list[NoteLine]
    calls: list[CallLine]
    others: list[Ticket]
    moves: list[TicketStatus] = field(default_factory=list)  # the status buttons, in workflow order


SYSTEM = "serveur vocal"
WORKFLOW_ORDER = [TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_CALLBACK, TicketStatus.ESCALATED,
                  TicketStatus.RESOLVED, TicketStatus.CLOSED]  # fmt: skip


def moves_from(status: TicketStatus) -> list[TicketStatus]:
    return [s for s in WORKFLOW_ORDER if rules.can_change(status, s)]


def ticket_page(session: Session, number: str) -> TicketPage | None:
    ticket = repository.find_ticket_by_dossier(session, number)
    if ticket is None or ticket.id is None:
        return None
    names = {a.id: a.display_name for a in session.exec(select(Agent))}
    history = [
        HistoryLine(h.at, h.from_status, h.to_status, names.get(h.by_agent_id, SYSTEM), h.reason)
        for h in session.exec(
            select(TicketStatusChange)
            .where(TicketStatusChange.ticket_id == ticket.id)
            .order_by(col(TicketStatusChange.id))
        )
    ]
    notes = [
        NoteLine(n.at, names.get(n.author_agent_id, SYSTEM), n.body)
        for n in session.exec(select(TicketNote).where(TicketNote.ticket_id == ticket.id).order_by(col(TicketNote.id)))
    ]
    call_ids = [ticket.call_id] if ticket.call_id is not None else []
    call_ids += [link.call_id for link in session.exec(select(TicketCall).where(TicketCall.ticket_id == ticket.id))]
    calls = []
    for call_id in call_ids:
        call = session.get(Call, call_id)
        if call is None:
            continue
        talk = (call.ended_at - call.started_at).total_seconds() if call.ended_at else None
        kept = session.exec(
            select(CallEvent.id).where(CallEvent.call_id == call_id, CallEvent.kind == "message_kept")
        ).first()
        calls.append(CallLine(call, talk, kept is not None))
    others: list[Ticket] = []
    if ticket.caller_phone:
        others = list(
            session.exec(
                select(Ticket)
                .where(Ticket.caller_phone == ticket.caller_phone, Ticket.id != ticket.id)
                .order_by(col(Ticket.created_at).desc())
                .limit(RESULTS_SHOWN)
            )
        )
    return TicketPage(ticket, history, notes, calls, others, moves_from(ticket.status))


OUTCOME_LABELS: dict[CallOutcome, str] = {
    CallOutcome.SELF_SERVED: "répondu par le serveur vocal",
    CallOutcome.TO_AGENT: "passé à un conseiller",
    CallOutcome.CALLBACK_REQUESTED: "rappel demandé",
    CallOutcome.ABANDONED: "raccroché",
    CallOutcome.FALLBACK: "reçu pendant une panne",
    CallOutcome.IN_PROGRESS: "en cours",
}
