"""The services over a real database (SQLite and PostgreSQL): each change with its history row, checked against
the domain's rules, and its event published only after the commit."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from hotline import bus as events
from hotline.bus import DomainEvent, EventBus, Subscription
from hotline.domain.enums import AgentState, CallbackState, CallOutcome, TicketStatus
from hotline.domain.tickets import TransitionNotAllowedError
from hotline.services.agents import AgentService
from hotline.services.crisis import Crisis, CrisisService
from hotline.services.tickets import TicketService
from hotline.services.unit_of_work import unit_of_work
from hotline.settings import DEFAULT_KB_PATH
from hotline.storage.db import session_scope
from hotline.storage.models import (
    Agent,
    AgentStateChange,
    AuditLog,
    Call,
    Callback,
    Ticket,
    TicketCreate,
    TicketStatusChange,
)
from ivr.runtime.store import CallStore
from kb.loader import load_kb

KB = load_kb(DEFAULT_KB_PATH)


def drain(sub: Subscription) -> list[DomainEvent]:
    out: list[DomainEvent] = []
    while (event := sub.get_nowait()) is not None:
        out.append(event)
    return out


async def settle() -> None:
    await asyncio.sleep(0.01)  # deliveries from worker threads arrive through the loop


def new_ticket(engine: Engine, service: TicketService) -> int:
    with unit_of_work(engine, service.bus) as uow:
        ticket = service.create_in(uow, TicketCreate(subject="Lampadaire en panne", caller_phone="0612345678"))
        assert ticket.id is not None
        return ticket.id


def history(engine: Engine, ticket_id: int) -> list[tuple[TicketStatus | None, TicketStatus]]:
    with session_scope(engine, write=False) as s:
        rows = s.exec(
            select(TicketStatusChange).where(TicketStatusChange.ticket_id == ticket_id).order_by(TicketStatusChange.id)
        )
        return [(r.from_status, r.to_status) for r in rows]


async def test_a_ticket_follows_the_workflow_with_history_and_events(engine: Engine) -> None:
    bus = EventBus()
    sub = bus.subscribe()
    service = TicketService(engine, bus, KB)
    ticket_id = new_ticket(engine, service)
    service.change_status(ticket_id, TicketStatus.IN_PROGRESS, reason="pris en charge")
    service.change_status(ticket_id, TicketStatus.ESCALATED)
    service.change_status(ticket_id, TicketStatus.RESOLVED)
    service.change_status(ticket_id, TicketStatus.CLOSED)
    service.reopen(ticket_id, reason="le lampadaire est de nouveau éteint")
    await settle()
    S = TicketStatus
    assert history(engine, ticket_id) == [
        (None, S.OPEN),
        (S.OPEN, S.IN_PROGRESS),
        (S.IN_PROGRESS, S.ESCALATED),
        (S.ESCALATED, S.RESOLVED),
        (S.RESOLVED, S.CLOSED),
        (S.CLOSED, S.IN_PROGRESS),
    ]
    got = drain(sub)
    assert isinstance(got[0], events.TicketCreated) and got[0].ticket_id == ticket_id
    moves = [(e.from_status, e.to_status) for e in got[1:] if isinstance(e, events.TicketStatusChanged)]
    assert moves == history(engine, ticket_id)[1:]
    with session_scope(engine, write=False) as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None and ticket.status is S.IN_PROGRESS and ticket.resolved_at is None


async def test_a_refused_change_writes_nothing_and_publishes_nothing(engine: Engine) -> None:
    bus = EventBus()
    service = TicketService(engine, bus, KB)
    ticket_id = new_ticket(engine, service)
    service.change_status(ticket_id, TicketStatus.RESOLVED)
    await settle()
    sub = bus.subscribe()
    with pytest.raises(TransitionNotAllowedError, match="résolu"):
        service.change_status(ticket_id, TicketStatus.ESCALATED)
    fresh = new_ticket(engine, service)
    with pytest.raises(TransitionNotAllowedError):
        service.reopen(fresh)  # only a resolved or closed ticket reopens
    await settle()
    assert history(engine, ticket_id) == [(None, TicketStatus.OPEN), (TicketStatus.OPEN, TicketStatus.RESOLVED)]
    assert [e for e in drain(sub) if isinstance(e, events.TicketStatusChanged)] == []


async def test_events_of_a_rolled_back_unit_are_never_published(engine: Engine) -> None:
    bus = EventBus()
    sub = bus.subscribe()
    service = TicketService(engine, bus, KB)
    with pytest.raises(RuntimeError), unit_of_work(engine, bus) as uow:
        service.create_in(uow, TicketCreate(subject="jamais écrit"))
        raise RuntimeError("the unit fails after the change")
    await settle()
    assert drain(sub) == []
    with session_scope(engine, write=False) as s:
        assert s.exec(select(Ticket)).all() == []


async def test_an_agents_state_change_has_its_history_and_event(engine: Engine) -> None:
    with session_scope(engine) as s:
        agent = Agent(login="agent1", display_name="Agent Un", sip_endpoint="agent1")
        s.add(agent)
        s.flush()
        agent_id = agent.id
    assert agent_id is not None
    bus = EventBus()
    sub = bus.subscribe()
    service = AgentService(engine, bus)
    service.set_state(agent_id, AgentState.AVAILABLE)
    service.set_state(agent_id, AgentState.AVAILABLE)  # no change: no row, no event
    service.set_state(agent_id, AgentState.PAUSED, reason="pause déjeuner")
    await settle()
    with session_scope(engine, write=False) as s:
        rows = s.exec(select(AgentStateChange).order_by(AgentStateChange.id)).all()
        assert [(r.from_state, r.to_state, r.reason) for r in rows] == [
            (AgentState.OFFLINE, AgentState.AVAILABLE, None),
            (AgentState.AVAILABLE, AgentState.PAUSED, "pause déjeuner"),
        ]
    assert [(e.from_state, e.to_state) for e in drain(sub) if isinstance(e, events.AgentStateChanged)] == [
        ("offline", "available"),
        ("available", "paused"),
    ]


async def test_crisis_mode_is_shared_through_the_database_and_audited(engine: Engine) -> None:
    bus = EventBus()
    sub = bus.subscribe()
    here = CrisisService(engine, bus)
    elsewhere = CrisisService(engine, None)  # another process
    assert elsewhere.refresh() == Crisis(False, None)
    here.set(True, "Coupure d'eau à Vauclair jusqu'à 18 heures.", by="superviseur1")
    assert here.current().announcement == "Coupure d'eau à Vauclair jusqu'à 18 heures."
    assert elsewhere.current().active is False  # until it refreshes
    assert elsewhere.refresh().active is True
    here.set(False, None, by="superviseur1")
    assert elsewhere.refresh().announcement is None
    await settle()
    assert [e.active for e in drain(sub) if isinstance(e, events.CrisisChanged)] == [True, False]
    with session_scope(engine, write=False) as s:
        assert [a.action for a in s.exec(select(AuditLog).order_by(AuditLog.id))] == [
            "crisis_mode.on",
            "crisis_mode.off",
        ]


async def test_a_call_publishes_its_start_its_ticket_and_its_end(engine: Engine) -> None:
    bus = EventBus()
    sub = bus.subscribe()
    store = CallStore(engine, KB, bus)
    call_id = store.start_call("1700000000.7", "0612345678", "0800123456", crisis_mode=True)
    dossier = store.create_ticket(call_id, "caller_asked", None, needs_callback=True)
    assert store.finish_call(call_id, CallOutcome.ABANDONED, None) == dossier
    await settle()
    got = drain(sub)
    assert [type(e).__name__ for e in got] == [
        "CallStarted",
        "TicketCreated",
        "TicketStatusChanged",
        "CallbackChanged",
        "CallEnded",
    ]
    assert isinstance(got[0], events.CallStarted) and got[0].crisis_mode is True
    assert isinstance(got[-1], events.CallEnded) and got[-1].dossier == dossier and got[-1].outcome == "abandoned"
    with session_scope(engine, write=False) as s:
        ticket = s.exec(select(Ticket)).one()
        # The callback promised on the call survives the caller hanging up.
        assert ticket.status is TicketStatus.WAITING_CALLBACK and ticket.outcome is CallOutcome.ABANDONED
        [callback] = s.exec(select(Callback)).all()
        assert callback.phone == "0612345678" and callback.state is CallbackState.PENDING


async def test_a_call_asking_twice_for_a_person_keeps_one_ticket(engine: Engine) -> None:
    """After a restart the resumed caller may ask again: the call's ticket is reused, never doubled."""
    store = CallStore(engine, KB)
    call_id = store.start_call("1700000000.8", "0612345678", "0800123456")
    first = store.create_ticket(call_id, "caller_asked", None, needs_callback=True)
    assert store.create_ticket(call_id, "caller_asked", None, needs_callback=True) == first
    assert store.finish_call(call_id, CallOutcome.CALLBACK_REQUESTED, None) == first
    with session_scope(engine, write=False) as s:
        (ticket,) = s.exec(select(Ticket)).all()
        assert ticket.status is TicketStatus.WAITING_CALLBACK


def test_a_call_counts_for_the_commune_the_caller_named(engine: Engine) -> None:
    store = CallStore(engine, KB)
    named = store.start_call("1700000000.9", "0612345678", "0800123456")
    store.finish_call(named, CallOutcome.SELF_SERVED, None, transcript="toujours pas d'eau aux Granges-Basses")
    silent = store.start_call("1700000000.10", "0612345679", "0800123456")
    store.finish_call(silent, CallOutcome.SELF_SERVED, None, transcript="les horaires de la mairie")
    with session_scope(engine, write=False) as s:
        assert s.get(Call, named).commune == "Villeroux"  # a hamlet counts for its commune
        assert s.get(Call, silent).commune is None
