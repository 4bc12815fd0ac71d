"""/api/crisis: crisis mode as supervisors switch it. The pre-announcement is typed (and previewed in the
hotline's voice before it goes live) or an uploaded recording (checked and converted); a pinned FAQ entry wins
the matching when it is close; above an expected wait, callers are offered the callback at once. Every change
is audited (who, when, what) and reaches the next call at once (the IVR reads the same service)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, UploadFile, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from hotline.domain.roles import Role
from hotline.services.crisis import OVERFLOW_MAX_S, OVERFLOW_MIN_S, Announcements
from hotline.web.deps import AuthenticatedAgent, PartsDep, require_role

router = APIRouter(prefix="/api/crisis", tags=["crisis"])
Supervisor = Annotated[AuthenticatedAgent, Depends(require_role(Role.SUPERVISOR, Role.ADMIN))]
MESSAGE_MAX = 1000
WAV = "audio/wav"


class CrisisRequest(BaseModel):
    active: bool
    message: str | None = Field(default=None, max_length=MESSAGE_MAX, description="Read by the hotline's voice.")
    recording: str | None = Field(default=None, max_length=128, description="An uploaded recording, heard instead.")
    pinned_faq_id: str | None = Field(default=None, max_length=128, description="A KB entry that wins when close.")
    overflow_wait_s: float | None = Field(
        default=None, ge=OVERFLOW_MIN_S, le=OVERFLOW_MAX_S, description="Above this expected wait: the callback."
    )


class PreviewRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MESSAGE_MAX)


def _studio(parts: PartsDep) -> Announcements:
    if parts.announcements is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "La voix du serveur vocal n'est pas disponible ici.")
    return parts.announcements


def _view(parts: PartsDep) -> dict[str, Any]:
    current = parts.crisis_mode.refresh()
    entries = [{"id": e.id, "title": e.title, "crisis": e.crisis} for e in parts.kb.entries]
    return {**current.as_dict(), "entries": sorted(entries, key=lambda e: (not e["crisis"], e["id"]))}


@router.get("")
def get_crisis(parts: PartsDep, _user: Supervisor) -> dict[str, Any]:
    """Crisis mode as it is, and the KB entries a supervisor may pin (crisis entries first)."""
    return _view(parts)


@router.put("", responses={422: {}})
def put_crisis(body: CrisisRequest, parts: PartsDep, user: Supervisor) -> dict[str, Any]:
    message = " ".join(body.message.split()) if body.message else None
    if body.pinned_faq_id and parts.kb.get(body.pinned_faq_id) is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"Aucune fiche « {body.pinned_faq_id} ».")
    if body.recording and (parts.announcements is None or parts.announcements.recording(body.recording) is None):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "Cet enregistrement est introuvable : envoyez-le à nouveau."
        )
    parts.crisis_mode.set(
        body.active,
        message,
        by=user.login,
        recording=body.recording,
        pinned_faq_id=body.pinned_faq_id or None,
        overflow_wait_s=body.overflow_wait_s,
    )
    return _view(parts)


@router.post("/preview", response_class=Response, responses={200: {"content": {WAV: {}}}, 422: {}})
async def preview(body: PreviewRequest, parts: PartsDep, _user: Supervisor) -> Response:
    """The sentence as callers will hear it (8 kHz WAV), before it goes live."""
    studio = _studio(parts)
    try:
        audio = await asyncio.to_thread(studio.preview, body.text)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return Response(audio, media_type=WAV)


@router.post("/recording", responses={422: {}})
async def upload_recording(file: UploadFile, parts: PartsDep, _user: Supervisor) -> dict[str, Any]:
    """A recorded pre-announcement: checked (readable audio, 0.5–120 s) and converted to the phone format."""
    studio = _studio(parts)
    data = await file.read()
    try:
        imported = await asyncio.to_thread(studio.import_recording, data, file.filename or "enregistrement.wav")
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return {"recording": imported.name, "seconds": imported.seconds}


@router.get("/recording/{folder}/{key}.wav", response_class=Response, responses={200: {"content": {WAV: {}}}})
def get_recording(folder: str, key: str, parts: PartsDep, _user: Supervisor) -> Response:
    audio = _studio(parts).recording(f"{folder}/{key}")
    if audio is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Enregistrement introuvable.")
    return Response(audio, media_type=WAV)
