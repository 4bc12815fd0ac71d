"""/tickets: the agents' search and ticket pages, and the forms that work a ticket (status, note, category, service,
resolution). Every form answers with a redirect back (303) when it worked; a refusal is the page again with the
reason, or, for the console's script (header X-Requested-With: fetch), the reason alone as text."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from sqlmodel import Session

from hotline.domain import dossier
from hotline.domain.enums import TicketStatus
from hotline.domain.tickets import TransitionNotAllowedError
from hotline.domain.topics import topic
from hotline.services.tickets import TicketDetails, TicketService
from hotline.storage import repository
from hotline.storage.models import Agent, Ticket
from hotline.web.deps import PartsDep, WebParts
from hotline.web.page_auth import StaffForm, StaffPage, back_to
from hotline.web.templating import TEMPLATES
from hotline.web.ticket_views import OUTCOME_LABELS, search, ticket_page

router = APIRouter(prefix="/tickets")
NOTE_LENGTH = 4000


def _frame(parts: WebParts, user: StaffPage) -> dict[str, Any]:
    with Session(parts.engine) as session:
        agent = session.get(Agent, user.agent_id)
    return {"name": agent.display_name if agent else user.login, "login": user.login, "role": user.role.value,
            "csrf_token": user.csrf_token}  # fmt: skip


@router.get("", response_class=HTMLResponse)
def tickets(
    request: Request, user: StaffPage, parts: PartsDep, q: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    with Session(parts.engine) as session:
        found = search(session, q)
    if found.kind == "dossier" and len(found.tickets) == 1:
        return RedirectResponse(f"/tickets/{found.tickets[0].dossier_number}", status.HTTP_303_SEE_OTHER)
    return TEMPLATES.TemplateResponse(request, "tickets.html", {**_frame(parts, user), "search": found})


def _page(
    request: Request, parts: WebParts, user: StaffPage, number: str, error: str = "", code: int = 200
) -> Response:
    with Session(parts.engine) as session:
        page = ticket_page(session, number)
    if page is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Aucun dossier n° {number}.")
    categories = sorted({e.topic for e in parts.kb.entries}, key=lambda t: topic(t))
    services = sorted({e.service for e in parts.kb.entries})
    context = {**_frame(parts, user), "page": page, "error": error, "categories": categories, "services": services,
               "outcomes": OUTCOME_LABELS}  # fmt: skip
    return TEMPLATES.TemplateResponse(request, "ticket.html", context, status_code=code)


@router.get("/{number}", response_class=HTMLResponse)
def ticket(request: Request, number: str, user: StaffPage, parts: PartsDep) -> Response:
    return _page(request, parts, user, number)


def _ticket(parts: WebParts, number: str) -> Ticket:
    canonical = dossier.parse(number)
    with Session(parts.engine) as session:
        found = repository.find_ticket_by_dossier(session, canonical) if canonical else None
    if found is None or found.id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Aucun dossier n° {number}.")
    return found


def _done(request: Request, parts: WebParts, user: StaffPage, number: str, return_to: str, error: str | None,
          code: int = status.HTTP_409_CONFLICT) -> Response:  # fmt: skip
    if error is None:
        return RedirectResponse(back_to(return_to, f"/tickets/{number}"), status.HTTP_303_SEE_OTHER)
    if request.headers.get("X-Requested-With") == "fetch":
        return PlainTextResponse(error, code)
    return _page(request, parts, user, number, error, code)


@router.post("/{number}/status")
def change_status(
    request: Request,
    number: str,
    user: StaffForm,
    parts: PartsDep,
    to: Annotated[str, Form(max_length=32)] = "",
    return_to: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    found = _ticket(parts, number)
    assert found.id is not None
    if to not in {s.value for s in TicketStatus}:
        return _done(request, parts, user, number, return_to, f"Statut inconnu : « {to} ».", 422)
    try:
        TicketService(parts.engine, parts.bus, parts.kb).work_on(found.id, TicketStatus(to), by_agent_id=user.agent_id)
    except TransitionNotAllowedError as exc:
        return _done(request, parts, user, number, return_to, str(exc))
    return _done(request, parts, user, number, return_to, None)


@router.post("/{number}/notes")
def add_note(
    request: Request,
    number: str,
    user: StaffForm,
    parts: PartsDep,
    body: Annotated[str, Form(max_length=NOTE_LENGTH)] = "",
    return_to: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    found = _ticket(parts, number)
    assert found.id is not None
    if not body.strip():
        return _done(request, parts, user, number, return_to, "Écrivez la note avant de l'ajouter.", 422)
    TicketService(parts.engine, parts.bus, parts.kb).add_note(found.id, body, by_agent_id=user.agent_id)
    return _done(request, parts, user, number, return_to, None)


@router.post("/{number}/details")
def change_details(
    request: Request,
    number: str,
    user: StaffForm,
    parts: PartsDep,
    category: Annotated[str, Form(max_length=64)] = "",
    service: Annotated[str, Form(max_length=64)] = "",
    resolution: Annotated[str, Form(max_length=NOTE_LENGTH)] = "",
    return_to: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    found = _ticket(parts, number)
    assert found.id is not None
    change = TicketDetails(category=category or None, service=service, resolution=resolution)
    try:
        TicketService(parts.engine, parts.bus, parts.kb).update_details(found.id, change, by_agent_id=user.agent_id)
    except ValueError as exc:
        return _done(request, parts, user, number, return_to, f"Modification refusée : {exc}.", 422)
    return _done(request, parts, user, number, return_to, None)
