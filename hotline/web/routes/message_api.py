"""/api/calls/{call_id}/message: the message a caller recorded instead of waiting, as WAV audio for the agent who
follows the ticket up (the ticket's note names it)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.concurrency import run_in_threadpool

from hotline.domain.roles import Role
from hotline.services.messages import RecordingNotFoundError, message_of_call
from hotline.web.deps import AuthenticatedAgent, PartsDep, require_role

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api")
AnyAgent = Annotated[AuthenticatedAgent, Depends(require_role(Role.AGENT, Role.SUPERVISOR, Role.ADMIN))]


@router.get(
    "/calls/{call_id}/message",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}}, 404: {}, 503: {}},
)
async def call_message(call_id: int, user: AnyAgent, parts: PartsDep) -> Response:
    """The caller's recorded message on this call. 404 when the call left none or Asterisk no longer has it;
    503 when the telephony is not reachable from this process."""
    name = await run_in_threadpool(message_of_call, parts.engine, call_id)
    if name is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Cet appel n'a pas laissé de message.")
    if parts.recordings is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "La téléphonie n'est pas joignable d'ici.")
    try:
        audio = await parts.recordings.fetch(name)
    except RecordingNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Cet enregistrement n'est plus disponible.") from exc
    except Exception as exc:
        log.exception("message of call %s: Asterisk did not give %s", call_id, name)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "La téléphonie ne répond pas.") from exc
    return Response(audio, media_type="audio/wav", headers={"Content-Disposition": f'inline; filename="{name}.wav"'})
