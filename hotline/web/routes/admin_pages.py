"""/admin, for admins: the agents (add, disable, skills, role, a new SIP password shown once), the pause reasons and
the callback hours. Every change is validated, written to the audit log with who and when, and listed on the
page; a refusal is the page again with the reason, and changes nothing."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from hotline.domain.agents import AgentAccountError, parse_skills
from hotline.domain.callbacks import HoursError
from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts, UnknownAgentError
from hotline.services.web_sessions import SessionAgent
from hotline.storage.models import Agent, AuditLog
from hotline.web.deps import PartsDep, WebParts
from hotline.web.page_auth import form_user, page_user
from hotline.web.templating import TEMPLATES

router = APIRouter(prefix="/admin")
AdminPage = Annotated[SessionAgent, Depends(page_user(Role.ADMIN))]
AdminForm = Annotated[SessionAgent, Depends(form_user(Role.ADMIN))]
AUDIT_SHOWN = 50
ROLE_LABELS = {Role.AGENT: "agent", Role.SUPERVISOR: "superviseur", Role.ADMIN: "administrateur"}
ACTION_LABELS = {
    "agent.add": "agent créé",
    "agent.disable": "agent désactivé",
    "agent.set_skills": "compétences changées",
    "agent.set_role": "rôle changé",
    "agent.reset_sip_password": "nouveau mot de passe SIP",
    "settings.pause_reasons": "motifs de pause changés",
    "settings.callback_hours": "horaires des rappels changés",
    "open311.key_added": "clé Open311 créée",
    "crisis_mode.on": "mode crise activé",
    "crisis_mode.off": "mode crise désactivé",
    "resident.register": "habitant inscrit aux alertes",
    "resident.opt_out": "habitant désinscrit des alertes",
    "resident.import": "habitants importés",
}
DETAIL_LABELS = {"role": "rôle", "skills": "compétences", "message": "message", "from": "avant", "to": "après",
                 "change": "modification", "channel": "canal", "added": "ajoutés", "updated": "mis à jour",
                 "merged": "doublons fusionnés"}  # fmt: skip


def details_text(details: dict[str, Any]) -> str:
    """An audit row's details, in French: "rôle : agent ; compétences : eau, voirie"."""

    def shown(value: Any) -> str:
        if value is None or value == "" or value == []:
            return "—"
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

    return " ; ".join(f"{DETAIL_LABELS.get(k, k)} : {shown(v)}" for k, v in details.items())


def _page(request: Request, parts: WebParts, user: SessionAgent, *, error: str = "", done: str = "",
          secret: tuple[str, str] | None = None, code: int = 200) -> Response:  # fmt: skip
    with Session(parts.engine) as session:
        agents = list(session.exec(select(Agent).order_by(col(Agent.active).desc(), col(Agent.login))))
        audit = list(session.exec(select(AuditLog).order_by(col(AuditLog.id).desc()).limit(AUDIT_SHOWN)))
        me = session.get(Agent, user.agent_id)
    context: dict[str, Any] = {
        "name": me.display_name if me else user.login, "login": user.login, "role": user.role.value,
        "csrf_token": user.csrf_token, "agents": agents, "audit": audit, "roles": ROLE_LABELS,
        "actions": ACTION_LABELS, "topics": sorted({e.topic for e in parts.kb.entries}),
        "pause_reasons": parts.site.pause_reasons(), "callback_hours": parts.site.callback_hours_text(),
        "error": error, "done": done, "secret": secret, "details_text": details_text,
    }  # fmt: skip
    response = TEMPLATES.TemplateResponse(request, "admin.html", context, status_code=code)
    if secret is not None:
        response.headers["Cache-Control"] = "no-store"  # a password shown once is not kept by the browser
    return response


def _back() -> Response:
    return RedirectResponse("/admin", status.HTTP_303_SEE_OTHER)


async def _pushed(parts: WebParts) -> str:
    """The phones pushed to Asterisk; what to tell the admin about it."""
    if parts.push_phones is None:
        return " Pas de serveur vocal dans ce processus : `hotline serve` enverra le téléphone à Asterisk."
    note = await asyncio.to_thread(parts.push_phones)
    return f" {note}" if note else " Téléphone envoyé à Asterisk."


@router.get("", response_class=HTMLResponse)
def admin(request: Request, user: AdminPage, parts: PartsDep) -> Response:
    return _page(request, parts, user)


