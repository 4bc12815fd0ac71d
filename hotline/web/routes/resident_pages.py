"""/residents, for agents, supervisors and admins: the alert register (Aurevault Alerte). Register a resident who
gave their consent to the agent (the consent is dated today, channel "agent"), find a number, opt one out, and
see how many residents each zone reaches. Every change is audited by the service; a refusal is the page again
with the reason, and changes nothing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from hotline.domain.enums import ResidentChannel
from hotline.services.residents import InvalidPhoneError, ResidentError, Residents, UnknownResidentError
from hotline.storage.models import Agent, Resident
from hotline.web.deps import PartsDep, WebParts
from hotline.web.page_auth import StaffForm, StaffPage
from hotline.web.templating import TEMPLATES
from kb.territory import UnknownZoneError

router = APIRouter(prefix="/residents")
LATEST_SHOWN = 20
CHANNEL_LABELS = {
    ResidentChannel.PHONE: "numéro vert",
    ResidentChannel.AGENT: "conseiller",
    ResidentChannel.IMPORT: "import",
    ResidentChannel.WEB: "site internet",
}


def _page(request: Request, parts: WebParts, user: StaffPage, *, q: str = "", error: str = "", done: str = "",
          code: int = 200) -> Response:  # fmt: skip
    register = Residents(parts.engine, bus=parts.bus)
    found: list[Resident] | None = None
    problem = ""
    if q.strip():
        try:
            one = register.find(q)
        except InvalidPhoneError as exc:
            problem = f"{exc}."
        else:
            found = [one] if one else []
    with Session(parts.engine) as session:
        me = session.get(Agent, user.agent_id)
    context: dict[str, Any] = {
        "name": me.display_name if me else user.login, "login": user.login, "role": user.role.value,
        "csrf_token": user.csrf_token, "q": q, "found": found, "problem": problem,
        "latest": register.latest(LATEST_SHOWN) if found is None else [], "counts": register.counts(),
        "territory": register.territory, "channels": CHANNEL_LABELS, "error": error, "done": done,
    }  # fmt: skip
    return TEMPLATES.TemplateResponse(request, "residents.html", context, status_code=code)


@router.get("", response_class=HTMLResponse)
def residents(
    request: Request, user: StaffPage, parts: PartsDep, q: Annotated[str, Query(max_length=64)] = ""
) -> Response:
    return _page(request, parts, user, q=q)


@router.post("")
def register_resident(
    request: Request,
    user: StaffForm,
    parts: PartsDep,
    phone: Annotated[str, Form(max_length=64)] = "",
    resident_name: Annotated[str, Form(max_length=200)] = "",
    zone: Annotated[str, Form(max_length=100)] = "",
    consent: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    if consent != "yes":
        return _page(request, parts, user, code=422,
                     error="Inscription refusée : la personne doit avoir donné son accord.")  # fmt: skip
    register = Residents(parts.engine, bus=parts.bus)
    try:
        place = register.territory.zone(zone)
        if place.everyone:
            raise ResidentError("choisissez la commune ou le hameau de la personne")
        done = register.register(phone, resident_name, place.commune or "", place.hamlet, register.today(),
                                 ResidentChannel.AGENT, actor=user.login)  # fmt: skip
    except (ResidentError, InvalidPhoneError, UnknownZoneError) as exc:
        return _page(request, parts, user, code=422, error=f"Inscription refusée : {exc}.")
    said = {"added": "inscrite", "updated": "mise à jour", "renewed": "réinscrite avec son nouvel accord"}
    return _page(request, parts, user, q=done.resident.phone_e164,
                 done=f"{done.resident.name} : {said[done.change]}.")  # fmt: skip


@router.post("/{resident_id}/opt-out")
def opt_out(request: Request, resident_id: int, user: StaffForm, parts: PartsDep) -> Response:
    try:
        Residents(parts.engine, bus=parts.bus).opt_out_by_id(resident_id, ResidentChannel.AGENT, actor=user.login)
    except UnknownResidentError as exc:
        return _page(request, parts, user, code=404, error=f"{str(exc).capitalize()}.")
    return RedirectResponse("/residents", status.HTTP_303_SEE_OTHER)
