"""The agents' pages: /login (a form, its CSRF token in a cookie of its own until the session exists), /logout,
and /console, the agent's desk. Pages answer an unsigned visitor with a redirect to /login, not a 401."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from hotline.domain.roles import Role
from hotline.services.web_sessions import SESSION_TTL, SessionAgent, TooManyAttemptsError
from hotline.storage.models import Agent
from hotline.web.deps import SESSION_COOKIE, PartsDep
from hotline.web.routes.console_parts import callbacks_context, crisis_context, me_context, queue_context
from hotline.web.templating import TEMPLATES

router = APIRouter()
LOGIN_CSRF_COOKIE = "hotline_login_csrf"
CONSOLE_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})


def _signed_in(request: Request, parts: PartsDep) -> SessionAgent | None:
    token = request.cookies.get(SESSION_COOKIE)
    return parts.web_sessions().lookup(token) if token else None


def _same(sent: str, expected: str | None) -> bool:
    return bool(expected) and secrets.compare_digest(sent.encode(), (expected or "").encode())


def _login_page(request: Request, parts: PartsDep, error: str = "", login: str = "", code: int = 200) -> Response:
    csrf = secrets.token_urlsafe(24)
    page = TEMPLATES.TemplateResponse(
        request, "login.html", {"csrf_token": csrf, "error": error, "login": login}, status_code=code
    )
    page.set_cookie(
        LOGIN_CSRF_COOKIE, csrf, max_age=3600, httponly=True, samesite="strict", secure=parts.secure_cookies, path="/"
    )
    return page


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, parts: PartsDep) -> Response:
    if _signed_in(request, parts) is not None:
        return RedirectResponse("/console", status.HTTP_303_SEE_OTHER)
    return _login_page(request, parts)


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    parts: PartsDep,
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    if not _same(csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _login_page(request, parts, "La page a expiré : veuillez vous identifier à nouveau.", login, 403)
    if not login or not password:
        return _login_page(request, parts, "Indiquez votre identifiant et votre mot de passe.", login, 422)
    address = request.client.host if request.client else ""
    try:
        signed = parts.web_sessions().sign_in(login, password, address)
    except TooManyAttemptsError as exc:
        page = _login_page(request, parts, f"Trop de tentatives. Réessayez dans {exc.retry_after_s:.0f} secondes.",
                           login, 429)  # fmt: skip
        page.headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
        return page
    if signed is None:
        return _login_page(request, parts, "Identifiant ou mot de passe incorrect.", login, 401)
    done = RedirectResponse("/console", status.HTTP_303_SEE_OTHER)
    done.set_cookie(SESSION_COOKIE, signed.token, max_age=int(SESSION_TTL.total_seconds()), httponly=True,
                    samesite="strict", secure=parts.secure_cookies, path="/")  # fmt: skip
    done.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return done


@router.post("/logout")
def logout(request: Request, parts: PartsDep, csrf_token: Annotated[str, Form(max_length=64)] = "") -> Response:
    found = _signed_in(request, parts)
    if found is not None:
        if not _same(csrf_token, found.csrf_token):
            return HTMLResponse("Jeton CSRF absent ou invalide.", status.HTTP_403_FORBIDDEN)
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            parts.web_sessions().sign_out(token)
    done = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    done.delete_cookie(SESSION_COOKIE, path="/")
    return done


@router.get("/console", response_class=HTMLResponse)
def console(request: Request, parts: PartsDep) -> Response:
    found = _signed_in(request, parts)
    if found is None:
        return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    if found.role not in CONSOLE_ROLES:
        return HTMLResponse("Accès refusé : votre rôle ne permet pas d'ouvrir la console.", status.HTTP_403_FORBIDDEN)
    with Session(parts.engine) as session:
        agent = session.get(Agent, found.agent_id)
        name = agent.display_name if agent is not None else found.login
    context = {"name": name, "login": found.login, "role": found.role.value, "csrf_token": found.csrf_token,
               "agent_id": found.agent_id,
               **me_context(parts, found.agent_id, found.csrf_token), **queue_context(parts),
               **callbacks_context(parts), **crisis_context(parts)}  # fmt: skip
    return TEMPLATES.TemplateResponse(request, "console.html", context)
