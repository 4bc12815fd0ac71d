"""The ticket pages on SQLite and PostgreSQL: search by dossier number (a typo caught by the check digit), by phone
number in any of its forms and by words; the workflow's buttons with who and when; notes, category, service and
resolution; refusals that change nothing; and the status the IVR's follow-up reads."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hotline.app import build
from hotline.domain import dossier
from hotline.domain.enums import TicketStatus
from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts
from hotline.settings import DEFAULT_KB_PATH, Settings
from hotline.storage.db import make_engine, upgrade_database
from hotline.storage.models import Ticket, TicketStatusChange
from ivr.runtime.store import CallStore
from kb.loader import load_kb

PASSWORD = "un-mot-de-passe"


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> Iterator[tuple[Engine, TestClient, CallStore]]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    AgentAccounts(engine).add("alice", "Alice Martin", Role.AGENT, ["eau"], PASSWORD)
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=database_url)
    with TestClient(build(settings, with_ivr=False).web, follow_redirects=False) as client:
        yield engine, client, CallStore(engine, load_kb(DEFAULT_KB_PATH))
    engine.dispose()


def signed_in(client: TestClient) -> str:
    r = client.post("/api/session", json={"login": "alice", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def ticket_for(store: CallStore, channel: str, phone: str, transcript: str | None = None) -> str:
    call_id = store.start_call(channel, phone, "0800123456")
    number = store.create_ticket(call_id, "caller_asked", "eau.coupure", needs_callback=False)
    if transcript:
        from hotline.domain.enums import CallOutcome

        store.finish_call(call_id, CallOutcome.TO_AGENT, "eau.coupure", transcript)
    return number


def typo_of(number: str) -> str:
    """The same number with two adjacent digits swapped (the check digit catches it)."""
    for i in range(1, len(number) - 1):
        swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
        if swapped != number:
            return swapped
    raise AssertionError(number)


def test_search_by_dossier_phone_and_words(app: tuple[Engine, TestClient, CallStore]) -> None:
    _, client, store = app
    first = ticket_for(store, "p1", "+33612345678", "la rue des Lilas n'a plus d'eau")
    second = ticket_for(store, "p2", "0380123456")
    assert client.get("/tickets").status_code == 303, "signed out: to the login page"
    signed_in(client)

    spaced = f"{first[:4]} {first[4:]}"
    r = client.get("/tickets", params={"q": spaced})
    assert r.status_code == 303 and r.headers["location"] == f"/tickets/{first}", "one dossier: straight to it"
    wrong = typo_of(first)
    assert not dossier.is_valid(wrong)
    page = html.unescape(client.get("/tickets", params={"q": wrong}).text)
    assert "chiffre de contrôle" in page and "n'est pas un numéro de dossier valide" in page

    for typed in ("06 12 34 56 78", "0612345678", "+33612345678"):
        page = html.unescape(client.get("/tickets", params={"q": typed}).text)
        assert first in page and second not in page, typed
    page = html.unescape(client.get("/tickets", params={"q": "03.80.12.34.56"}).text)
    assert second in page and first not in page

    page = html.unescape(client.get("/tickets", params={"q": "Lilas"}).text)
    assert first in page and second not in page, "words of what the caller said"
    page = html.unescape(client.get("/tickets", params={"q": "lilas zzz"}).text)
    assert "Aucun dossier ne correspond." in page, "every word must match"
    page = html.unescape(client.get("/tickets").text)
    assert first in page and second in page and "Derniers dossiers" in page
    assert client.get("/tickets", params={"q": "x" * 201}).status_code == 422


def test_the_workflow_with_who_and_when(app: tuple[Engine, TestClient, CallStore]) -> None:
    engine, client, store = app
    number = ticket_for(store, "w1", "+33611111111")
    csrf = signed_in(client)
    page = html.unescape(client.get(f"/tickets/{number}").text)
    assert "nouveau" in page and "06 11 11 11 11" in page and "Eau" in page

    def move(to: str, token: str = csrf) -> int:
        r = client.post(f"/tickets/{number}/status", data={"to": to, "csrf_token": token})
        return r.status_code

    assert move("in_progress", token="faux") == 403, "CSRF"
    assert move("in_progress") == 303
    assert move("escalated") == 303
    assert move("resolved") == 303
    assert move("waiting_callback") == 409, "a resolved ticket is reopened first"
    page = html.unescape(client.get(f"/tickets/{number}").text)
    assert "résolu" in page and "Rouvrir" in page
    assert move("closed") == 303
    assert store.lookup_ticket(number).status is TicketStatus.CLOSED, "what the IVR's follow-up reads out"
    assert move("in_progress") == 303, "rouvrir"
    assert move("nonsense") == 422
    with Session(engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.dossier_number == number)).one()
        rows = s.exec(
            select(TicketStatusChange).where(TicketStatusChange.ticket_id == ticket.id).order_by(TicketStatusChange.id)  # type: ignore[arg-type]
        ).all()
    steps = [(r.to_status.value, r.by_agent_id is not None) for r in rows]
    assert steps[-5:] == [("in_progress", True), ("escalated", True), ("resolved", True), ("closed", True),
                          ("in_progress", True)], steps  # fmt: skip
    assert rows[-1].reason == "rouvrir"
    history = html.unescape(client.get(f"/tickets/{number}").text)
    assert history.count("par Alice Martin") >= 5
    assert re.search(r"\d\d/\d\d/\d{4} à \d{1,2} h \d\d", history), "French dates"


def test_notes_and_details_and_refusals(app: tuple[Engine, TestClient, CallStore]) -> None:
    engine, client, store = app
    number = ticket_for(store, "n1", "+33622222222")
    csrf = signed_in(client)
    r = client.post(f"/tickets/{number}/notes", data={"body": "  ", "csrf_token": csrf})
    assert r.status_code == 422 and "Écrivez la note" in html.unescape(r.text)
    r = client.post(f"/tickets/{number}/notes", data={"body": "Rappel prévu demain matin.", "csrf_token": csrf,
                                                     "return_to": "https://ailleurs.example/"})  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == f"/tickets/{number}", "never sent to another site"
    r = client.post(f"/tickets/{number}/details", data={"category": "voirie", "service": "Service des eaux",
                                                       "resolution": "Vanne réparée.", "csrf_token": csrf})  # fmt: skip
    assert r.status_code == 303
    r = client.post(f"/tickets/{number}/details", data={"category": "inconnue", "csrf_token": csrf})
    assert r.status_code == 422 and "catégorie inconnue" in r.text
    r = client.post(f"/tickets/{number}/details", data={"category": "voirie", "service": "Service des eaux",
                                                       "resolution": "Vanne réparée.", "csrf_token": csrf,
                                                       },
                    headers={"X-Requested-With": "fetch"})  # fmt: skip
    assert r.status_code == 303, "nothing changed is not a refusal"
    with Session(engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.dossier_number == number)).one()
    assert (ticket.category, ticket.service, ticket.resolution) == ("voirie", "Service des eaux", "Vanne réparée.")
    page = html.unescape(client.get(f"/tickets/{number}").text)
    assert "Rappel prévu demain matin." in page and "Catégorie : Voirie" in page
    assert client.post(f"/tickets/{number}/status", data={"to": "in_progress", "csrf_token": csrf}).status_code == 303
    r = client.post(f"/tickets/{number}/status", data={"to": "open", "csrf_token": csrf},
                    headers={"X-Requested-With": "fetch"})  # fmt: skip
    assert r.status_code == 409 and r.text == "Un dossier « en cours » ne peut pas passer à « nouveau ».", r.text
    assert client.get("/tickets/12345678").status_code == 404
    assert client.post("/tickets/12345678/notes", data={"body": "x", "csrf_token": csrf}).status_code == 404


def test_the_kb_page_names_topics_in_french_and_links_to_the_console(
    app: tuple[Engine, TestClient, CallStore],
) -> None:
    _, client, _ = app
    page = html.unescape(client.get("/").text)
    assert "<h2>Déchets</h2>" in page and "<h2>Cimetière</h2>" in page and "Dechets" not in page
    assert 'href="/console"' in page
