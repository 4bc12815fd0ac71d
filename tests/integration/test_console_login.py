"""The console's sign-in over a real database (SQLite and PostgreSQL): the /login form with its CSRF token, a
wrong password, the slowdown, /console only when signed in, /logout revoking the session, and the session
ending after the idle time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from hotline.app import build
from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts
from hotline.services.web_sessions import WebSessions
from hotline.settings import Settings
from hotline.storage.db import make_engine, upgrade_database
from hotline.storage.models import utc_now

PASSWORD = "un-mot-de-passe"


@pytest.fixture
def engine_and_client(tmp_path: Path, database_url: str) -> Iterator[tuple[Engine, TestClient]]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    AgentAccounts(engine).add("alice", "Alice Martin", Role.AGENT, ["eau"], PASSWORD)
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=database_url)
    with TestClient(build(settings, with_ivr=False).web, follow_redirects=False) as client:
        yield engine, client
    engine.dispose()


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found[1]


def log_in(client: TestClient, password: str = PASSWORD) -> tuple[int, str]:
    token = form_token(client.get("/login").text)
    r = client.post("/login", data={"login": "alice", "password": password, "csrf_token": token})
    return r.status_code, r.text


def test_the_login_form_signs_in_to_the_console_then_logout(engine_and_client: tuple[Engine, TestClient]) -> None:
    _, client = engine_and_client
    r = client.get("/console")
    assert r.status_code == 303 and r.headers["location"] == "/login", "not signed in: to the form"
    page = client.get("/login")
    assert page.status_code == 200 and "Connexion à la console" in page.text
    assert 'href="/static/console.css"' in page.text and client.get("/static/console.css").status_code == 200
    token = form_token(page.text)
    r = client.post("/login", data={"login": "alice", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/console"
    assert "HttpOnly" in r.headers["set-cookie"]
    console = client.get("/console")
    assert console.status_code == 200 and "Console — Alice Martin" in console.text
    assert client.get("/login").status_code == 303, "already signed in"
    assert client.post("/logout", data={"csrf_token": "faux"}).status_code == 403, "CSRF on the logout form"
    r = client.post("/logout", data={"csrf_token": form_token(console.text)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/console").status_code == 303, "the session is revoked"


def test_a_wrong_password_a_missing_token_and_the_slowdown(engine_and_client: tuple[Engine, TestClient]) -> None:
    _, client = engine_and_client
    client.get("/login")
    r = client.post("/login", data={"login": "alice", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 403 and "La page a expiré" in r.text, "a form posted from elsewhere"
    code, text = log_in(client, "faux")
    assert code == 401 and "Identifiant ou mot de passe incorrect." in text and 'value="alice"' in text
    token = form_token(client.get("/login").text)
    assert client.post("/login", data={"login": "alice", "csrf_token": token}).status_code == 422
    for _ in range(4):
        log_in(client, "faux")
    code, text = log_in(client, PASSWORD)
    assert code == 429 and "Trop de tentatives" in text, "slowed down, even with the right password"


def test_a_session_ends_after_the_idle_time_and_use_keeps_it(engine_and_client: tuple[Engine, TestClient]) -> None:
    engine, _ = engine_and_client
    sessions = WebSessions(engine, idle=timedelta(minutes=30))
    signed = sessions.sign_in("alice", PASSWORD)
    assert signed is not None
    now = utc_now()
    assert sessions.lookup(signed.token, now + timedelta(minutes=29)) is not None, "still in use"
    # that request pushed the expiry back: 29 more minutes later, it is still open
    assert sessions.lookup(signed.token, now + timedelta(minutes=58)) is not None
    assert sessions.lookup(signed.token, now + timedelta(minutes=58) + timedelta(minutes=31)) is None, "left idle"
