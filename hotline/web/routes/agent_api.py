"""/api/session, /api/agents/me, /api/queue, /api/calls: signing in, an agent's own state, the waiting callers,
and passing a caller on.

Every route but sign-in needs the session cookie; every state-changing one also the X-CSRF-Token header.
Refusals say why, in French for the people who read them, and change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field
from sqlmodel import col, or_, select

from hotline.bus import to_json
from hotline.domain.agent_states import AgentStateError, check_request
from hotline.domain.enums import AgentState, QueueEntryState
from hotline.domain.queue import WaitingCaller, position_of, queue_order
from hotline.domain.roles import Role
from hotline.domain.transfers import TransferTargetError
from hotline.services.queue import QueueConflictError, QueueService, waited_s
from hotline.services.transfers import (
    TransferDesk,
    TransferNotFoundError,
    TransferRefusedError,
    conversation_of,
    prepare_transfer,
)
from hotline.services.web_sessions import SESSION_TTL, TooManyAttemptsError
from hotline.storage.models import Agent, AgentStateChange, QueueEntry, Ticket, utc_now
from hotline.web.deps import (
    SESSION_COOKIE,
    AuthenticatedAgent,
    CurrentUser,
    PartsDep,
    SessionDep,
    require_role,
)

router = APIRouter(prefix="/api")
AnyAgent = Annotated[AuthenticatedAgent, Depends(require_role(Role.AGENT, Role.SUPERVISOR, Role.ADMIN))]
EARLIER_TICKETS = 5  # on the agent's screen: the caller's last requests


class SignInRequest(BaseModel):
    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SignInResponse(BaseModel):
    login: str
    role: Role
    csrf_token: str


class StateRequest(BaseModel):
    state: Literal["available", "paused", "offline"]
    reason: str | None = Field(default=None, max_length=100)


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


class Me(BaseModel):
    login: str
    name: str
    role: Role
    state: AgentState
    since: datetime
    reason: str | None
    skills: list[str]
    call: CurrentCall | None  # the caller offered (ringing) or being talked to


class EarlierTicket(BaseModel):
    dossier: str
    subject: str
    status: str
    created_at: datetime


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


# ---- session


@router.post("/session", response_model=SignInResponse, responses={401: {}, 429: {}})
def sign_in(body: SignInRequest, request: Request, response: Response, parts: PartsDep) -> SignInResponse:
    address = request.client.host if request.client else ""
    try:
        signed = parts.web_sessions().sign_in(body.login, body.password, address)
    except TooManyAttemptsError as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"Trop de tentatives. Réessayez dans {exc.retry_after_s:.0f} secondes.",
            headers={"Retry-After": str(max(1, round(exc.retry_after_s)))},
        ) from exc
    if signed is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Identifiant ou mot de passe incorrect.")
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=parts.secure_cookies,
        path="/",
    )
    return SignInResponse(login=signed.login, role=signed.role, csrf_token=signed.csrf_token)


@router.delete("/session", status_code=204)
def sign_out(request: Request, response: Response, user: CurrentUser, parts: PartsDep) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        parts.web_sessions().sign_out(token)
    response.delete_cookie(SESSION_COOKIE, path="/")


# ---- the agent's own state


def _queue(parts: PartsDep) -> QueueService:
    return QueueService(parts.engine, parts.bus)


def _me(session: SessionDep, agent_id: int) -> Me:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Agent inconnu.")
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


@router.get("/agents/me", response_model=Me)
def get_me(user: AnyAgent, session: SessionDep) -> Me:
    return _me(session, user.agent_id)


@router.put("/agents/me/state", response_model=Me, responses={409: {}})
def put_my_state(body: StateRequest, user: AnyAgent, session: SessionDep, parts: PartsDep) -> Me:
    agent = session.get(Agent, user.agent_id)
    if agent is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Agent inconnu.")
    wanted = AgentState(body.state)
    try:
        check_request(agent.state, wanted, body.reason, parts.pause_reasons)
        _queue(parts).set_agent_state(user.agent_id, wanted, body.reason)
    except (AgentStateError, QueueConflictError) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    session.rollback()  # a fresh read: the change was committed by another session
    return _me(session, user.agent_id)


@router.post("/agents/me/wrap-up/end", response_model=Me, responses={409: {}})
def end_my_wrap_up(user: AnyAgent, session: SessionDep, parts: PartsDep) -> Me:
    if not _queue(parts).end_wrap_up(user.agent_id):
        raise HTTPException(status.HTTP_409_CONFLICT, "Vous n'êtes pas en fin d'appel (wrap-up).")
    session.rollback()  # a fresh read: the change was committed by another session
    return _me(session, user.agent_id)


# ---- the queue


@router.get("/queue", response_model=list[WaitingCallerView])
def get_queue(user: AnyAgent, session: SessionDep) -> list[WaitingCallerView]:
    entries = list(session.exec(select(QueueEntry).where(QueueEntry.state == QueueEntryState.WAITING)))
    callers = [WaitingCaller(e.id, e.priority, e.enqueued_at, e.topic) for e in entries if e.id is not None]
    by_id = {e.id: e for e in entries}
    now = utc_now()
    out: list[WaitingCallerView] = []
    for caller in queue_order(callers):
        entry = by_id[caller.entry_id]
        earlier: list[EarlierTicket] = []
        if entry.caller_phone:
            tickets = session.exec(
                select(Ticket)
                .where(
                    Ticket.caller_phone == entry.caller_phone,
                    or_(col(Ticket.call_id).is_(None), col(Ticket.call_id) != entry.call_id),
                )
                .order_by(col(Ticket.created_at).desc())
                .limit(EARLIER_TICKETS)
            )
            earlier = [EarlierTicket(dossier=t.dossier_number, subject=t.subject, status=t.status.value,
                                     created_at=t.created_at) for t in tickets]  # fmt: skip
        out.append(
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
                earlier_tickets=earlier,
            )
        )
    return out


class TakeResponse(BaseModel):
    entry_id: int
    call_id: int
    state: QueueEntryState


@router.post("/queue/{call_id}/take", response_model=TakeResponse, responses={404: {}, 409: {}})
def take_call(call_id: int, user: AnyAgent, session: SessionDep, parts: PartsDep) -> TakeResponse:
    """ "Prendre cet appel": the agent's phone rings for this waiting caller. 409 when the caller was taken
    meanwhile or the agent cannot take a call now."""
    entry = session.exec(
        select(QueueEntry).where(QueueEntry.call_id == call_id).order_by(col(QueueEntry.id).desc())
    ).first()
    if entry is None or entry.id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Aucun appelant en attente pour cet appel.")
    try:
        offered = _queue(parts).offer(entry.id, user.agent_id)
    except QueueConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, f"Impossible de prendre cet appel : {exc}.") from exc
    assert offered.id is not None
    return TakeResponse(entry_id=offered.id, call_id=offered.call_id, state=offered.state)


class TransferRequest(BaseModel):
    to: str = Field(
        description='"agent:LOGIN" or "skill:TOPIC" (back into the queue at the front), or "number:E164"',
        examples=["agent:alice", "skill:eau", "number:+33380123456"],
    )
    attended: bool = False


class TransferResponse(BaseModel):
    call_id: int
    to: str
    attended: bool


@router.post(
    "/calls/{call_id}/transfer", response_model=TransferResponse, responses={404: {}, 409: {}, 422: {}, 503: {}}
)
async def transfer_call(call_id: int, body: TransferRequest, user: AnyAgent, parts: PartsDep) -> TransferResponse:
    """Pass the caller of my conversation on: to an agent or a skill (they wait again, first in the queue), or
    to a city service's number: blind (I leave the call; the caller hears music until the service answers, and
    waits again for an adviser if it does not), or attended (the caller waits with music while I talk with the
    service; then `.../transfer/complete` joins them, or `.../transfer/cancel` brings me back). The ticket keeps
    the trail."""
    desk = _desk(parts)
    topics = {e.topic for e in parts.kb.entries}
    with _refusals():
        order = await asyncio.to_thread(prepare_transfer, parts.engine, topics, call_id, user.agent_id, body.to)
        await desk.transfer(order, body.attended)
    return TransferResponse(call_id=call_id, to=str(order.target), attended=body.attended)


@router.post("/calls/{call_id}/transfer/complete", status_code=204, responses={404: {}, 409: {}, 503: {}})
async def complete_transfer(call_id: int, user: AnyAgent, parts: PartsDep) -> None:
    """An attended transfer: the service answered and I have spoken with it; the caller and the service are joined
    and I leave the call (so does hanging up my phone)."""
    desk = _desk(parts)
    with _refusals():
        entry_id = await asyncio.to_thread(conversation_of, parts.engine, call_id, user.agent_id)
        await desk.complete_transfer(entry_id)


@router.post("/calls/{call_id}/transfer/cancel", status_code=204, responses={404: {}, 409: {}, 503: {}})
async def cancel_transfer(call_id: int, user: AnyAgent, parts: PartsDep) -> None:
    """An attended transfer given up: the service's line is hung up and I am back with the caller."""
    desk = _desk(parts)
    with _refusals():
        entry_id = await asyncio.to_thread(conversation_of, parts.engine, call_id, user.agent_id)
        await desk.cancel_transfer(entry_id)


def _desk(parts: PartsDep) -> TransferDesk:
    if parts.transfers is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Pas de serveur vocal dans ce processus.")
    return parts.transfers


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """The transfer errors as HTTP answers, in French."""
    try:
        yield
    except TransferTargetError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"Destination invalide : {exc}") from exc
    except TransferNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Introuvable : {exc}.") from exc
    except TransferRefusedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, f"Transfert impossible : {exc}.") from exc


@router.get("/events", response_class=EventSourceResponse)
async def events(user: AnyAgent, parts: PartsDep) -> AsyncIterable[ServerSentEvent]:
    """Server-sent events of queue, agent, call and ticket changes (ids and states: never a number or words),
    for the console and the wallboard. A slow client loses its oldest events and gets an `events.dropped`."""
    if parts.bus is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Pas de flux d'événements dans ce processus.")
    subscription = parts.bus.subscribe()
    try:
        async for event in subscription:
            yield ServerSentEvent(raw_data=to_json(event), event=event.kind)
    finally:
        subscription.close()
