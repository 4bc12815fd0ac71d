"""What routes may ask for: the parts the composition root gave the web app, a database session per
request, the signed-in agent and a role check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.engine import Engine
from sqlmodel import Session

from hotline.domain.roles import Role
from kb.loader import KnowledgeBase
from kb.matcher import Matcher


@dataclass(frozen=True)
class WebParts:
    """What the web app needs, as plain values and callables: it never sees the IVR itself."""

    engine: Engine
    kb: KnowledgeBase
    matcher: Callable[[], Matcher]  # shared with the IVR; built on first use (the encoder takes a second)
    ari_connected: Callable[[], bool]


def get_parts(request: Request) -> WebParts:
    parts: WebParts = request.app.state.parts
    return parts


PartsDep = Annotated[WebParts, Depends(get_parts)]


def get_session(parts: PartsDep) -> Iterator[Session]:
    with Session(parts.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


@dataclass(frozen=True)
class AuthenticatedAgent:
    """The person behind a request, as the authentication layer found them."""

    agent_id: int
    login: str
    role: Role


def sign_in(request: Request, agent: AuthenticatedAgent) -> None:
    """For the authentication layer: the request is made by `agent` from here on."""
    request.state.agent = agent


def current_user(request: Request) -> AuthenticatedAgent:
    agent = getattr(request.state, "agent", None)
    if not isinstance(agent, AuthenticatedAgent):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Veuillez vous identifier.")
    return agent


CurrentUser = Annotated[AuthenticatedAgent, Depends(current_user)]


def require_role(*roles: Role) -> Callable[[AuthenticatedAgent], AuthenticatedAgent]:
    """A dependency that lets through only the signed-in agents with one of `roles`."""
    if not roles:
        raise ValueError("require_role needs at least one role")
    allowed = frozenset(roles)

    def check(agent: CurrentUser) -> AuthenticatedAgent:
        if agent.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Accès refusé : votre rôle ne permet pas cette action.")
        return agent

    return check
