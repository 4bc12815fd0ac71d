"""/wallboard: the supervisors' live board. The page carries its first snapshot; its script draws it and every
board the server pushes on /api/events (after each burst of changes, and every 15 s: a quiet minute still moves
"the last 30 minutes")."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from hotline.domain.agent_states import FRENCH_STATES
from hotline.domain.roles import Role
from hotline.domain.topics import TOPIC_LABELS
from hotline.services.web_sessions import SessionAgent
from hotline.storage.models import Agent
from hotline.web.deps import PartsDep
from hotline.web.page_auth import page_user
from hotline.web.templating import TEMPLATES
from hotline.web.ticket_views import OUTCOME_LABELS

router = APIRouter()
SupervisorPage = Annotated[SessionAgent, Depends(page_user(Role.SUPERVISOR, Role.ADMIN))]
# What the board's script needs to speak French (it draws from the JSON snapshot).
LABELS = {
    "states": {s.value: label for s, label in FRENCH_STATES.items()},
    "outcomes": {o.value: label for o, label in OUTCOME_LABELS.items()},
    "topics": TOPIC_LABELS,
}


@router.get("/wallboard", response_class=HTMLResponse)
async def wallboard_page(request: Request, parts: PartsDep, user: SupervisorPage) -> Response:
    board = await asyncio.to_thread(parts.supervisor.snapshot)
    with Session(parts.engine) as session:
        agent = session.get(Agent, user.agent_id)
    context = {
        "name": agent.display_name if agent is not None else user.login,
        "login": user.login,
        "role": user.role.value,
        "csrf_token": user.csrf_token,
        "snapshot_json": json.dumps(board.as_dict(), ensure_ascii=False),
        "labels_json": json.dumps(LABELS, ensure_ascii=False),
    }
    return TEMPLATES.TemplateResponse(request, "wallboard.html", context)
