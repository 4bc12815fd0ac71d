"""/api/callbacks: the callbacks promised to callers (open ones first, each attempt's result), and an agent's
"rappeler maintenant", which rings their own phone for that callback at once (the queue then calls the citizen)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel

from hotline.domain.enums import CallbackState
from hotline.domain.roles import Role
from hotline.services.callbacks import CallbackConflictError, CallbackNotFoundError, CallbackService, CallbackView
from hotline.web.deps import AuthenticatedAgent, PartsDep, require_role

router = APIRouter(prefix="/api")
AnyAgent = Annotated[AuthenticatedAgent, Depends(require_role(Role.AGENT, Role.SUPERVISOR, Role.ADMIN))]


class AttemptView(BaseModel):
    started_at: datetime
    ended_at: datetime | None
    agent_id: int | None
    result: str | None  # answered, no_answer, busy, unreachable, agent_missed, interrupted; None while under way


class CallbackOut(BaseModel):
    id: int
    ticket_id: int
    dossier: str
    phone: str
    state: CallbackState
    requested_at: datetime
    due_at: datetime
    attempts: int
    last_result: str | None
    agent_id: int | None
    topic: str | None
    priority: int
    tries: list[AttemptView]

    @classmethod
    def of(cls, view: CallbackView) -> CallbackOut:
        c = view.callback
        assert c.id is not None
        return cls(
            id=c.id, ticket_id=c.ticket_id, dossier=view.dossier, phone=c.phone, state=c.state,
            requested_at=c.requested_at, due_at=c.due_at, attempts=c.attempts, last_result=c.last_result,
            agent_id=c.agent_id, topic=c.topic, priority=c.priority,
            tries=[AttemptView(started_at=a.started_at, ended_at=a.ended_at, agent_id=a.agent_id, result=a.result)
                   for a in view.attempts],
        )  # fmt: skip


def _service(parts: PartsDep) -> CallbackService:
    return CallbackService(parts.engine, parts.bus)


@router.get("/callbacks", response_model=list[CallbackOut])
def list_callbacks(
    user: AnyAgent, parts: PartsDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[CallbackOut]:
    """Pending and in-progress callbacks (the next due first), then the latest done, failed or cancelled ones."""
    return [CallbackOut.of(v) for v in _service(parts).listed(limit)]


class CallNowResponse(BaseModel):
    callback_id: int
    attempt: int
    state: CallbackState


@router.post("/callbacks/{callback_id}/call-now", response_model=CallNowResponse, responses={404: {}, 409: {}})
def call_now(callback_id: int, user: AnyAgent, parts: PartsDep) -> CallNowResponse:
    """ "Rappeler maintenant": the agent's phone rings for this callback, then the citizen's. 409 when it is
    being placed or closed, or the agent cannot take a call now."""
    try:
        placed = _service(parts).call_now(callback_id, user.agent_id)
    except CallbackNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Aucun rappel de ce numéro.") from exc
    except CallbackConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, f"Impossible de rappeler maintenant : {exc}.") from exc
    return CallNowResponse(callback_id=callback_id, attempt=placed.attempt_number, state=CallbackState.IN_PROGRESS)
