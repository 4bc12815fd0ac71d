"""A caller who calls again on the same topic within a week, while their request is open, joins its ticket
(SQLite and PostgreSQL); another topic, a resolved request or an older one opens a new ticket."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import select

from hotline.domain.enums import CallOutcome, TicketStatus
from hotline.settings import DEFAULT_KB_PATH
from hotline.storage import repository
from hotline.storage.db import session_scope
from hotline.storage.models import Ticket, TicketCall, TicketNote, utc_now
from ivr.runtime.store import CallStore
from kb.loader import load_kb

KB = load_kb(DEFAULT_KB_PATH)
PHONE = "0655555555"


def call_about(store: CallStore, n: int, faq_id: str, phone: str = PHONE) -> str:
    call_id = store.start_call(f"join-{n}", phone, "0800123456")
    dossier = store.create_ticket(call_id, "caller_asked", faq_id, needs_callback=True)
    store.finish_call(call_id, CallOutcome.CALLBACK_REQUESTED, faq_id)
    return dossier


def test_a_second_call_on_the_same_topic_joins_the_open_ticket(engine: Engine) -> None:
    store = CallStore(engine, KB)
    first = call_about(store, 1, "eau.coupure")
    assert call_about(store, 2, "eau.facture") == first, "same topic (eau), same number: the same request"
    assert call_about(store, 3, "dechets.collecte") != first, "another topic: a new request"
    assert call_about(store, 4, "eau.coupure", phone="0666666666") != first, "another number"
    with session_scope(engine, write=False) as s:
        ticket = s.exec(select(Ticket).where(Ticket.dossier_number == first)).one()
        [link] = s.exec(select(TicketCall)).all()
        assert link.ticket_id == ticket.id
        assert repository.ticket_of_call(s, link.call_id) == ticket
        notes = [n.body for n in s.exec(select(TicketNote).where(TicketNote.ticket_id == ticket.id))]
        assert any(n.startswith("Nouvel appel du même numéro sur le même sujet") for n in notes), notes
        assert ticket.status is TicketStatus.WAITING_CALLBACK


def test_a_resolved_or_week_old_request_is_not_joined(engine: Engine) -> None:
    store = CallStore(engine, KB)
    first = call_about(store, 1, "eau.coupure")
    with session_scope(engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.dossier_number == first)).one()
        repository.change_ticket_status(s, ticket, TicketStatus.RESOLVED)
    second = call_about(store, 2, "eau.coupure")
    assert second != first, "resolved: a new request"
    with session_scope(engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.dossier_number == second)).one()
        ticket.updated_at = utc_now() - timedelta(days=7, minutes=1)
        s.add(ticket)
    assert call_about(store, 3, "eau.coupure") not in (first, second), "untouched for more than a week"