@router.post("/agents")
async def add_agent(
    request: Request,
    user: AdminForm,
    parts: PartsDep,
    new_login: Annotated[str, Form(max_length=64)] = "",
    new_name: Annotated[str, Form(max_length=100)] = "",
    new_role: Annotated[str, Form(max_length=16)] = "agent",
    new_skills: Annotated[str, Form(max_length=500)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    try:
        role = Role(new_role)
        skills = parse_skills(new_skills, {e.topic for e in parts.kb.entries})
        created = await asyncio.to_thread(AgentAccounts(parts.engine, parts.bus).add, new_login.strip(), new_name,
                                          role, skills, new_password, actor=user.login)  # fmt: skip
    except ValueError as exc:  # AgentAccountError, or an unknown role
        return _page(request, parts, user, error=f"Agent non créé : {exc}.", code=422)
    done = f"Agent {created.agent.login} créé." + await _pushed(parts)
    return _page(request, parts, user, done=done, secret=(created.agent.login, created.sip_password))


def _agent_change(request: Request, parts: WebParts, user: SessionAgent, login: str, change: Any) -> Response:
    try:
        change(AgentAccounts(parts.engine, parts.bus))
    except UnknownAgentError as exc:
        return _page(request, parts, user, error=f"{exc}.", code=404)
    except (AgentAccountError, ValueError) as exc:
        return _page(request, parts, user, error=f"Modification refusée : {exc}.", code=422)
    return _back()


@router.post("/agents/{agent_login}/disable")
async def disable_agent(request: Request, agent_login: str, user: AdminForm, parts: PartsDep) -> Response:
    if agent_login == user.login:
        return _page(request, parts, user, error="Vous ne pouvez pas désactiver votre propre compte.", code=409)
    answer = _agent_change(request, parts, user, agent_login, lambda a: a.disable(agent_login, actor=user.login))
    if answer.status_code == status.HTTP_303_SEE_OTHER and parts.push_phones is not None:
        await asyncio.to_thread(parts.push_phones)  # its phone leaves Asterisk
    return answer


@router.post("/agents/{agent_login}/skills")
def set_skills(
    request: Request, agent_login: str, user: AdminForm, parts: PartsDep,
    skills: Annotated[str, Form(max_length=500)] = "",
) -> Response:  # fmt: skip
    topics = {e.topic for e in parts.kb.entries}

    def change(accounts: AgentAccounts) -> None:
        accounts.set_skills(agent_login, parse_skills(skills, topics), actor=user.login)

    return _agent_change(request, parts, user, agent_login, change)


@router.post("/agents/{agent_login}/role")
def set_role(
    request: Request, agent_login: str, user: AdminForm, parts: PartsDep,
    role: Annotated[str, Form(max_length=16)] = "",
) -> Response:  # fmt: skip
    if agent_login == user.login and role != Role.ADMIN.value:
        return _page(request, parts, user, error="Vous ne pouvez pas retirer votre propre rôle d'administrateur.",
                     code=409)  # fmt: skip
    if role not in {r.value for r in Role}:
        return _page(request, parts, user, error=f"Rôle inconnu : {role}.", code=422)
    return _agent_change(request, parts, user, agent_login,
                         lambda a: a.set_role(agent_login, Role(role), actor=user.login))  # fmt: skip


@router.post("/agents/{agent_login}/sip-password")
async def reset_sip_password(request: Request, agent_login: str, user: AdminForm, parts: PartsDep) -> Response:
    accounts = AgentAccounts(parts.engine, parts.bus)
    try:
        password = await asyncio.to_thread(accounts.reset_sip_password, agent_login, actor=user.login)
    except UnknownAgentError as exc:
        return _page(request, parts, user, error=f"{exc}.", code=404)
    except AgentAccountError as exc:
        return _page(request, parts, user, error=f"Modification refusée : {exc}.", code=422)
    done = f"Nouveau mot de passe SIP pour {agent_login}." + await _pushed(parts)
    return _page(request, parts, user, done=done, secret=(agent_login, password))


@router.post("/pause-reasons")
def set_pause_reasons(
    request: Request, user: AdminForm, parts: PartsDep, reasons: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    try:
        parts.site.set_pause_reasons(reasons.splitlines(), by=user.login)
    except ValueError as exc:
        return _page(request, parts, user, error=f"Motifs refusés : {exc}.", code=422)
    return _back()


@router.post("/hours")
def set_hours(
    request: Request, user: AdminForm, parts: PartsDep, callback_hours: Annotated[str, Form(max_length=500)] = ""
) -> Response:
    try:
        parts.site.set_callback_hours(callback_hours, by=user.login)
    except HoursError as exc:
        return _page(request, parts, user, error=f"Horaires refusés : {exc}.", code=422)
    return _back()
