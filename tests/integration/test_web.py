"""The web app over a real database file: health, the KB API, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hotline.app import build
from hotline.settings import Settings
from hotline.storage.db import upgrade_database


@pytest.fixture
def client(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    upgrade_database(database_url)
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    with TestClient(build(settings, with_ivr=False).web) as c:
        yield c


def test_healthz_tells_the_truth(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "db": "ok", "ari": "disconnected"}


def test_healthz_reports_a_dead_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    with TestClient(build(settings, with_ivr=False).web) as c:
        body = c.get("/healthz").json()
    assert body["status"] == "degraded"
    assert body["db"].startswith("error: ")


def test_kb_entries_and_one_entry(client: TestClient) -> None:
    entries = client.get("/api/kb/entries").json()
    assert {"id": "sport.piscine"}.items() <= next(e for e in entries if e["id"] == "sport.piscine").items()
    entry = client.get("/api/kb/entries/sport.piscine").json()
    assert len(entry["questions"]) >= 5 and entry["spoken_answer"]
    assert client.get("/api/kb/entries/nope.nope").status_code == 404


def test_match_and_bad_input(client: TestClient) -> None:
    r = client.post("/api/kb/match", json={"text": "à quelle heure ouvre la piscine le dimanche"})
    assert r.status_code == 200
    assert r.json()["faq_id"] == "sport.piscine"
    assert client.post("/api/kb/match", json={"text": ""}).status_code == 422
    assert client.post("/api/kb/match", json={"text": "x" * 501}).status_code == 422
    assert client.post("/api/kb/match", json={}).status_code == 422


def test_home_page_is_french(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert '<html lang="fr">' in r.text and "Numéro vert" in r.text
