"""The console's live parts, rendered on the server: my desk (state, buttons, the caller on my phone and their
ticket), the waiting callers, the callbacks and the crisis banner. The page fetches a part again when the event
stream says it changed (static/console.js); a part is also what the first page load includes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, select

from hotline.domain.enums import AgentState, CallbackState
from hotline.domain.roles import Role
from hotline.services.callbacks import CallbackService
from hotline.services.crisis import CrisisService
from hotline.storage import repository
from hotline.storage.models import Agent, utc_now
from hotline.web.deps import SESSION_COOKIE, AuthenticatedAgent, PartsDep, WebParts, require_role
from hotline.web.desk_views import my_desk, waiting_callers
from hotline.web.french import local
from hotline.web.templating import TEMPLATES

router = APIRouter(prefix="/console/parts")
AnyAgent = Annotated[AuthenticatedAgent, Depends(require_role(Role.AGENT, Role.SUPERVISOR, Role.ADMIN))]
CALLBACKS_SHOWN = 30  # open ones first, then the latest closed
OPEN_CALLBACKS = frozenset({CallbackState.PENDING, CallbackState.IN_PROGRESS})


def me_context(parts: WebParts, agent_id: int, csrf_token: str) -> dict[str, Any]:
    with Session(parts.engine) as session:
        me = my_desk(session, agent_id)
        ticket = None
        if me.call is not None:
            ticket = repository.ticket_of_call(session, me.call.call_id)
        entry = parts.kb.get(me.call.faq_id) if me.call is not None and me.call.faq_id else None
        wrap_up_left = None
        if me.state is AgentState.WRAP_UP:
            elapsed = (utc_now() - local(me.since)).total_seconds()
            wrap_up_left = max(0.0, parts.wrap_up_s - elapsed)
        return {"me": me, "entry": entry, "ticket": ticket, "pause_reasons": parts.site.pause_reasons(),
                "wrap_up_left": wrap_up_left, "csrf_token": csrf_token}  # fmt: skip


def queue_context(parts: WebParts) -> dict[str, Any]:
    with Session(parts.engine) as session:
        callers = waiting_callers(session)
    titles = {c.faq_id: e.title for c in callers if c.faq_id and (e := parts.kb.get(c.faq_id)) is not None}
    return {"callers": callers, "titles": titles}


def callbacks_context(parts: WebParts) -> dict[str, Any]:
    views = CallbackService(parts.engine, None).listed(CALLBACKS_SHOWN)
    with Session(parts.engine) as session:
        names = {a.id: a.display_name for a in session.exec(select(Agent).where(col(Agent.id).is_not(None)))}
    return {"callbacks": views, "names": names, "open_states": OPEN_CALLBACKS}


def crisis_context(parts: WebParts) -> dict[str, Any]:
    return {"crisis": CrisisService(parts.engine, None).refresh()}


@router.get("/me", response_class=HTMLResponse)
def me_part(request: Request, user: AnyAgent, parts: PartsDep) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, "parts/me.html", me_context(parts, user.agent_id, _csrf(request, parts)))


@router.get("/queue", response_class=HTMLResponse)
def queue_part(request: Request, user: AnyAgent, parts: PartsDep) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, "parts/queue.html", queue_context(parts))


@router.get("/callbacks", response_class=HTMLResponse)
def callbacks_part(request: Request, user: AnyAgent, parts: PartsDep) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, "parts/callbacks.html", callbacks_context(parts))


@router.get("/crisis", response_class=HTMLResponse)
def crisis_part(request: Request, user: AnyAgent, parts: PartsDep) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, "parts/crisis.html", crisis_context(parts))


def _csrf(request: Request, parts: WebParts) -> str:
    """The session's CSRF token, for the forms inside a part."""
    token = request.cookies.get(SESSION_COOKIE)
    found = parts.web_sessions().lookup(token) if token else None
    return found.csrf_token if found is not None else ""
