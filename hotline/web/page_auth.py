"""Who may open the staff pages and post their forms: the session cookie (an unsigned visitor is sent to /login),
a role, and on every form post the session's CSRF token, as the form's `csrf_token` field or the X-CSRF-Token
header (the console's script sends both)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request, status

from hotline.domain.roles import Role
from hotline.services.web_sessions import SessionAgent
from hotline.web.deps import CSRF_HEADER, SESSION_COOKIE, get_parts

STAFF = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)


def _signed_in(request: Request) -> SessionAgent:
    token = request.cookies.get(SESSION_COOKIE)
    found = get_parts(request).web_sessions().lookup(token) if token else None
    if found is None:
        raise HTTPException(status.HTTP_303_SEE_OTHER, "Veuillez vous identifier.", headers={"Location": "/login"})
    return found


def page_user(*roles: Role) -> Callable[..., SessionAgent]:
    """A page's dependency: the signed-in agent with one of `roles`."""
    allowed = frozenset(roles)

    def check(request: Request) -> SessionAgent:
        found = _signed_in(request)
        if found.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "Accès refusé : votre rôle ne permet pas d'ouvrir cette page."
            )
        return found

    return check


def form_user(*roles: Role) -> Callable[..., SessionAgent]:
    """A form post's dependency: `page_user`, and the CSRF token."""
    page = page_user(*roles)

    def check(request: Request, csrf_token: Annotated[str, Form(max_length=64)] = "") -> SessionAgent:
        found = page(request)
        sent = csrf_token or request.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(sent.encode(), found.csrf_token.encode()):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Jeton CSRF absent ou invalide : rechargez la page.")
        return found

    return check


StaffPage = Annotated[SessionAgent, Depends(page_user(*STAFF))]
StaffForm = Annotated[SessionAgent, Depends(form_user(*STAFF))]


def back_to(target: str, fallback: str) -> str:
    """Where a form goes back to: a path of this site only (never another host)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else fallback
