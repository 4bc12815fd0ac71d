"""/api/crisis on the web app with the hotline's own crisis service and voice (Pico): switched on and off with
its audit, a typed pre-announcement previewed as the phone WAV, an uploaded recording checked and converted,
and the pinned entry answering /api/kb/match."""

from __future__ import annotations

import io
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from hotline.app import Hotline, build
from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts
from hotline.settings import Settings
from hotline.storage.db import make_engine, upgrade_database
from hotline.storage.models import AuditLog

PASSWORD = "un-mot-de-passe"
MESSAGE = "Coupure d'eau aux Granges-Basses jusqu'à 18 h : des bouteilles sont distribuées à la mairie."


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Hotline:
    workdir = tmp_path_factory.mktemp("crisis")
    url = f"sqlite:///{workdir / 'hotline.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    AgentAccounts(engine).add("sophie", "Sophie Garnier", Role.SUPERVISOR, [], PASSWORD)
    AgentAccounts(engine).add("alice", "Alice Martin", Role.AGENT, [], PASSWORD)
    engine.dispose()
    settings = Settings(_env_file=None, data_dir=workdir, database_url=url, prompts_dir=workdir / "sounds")
    return build(settings, with_ivr=False)


def signed_in(hotline: Hotline, login: str) -> TestClient:
    client = TestClient(hotline.web)
    body = client.post("/api/session", json={"login": login, "password": PASSWORD}).json()
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    return client


@pytest.fixture(scope="module")
def sophie(hotline: Hotline) -> Iterator[TestClient]:
    with signed_in(hotline, "sophie") as client:
        yield client


def wav_seconds(data: bytes) -> tuple[int, int, float]:
    with wave.open(io.BytesIO(data)) as w:
        return w.getframerate(), w.getnchannels(), w.getnframes() / w.getframerate()


def tone(path: Path, seconds: float, rate: int = 44100) -> bytes:
    subprocess.run(["sox", "-n", "-r", str(rate), "-c", "2", str(path), "synth", str(seconds), "sine", "440"],
                   check=True)  # fmt: skip
    return path.read_bytes()


def test_switching_crisis_mode_on_reaches_new_calls_and_is_audited(hotline: Hotline, sophie: TestClient) -> None:
    response = sophie.put("/api/crisis", json={"active": True, "message": MESSAGE, "pinned_faq_id": "eau.coupure",
                                                "overflow_wait_s": 120})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["active"] is True and response.json()["pinned_faq_id"] == "eau.coupure"
    now = hotline.crisis.current()  # what the IVR reads for its next call: no refresh needed
    assert (now.announcement, now.pinned, now.overflow_s) == (MESSAGE, "eau.coupure", 120)
    crisis_entries = [e["id"] for e in response.json()["entries"] if e["crisis"]]
    assert crisis_entries and response.json()["entries"][0]["crisis"]  # the crisis entries first
    assert sophie.put("/api/crisis", json={"active": False}).status_code == 200
    assert hotline.crisis.current().announcement is None
    with Session(hotline.engine) as s:
        audit = s.exec(
            select(AuditLog).where(col(AuditLog.action).startswith("crisis_mode")).order_by(col(AuditLog.id))
        ).all()
    assert [(a.actor, a.action) for a in audit] == [("sophie", "crisis_mode.on"), ("sophie", "crisis_mode.off")]
    assert audit[0].details["message"] == MESSAGE and audit[0].details["overflow_wait_s"] == 120


def test_bad_changes_are_refused_in_french_and_change_nothing(hotline: Hotline, sophie: TestClient) -> None:
    refused = sophie.put("/api/crisis", json={"active": True, "pinned_faq_id": "eau.nimporte-quoi"})
    assert refused.status_code == 422 and "Aucune fiche" in refused.json()["detail"]
    missing = sophie.put("/api/crisis", json={"active": True, "recording": "recorded/0000"})
    assert missing.status_code == 422 and "introuvable" in missing.json()["detail"]
    assert sophie.put("/api/crisis", json={"active": True, "overflow_wait_s": -5}).status_code == 422
    assert hotline.crisis.current().active is False


def test_an_agent_may_not_switch_crisis_mode(hotline: Hotline) -> None:
    with signed_in(hotline, "alice") as alice:
        assert alice.put("/api/crisis", json={"active": True, "message": "non"}).status_code == 403


def test_the_typed_announcement_is_previewed_as_callers_will_hear_it(sophie: TestClient) -> None:
    response = sophie.post("/api/crisis/preview", json={"text": MESSAGE})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    rate, channels, seconds = wav_seconds(response.content)
    assert (rate, channels) == (8000, 1) and 3 < seconds < 15
    assert sophie.post("/api/crisis/preview", json={"text": "   "}).status_code == 422


def test_an_uploaded_recording_is_converted_and_goes_live(hotline: Hotline, sophie: TestClient, tmp_path: Path) -> None:
    data = tone(tmp_path / "annonce.wav", 2.0)
    uploaded = sophie.post("/api/crisis/recording", files={"file": ("annonce.wav", data, "audio/wav")})
    assert uploaded.status_code == 200, uploaded.text
    name, seconds = uploaded.json()["recording"], uploaded.json()["seconds"]
    assert name.startswith("recorded/") and seconds == pytest.approx(2.0, abs=0.1)
    heard = sophie.get(f"/api/crisis/recording/{name}.wav")
    assert heard.status_code == 200 and wav_seconds(heard.content)[:2] == (8000, 1)  # telephone format
    assert sophie.put("/api/crisis", json={"active": True, "recording": name}).status_code == 200
    assert hotline.crisis.current().announcement_recording == name
    sophie.put("/api/crisis", json={"active": False})


@pytest.mark.parametrize(
    ("content", "seconds", "says"),
    [(b"ceci n'est pas du son", None, "pas un enregistrement lisible"), (None, 125.0, "entre 0.5 s et 120 s"),
     (b"", None, "vide")],
)  # fmt: skip
def test_a_bad_upload_is_refused_with_the_reason(
    sophie: TestClient, tmp_path: Path, content: bytes | None, seconds: float | None, says: str
) -> None:
    data = content if content is not None else tone(tmp_path / "long.wav", seconds or 0, rate=8000)
    refused = sophie.post("/api/crisis/recording", files={"file": ("x.wav", data, "audio/wav")})
    assert refused.status_code == 422 and says in refused.json()["detail"]


def test_the_pinned_entry_answers_a_close_question(hotline: Hotline, sophie: TestClient) -> None:
    question = {"text": "je voudrais des informations sur la coupure"}
    assert sophie.post("/api/kb/match", json=question).json()["faq_id"] is None
    sophie.put("/api/crisis", json={"active": True, "pinned_faq_id": "eau.coupure"})
    assert sophie.post("/api/kb/match", json=question).json()["faq_id"] == "eau.coupure"
    sophie.put("/api/crisis", json={"active": False})
