"""/residents on SQLite and PostgreSQL: an agent registers a resident who consented (dated today, channel
"agent"), finds a number, opts one out (CSRF, audited); refusals say why and change nothing; the counts by zone;
the « Alertes » link in the staff pages."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hotline.app import build
from hotline.domain.enums import ResidentChannel
from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts
from hotline.services.residents import Residents, paris_today
from hotline.settings import Settings
from hotline.storage.db import make_engine, upgrade_database
from hotline.storage.models import AuditLog, Resident

PASSWORD = "un-mot-de-passe"


@pytest.fixture
def agent(tmp_path: Path, database_url: str) -> Iterator[tuple[Engine, TestClient, str]]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    AgentAccounts(engine).add("alice", "Alice Martin", Role.AGENT, [], PASSWORD)
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=database_url)
    with TestClient(build(settings, with_ivr=False).web, follow_redirects=False) as client:
        r = client.post("/api/session", json={"login": "alice", "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield engine, client, str(r.json()["csrf_token"])
    engine.dispose()


def residents(engine: Engine) -> list[Resident]:
    with Session(engine) as s:
        return list(s.exec(select(Resident).order_by(col(Resident.id))))


def audit(engine: Engine) -> list[tuple[str, str, str]]:
    with Session(engine) as s:
        found = s.exec(select(AuditLog).where(col(AuditLog.action).startswith("resident.")).order_by(col(AuditLog.id)))
        return [(a.actor, a.action, a.target) for a in found]


def test_an_agent_registers_finds_and_opts_out_a_resident(agent: tuple[Engine, TestClient, str]) -> None:
    engine, client, csrf = agent
    page = client.get("/residents")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Inscrire un habitant" in text and "La personne a donné son accord" in text
    assert '<a href="/residents">Alertes</a>' in page.text, "the staff pages' nav"
    assert '<option value="Les Granges-Basses">Villeroux — Les Granges-Basses</option>' in text
    assert "Personne n'est encore inscrit." in text

    form = {"phone": "06 12 34 56 78", "resident_name": "Jeanne Roux", "zone": "Les Granges-Basses",
            "csrf_token": csrf}  # fmt: skip
    r = client.post("/residents", data=form)  # the box not ticked
    assert r.status_code == 422 and "la personne doit avoir donné son accord" in html.unescape(r.text)
    assert residents(engine) == []
    r = client.post("/residents", data={**form, "phone": "06 12", "consent": "yes"})
    assert r.status_code == 422 and "Numéro de téléphone invalide : « 06 12 »" in html.unescape(r.text)
    r = client.post("/residents", data={**form, "zone": "Atlantide", "consent": "yes"})
    assert r.status_code == 422 and "zone inconnue « Atlantide »" in html.unescape(r.text)
    r = client.post("/residents", data={**form, "zone": "tout", "consent": "yes"})
    assert r.status_code == 422 and residents(engine) == [] and audit(engine) == []
    r = client.post("/residents", data={**form, "consent": "yes", "csrf_token": "faux"})
    assert r.status_code == 403 and residents(engine) == []

    r = client.post("/residents", data={**form, "consent": "yes"})
    assert r.status_code == 200, r.text
    assert "Jeanne Roux : inscrite." in html.unescape(r.text) and "06 12 34 56 78" in r.text
    [jeanne] = residents(engine)
    assert (jeanne.phone_e164, jeanne.commune, jeanne.hamlet) == ("+33612345678", "Villeroux", "Les Granges-Basses")
    assert (jeanne.consent_date, jeanne.consent_channel) == (paris_today(), ResidentChannel.AGENT)
    assert audit(engine) == [("alice", "resident.register", f"résident n° {jeanne.id}")]

    Residents(engine).register("0698765432", "Paul Petit", "Chaumières", None, date(2026, 1, 1), "import")
    found = client.get("/residents", params={"q": "+33 6 12 34 56 78"})
    assert found.status_code == 200 and "Jeanne Roux" in found.text and "Paul Petit" not in found.text
    assert f'action="/residents/{jeanne.id}/opt-out"' in found.text
    missing = client.get("/residents", params={"q": "0611111111"})
    assert "Ce numéro n'est pas inscrit aux alertes." in html.unescape(missing.text)
    bad = client.get("/residents", params={"q": "bonjour"})
    assert bad.status_code == 200 and "Numéro de téléphone invalide : « bonjour »" in html.unescape(bad.text)
    counts = html.unescape(client.get("/residents").text)
    assert "<td>Tout le territoire</td><td>2</td>" in counts
    assert "<td>Villeroux — Les Granges-Basses</td><td>1</td>" in counts and "<td>Villeroux</td><td>1</td>" in counts

    assert client.post(f"/residents/{jeanne.id}/opt-out", data={}).status_code == 403, "CSRF"
    r = client.post(f"/residents/{jeanne.id}/opt-out", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/residents"
    [gone, _] = residents(engine)
    assert gone.opted_out_at is not None and gone.opt_out_channel is ResidentChannel.AGENT
    assert audit(engine)[-1] == ("alice", "resident.opt_out", f"résident n° {jeanne.id}")
    assert Residents(engine).targets(["Villeroux"]) == []
    page = html.unescape(client.get("/residents", params={"q": "0612345678"}).text)
    assert "désinscrit le" in page and f'action="/residents/{jeanne.id}/opt-out"' not in page
    assert "1 désinscrit, jamais appelé." in html.unescape(client.get("/residents").text)
    assert client.post("/residents/999999/opt-out", data={"csrf_token": csrf}).status_code == 404

    r = client.post("/residents", data={**form, "consent": "yes"})  # she consents again, to the agent
    assert r.status_code == 200 and "réinscrite avec son nouvel accord" in html.unescape(r.text)
    assert [r.phone_e164 for r in Residents(engine).targets(["Villeroux"])] == ["+33612345678"]
