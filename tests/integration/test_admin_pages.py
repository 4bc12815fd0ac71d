"""/admin on SQLite and PostgreSQL: agents added (the SIP password shown once), skills, roles, a new SIP password,
disabled; pause reasons and callback hours changed while the service runs; every change in the audit log with who
and when; refusals that say why and change nothing; and nobody but an admin gets in."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hotline.app import build
from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts
from hotline.settings import Settings
from hotline.storage.db import make_engine, upgrade_database
from hotline.storage.models import Agent, AuditLog

PASSWORD = "un-mot-de-passe"
SIP_SHOWN = re.compile(r'<code id="sip-password">([^<]+)</code>')


@pytest.fixture
def admin(tmp_path: Path, database_url: str) -> Iterator[tuple[Engine, TestClient, str]]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    AgentAccounts(engine).add("chef", "Camille Chef", Role.ADMIN, [], PASSWORD)
    AgentAccounts(engine).add("alice", "Alice Martin", Role.AGENT, ["eau"], PASSWORD)
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=database_url)
    with TestClient(build(settings, with_ivr=False).web, follow_redirects=False) as client:
        r = client.post("/api/session", json={"login": "chef", "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield engine, client, str(r.json()["csrf_token"])
    engine.dispose()


def agent(engine: Engine, login: str) -> Agent:
    with Session(engine) as s:
        return s.exec(select(Agent).where(Agent.login == login)).one()


def audit(engine: Engine) -> list[tuple[str, str, str]]:
    with Session(engine) as s:
        return [(a.actor, a.action, a.target) for a in s.exec(select(AuditLog).order_by(col(AuditLog.id)))]


def test_agents_added_changed_and_disabled_with_the_audit(admin: tuple[Engine, TestClient, str]) -> None:
    engine, client, csrf = admin
    page = client.get("/admin")
    assert page.status_code == 200 and "Alice Martin" in page.text and "Journal des modifications" in page.text
    form = {"new_login": "bruno", "new_name": "Bruno Lefèvre", "new_role": "agent", "new_skills": "eau, dechets",
            "new_password": "court", "csrf_token": csrf}  # fmt: skip
    r = client.post("/admin/agents", data=form)
    assert r.status_code == 422 and "au moins 10 caractères" in html.unescape(r.text)
    with Session(engine) as s:
        assert s.exec(select(Agent).where(Agent.login == "bruno")).first() is None, "nothing half-made"
    r = client.post("/admin/agents", data={**form, "new_password": "un-autre-mot-de-passe"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    shown = SIP_SHOWN.search(r.text)
    assert shown is not None and len(shown.group(1)) >= 16
    assert "Pas de serveur vocal dans ce processus" in html.unescape(r.text)
    bruno = agent(engine, "bruno")
    assert bruno.skills == ["eau", "dechets"] and bruno.role is Role.AGENT and bruno.sip_digest
    assert SIP_SHOWN.search(client.get("/admin").text) is None, "shown once"

    assert client.post("/admin/agents/bruno/skills", data={"skills": "voirie", "csrf_token": csrf}).status_code == 303
    assert agent(engine, "bruno").skills == ["voirie"]
    r = client.post("/admin/agents/bruno/skills", data={"skills": "piscine", "csrf_token": csrf})
    assert r.status_code == 422 and "compétence inconnue « piscine »" in html.unescape(r.text)
    assert agent(engine, "bruno").skills == ["voirie"]
    assert client.post("/admin/agents/bruno/role", data={"role": "supervisor", "csrf_token": csrf}).status_code == 303
    assert agent(engine, "bruno").role is Role.SUPERVISOR
    assert client.post("/admin/agents/bruno/role", data={"role": "roi", "csrf_token": csrf}).status_code == 422
    r = client.post("/admin/agents/chef/role", data={"role": "agent", "csrf_token": csrf})
    assert r.status_code == 409 and agent(engine, "chef").role is Role.ADMIN, "an admin keeps their own role"

    before = agent(engine, "bruno").sip_digest
    r = client.post("/admin/agents/bruno/sip-password", data={"csrf_token": csrf})
    again = SIP_SHOWN.search(r.text)
    assert r.status_code == 200 and again is not None and again.group(1) != shown.group(1)
    assert agent(engine, "bruno").sip_digest != before
    assert client.post("/admin/agents/chef/disable", data={"csrf_token": csrf}).status_code == 409
    assert client.post("/admin/agents/bruno/disable", data={"csrf_token": csrf}).status_code == 303
    assert agent(engine, "bruno").active is False
    r = client.post("/admin/agents/bruno/sip-password", data={"csrf_token": csrf})
    assert r.status_code == 422 and "désactivé" in html.unescape(r.text)
    assert client.post("/admin/agents/zoe/disable", data={"csrf_token": csrf}).status_code == 404
    assert client.post("/admin/agents/bruno/disable", data={"csrf_token": "faux"}).status_code == 403

    mine = [(actor, action) for actor, action, target in audit(engine) if target == "bruno"]
    assert mine == [("chef", "agent.add"), ("chef", "agent.set_skills"), ("chef", "agent.set_role"),
                    ("chef", "agent.reset_sip_password"), ("chef", "agent.disable")], mine  # fmt: skip
    page = html.unescape(client.get("/admin").text)
    assert "nouveau mot de passe SIP" in page and "agent désactivé" in page and "rôle changé" in page


def test_pause_reasons_and_callback_hours_change_while_running(admin: tuple[Engine, TestClient, str]) -> None:
    engine, client, csrf = admin
    r = client.post("/admin/pause-reasons", data={"reasons": "pause\nvisite médicale\n\npause\n", "csrf_token": csrf})
    assert r.status_code == 303
    alice = TestClient(client.app)
    token = alice.post("/api/session", json={"login": "alice", "password": PASSWORD}).json()["csrf_token"]
    headers = {"X-CSRF-Token": token}
    ok = alice.put("/api/agents/me/state", json={"state": "paused", "reason": "visite médicale"}, headers=headers)
    assert ok.status_code == 200, ok.text
    alice.put("/api/agents/me/state", json={"state": "available"}, headers=headers)
    gone = alice.put("/api/agents/me/state", json={"state": "paused", "reason": "réunion"}, headers=headers)
    assert gone.status_code == 409 and "pause, visite médicale" in gone.json()["detail"]
    assert "visite médicale" in alice.get("/console/parts/me").text, "the console offers the new reasons"
    r = client.post("/admin/pause-reasons", data={"reasons": "\n \n", "csrf_token": csrf})
    assert r.status_code == 422 and "au moins un motif" in r.text

    r = client.post("/admin/hours", data={"callback_hours": "mon-sat 09:00-18:00", "csrf_token": csrf})
    assert r.status_code == 303
    assert 'value="mon-sat 09:00-18:00"' in client.get("/admin").text
    r = client.post("/admin/hours", data={"callback_hours": "lundi 9h-18h", "csrf_token": csrf})
    assert r.status_code == 422 and "attendu par exemple" in html.unescape(r.text)
    assert 'value="mon-sat 09:00-18:00"' in client.get("/admin").text, "a refused change changes nothing"
    actions = [(actor, action) for actor, action, _ in audit(engine) if action.startswith("settings.")]
    assert actions == [("chef", "settings.pause_reasons"), ("chef", "settings.callback_hours")]


def test_only_admins_get_in(admin: tuple[Engine, TestClient, str]) -> None:
    _, client, _ = admin
    alice = TestClient(client.app, follow_redirects=False)
    assert alice.get("/admin").status_code == 303, "signed out: to the login page"
    token = alice.post("/api/session", json={"login": "alice", "password": PASSWORD}).json()["csrf_token"]
    assert alice.get("/admin").status_code == 403
    r = alice.post("/admin/hours", data={"callback_hours": "mon 00:00-24:00", "csrf_token": token})
    assert r.status_code == 403
    assert "Administration" not in alice.get("/console").text and "Administration" in client.get("/console").text
