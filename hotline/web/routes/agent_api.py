"""/api/session, /api/agents/me, /api/queue, /api/calls, /api/agents/{login}/supervise: signing in, an agent's own
state, the waiting callers, passing a caller on, and a supervisor listening to, whispering to or joining a call.

Every route but sign-in needs the session cookie; every state-changing one also the X-CSRF-Token header.
Refusals say why, in French for the people who read them, and change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlmodel import col, select

from hotline.domain.agent_states import AgentStateError, check_request
from hotline.domain.enums import AgentState, QueueEntryState
from hotline.domain.roles import Role
from hotline.domain.transfers import TransferTargetError
from hotline.services.call_supervision import (
    SupervisionMode,
    SupervisionNotFoundError,
    SupervisionRefusedError,
    agent_id_of,
)
from hotline.services.queue import QueueConflictError, QueueService
from hotline.services.transfers import (
    TransferDesk,
    TransferNotFoundError,
    TransferRefusedError,
    conversation_of,
    prepare_transfer,
)
from hotline.services.web_sessions import SESSION_TTL, TooManyAttemptsError
from hotline.storage.models import Agent, QueueEntry
from hotline.web.deps import (
    SESSION_COOKIE,
    AuthenticatedAgent,
    CurrentUser,
    PartsDep,
    SessionDep,
    require_role,
)
from hotline.web.desk_views import AgentNotFoundError, Me, WaitingCallerView, my_desk, waiting_callers
from hotline.web.event_stream import MEDIA_TYPE, stream

router = APIRouter(prefix="/api")
SUPERVISION_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
AnyAgent = Annotated[AuthenticatedAgent, Depends(require_role(Role.AGENT, Role.SUPERVISOR, Role.ADMIN))]
Supervisor = Annotated[AuthenticatedAgent, Depends(require_role(Role.SUPERVISOR, Role.ADMIN))]


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
    try:
        return my_desk(session, agent_id)
    except AgentNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Agent inconnu.") from exc


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
        check_request(agent.state, wanted, body.reason, parts.site.pause_reasons())
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
    return waiting_callers(session)


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


class SuperviseRequest(BaseModel):
    mode: SupervisionMode = Field(description="listen: hear both; whisper: the agent hears you; barge: both do")


class SuperviseResponse(BaseModel):
    mode: SupervisionMode
    agent: str
    call_id: int


@router.post(
    "/agents/{agent_login}/supervise",
    status_code=202,
    response_model=SuperviseResponse,
    responses={404: {}, 409: {}, 503: {}},
)
async def supervise_agent(
    agent_login: str, body: SuperviseRequest, user: Supervisor, parts: PartsDep
) -> SuperviseResponse:
    """Listen to, whisper to or join the agent's live call on my own phone: it rings now (202), showing the mode
    and the agent's name; the call is connected once I answer, and ends when I hang up or the conversation ends.
    409 with the reason when not possible (the agent is not on a call, my phone is busy...). Audited."""
    desk = parts.supervising
    if desk is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Pas de serveur vocal dans ce processus.")
    try:
        agent_id = await asyncio.to_thread(agent_id_of, parts.engine, agent_login)
        started = await desk.supervise(agent_id, user.agent_id, body.mode)
    except SupervisionNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except SupervisionRefusedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return SuperviseResponse(mode=started.mode, agent=started.agent, call_id=started.call_id)


@router.get("/events", response_class=StreamingResponse, responses={200: {"content": {MEDIA_TYPE: {}}}})
async def events(user: AnyAgent, parts: PartsDep) -> StreamingResponse:
    """Server-sent events of queue, agent, call and ticket changes (ids and states: never a number or words),
    for the console and the wallboard. A slow client loses its oldest events and gets an `events.dropped`.
    A supervisor's or admin's stream also carries `wallboard` events: the board of GET /api/wallboard, pushed
    after each burst of events and every 15 s."""
    if parts.bus is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Pas de flux d'événements dans ce processus.")
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    board = None
    if user.role in SUPERVISION_ROLES:  # the wallboard's own data, pushed: `wallboard` events

        async def board() -> dict[str, Any]:
            snapshot = await asyncio.to_thread(parts.supervisor.snapshot)
            return snapshot.as_dict()

    return StreamingResponse(stream(parts.bus.subscribe(), board), media_type=MEDIA_TYPE, headers=headers)
