"""The web app's dependencies, through a router mounted only here: the session per request, the signed-in
agent (401 without one) and the role check (403 with the wrong role)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, Request, Response
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hotline.app import build
from hotline.domain.roles import Role
from hotline.settings import Settings
from hotline.storage.db import upgrade_database
from hotline.storage.models import Agent
from hotline.web.deps import AuthenticatedAgent, CurrentUser, SessionDep, require_role, sign_in

ROLE_HEADER = "X-Test-Role"  # read by this test's stand-in for the authentication layer

SupervisorOrAdmin = Annotated[AuthenticatedAgent, Depends(require_role(Role.SUPERVISOR, Role.ADMIN))]


@pytest.fixture
def sessions_seen() -> list[Session]:
    return []


@pytest.fixture
def client(tmp_path: Path, sessions_seen: list[Session]) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade_database(url)
    app = build(Settings(data_dir=tmp_path, database_url=url), with_ivr=False).web
    router = APIRouter(prefix="/test")

    @router.get("/me")
    def me(agent: CurrentUser) -> dict[str, str]:
        return {"login": agent.login, "role": agent.role}

    @router.get("/wallboard")
    def wallboard(agent: SupervisorOrAdmin) -> dict[str, str]:
        return {"login": agent.login}

    @router.get("/agents")
    def agents(session: SessionDep) -> list[str]:
        sessions_seen.append(session)
        return [a.login for a in session.exec(select(Agent)).all()]

    @router.post("/agents/{login}")
    def add_agent(login: str, session: SessionDep) -> None:
        session.add(Agent(login=login, display_name=login.title(), sip_endpoint=f"agent-{login}"))
        session.commit()

    app.include_router(router)

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        role = request.headers.get(ROLE_HEADER)
        if role is not None:
            sign_in(request, AuthenticatedAgent(agent_id=1, login=f"{role}-1", role=Role(role)))
        return await call_next(request)

    with TestClient(app) as c:
        yield c


def test_anonymous_is_told_to_sign_in(client: TestClient) -> None:
    for path in ("/test/me", "/test/wallboard"):
        r = client.get(path)
        assert r.status_code == 401
        assert r.json() == {"detail": "Veuillez vous identifier."}


def test_signed_in_agent_is_the_current_user(client: TestClient) -> None:
    r = client.get("/test/me", headers={ROLE_HEADER: "agent"})
    assert r.status_code == 200
    assert r.json() == {"login": "agent-1", "role": "agent"}


def test_role_check_refuses_the_wrong_role_and_admits_the_right_ones(client: TestClient) -> None:
    refused = client.get("/test/wallboard", headers={ROLE_HEADER: "agent"})
    assert refused.status_code == 403
    assert "rôle" in refused.json()["detail"]
    for role in ("supervisor", "admin"):
        r = client.get("/test/wallboard", headers={ROLE_HEADER: role})
        assert r.status_code == 200
        assert r.json() == {"login": f"{role}-1"}


def test_a_role_check_names_at_least_one_role() -> None:
    with pytest.raises(ValueError):
        require_role()


def test_each_request_has_its_own_session_closed_afterwards(client: TestClient, sessions_seen: list[Session]) -> None:
    assert client.post("/test/agents/ines").status_code == 200
    assert client.get("/test/agents").json() == ["ines"]
    assert client.get("/test/agents").json() == ["ines"]
    first, second = sessions_seen
    assert first is not second
    # The query began a transaction; only closing the session ends it.
    assert not first.in_transaction() and not second.in_transaction()
