"""Open311 GeoReport v2 on SQLite and PostgreSQL: every route in JSON and XML, every error in the spec's form, a
key made by `hotline open311 key add` (the CLI as a person runs it), the request being the same ticket the
phone and the console see; and a real client from PyPI (georeport) reading it over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from georeport import GeoReport
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hotline.app import build
from hotline.domain import dossier
from hotline.domain.enums import TicketStatus
from hotline.services.tickets import TicketService
from hotline.settings import DEFAULT_KB_PATH, Settings
from hotline.storage.db import make_engine, upgrade_database
from hotline.storage.models import Open311Key, Ticket
from ivr.runtime.store import CallStore
from kb.loader import load_kb

BASE = "/open311/v2"
REPORT = "voirie.signalement"


@pytest.fixture
def open311(tmp_path: Path, database_url: str) -> Iterator[tuple[Engine, TestClient, str]]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "open311", "key", "add", "fixmystreet", "--json"],
        env={**os.environ, "HOTLINE_DATABASE_URL": database_url}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    key = json.loads(done.stdout)
    assert key["name"] == "fixmystreet" and len(key["api_key"]) >= 30
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=database_url)
    with TestClient(build(settings, with_ivr=False).web) as client:
        yield engine, client, key["api_key"]
    engine.dispose()


def report(client: TestClient, key: str, fmt: str = "json", **fields: str) -> Any:
    form = {"api_key": key, "service_code": REPORT, "lat": "47.3220", "long": "5.0415",
            "description": "Un trou profond devant le 12 rue des Lilas.", "first_name": "Claire",
            "last_name": "Dubois", "phone": "06 12 34 56 78", "attribute[urgence]": "urgente", **fields}  # fmt: skip
    return client.post(f"{BASE}/requests.{fmt}", data=form)


def test_services_in_json_and_xml(open311: tuple[Engine, TestClient, str]) -> None:
    _, client, _ = open311
    listed = client.get(f"{BASE}/services.json").json()
    kb = load_kb(DEFAULT_KB_PATH)
    expected = sorted(e.id for e in kb.entries if e.action.value in ("report", "callback"))
    assert sorted(s["service_code"] for s in listed) == expected and len(expected) >= 4
    pothole = next(s for s in listed if s["service_code"] == REPORT)
    assert set(pothole) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    assert pothole["group"] == "Voirie" and pothole["metadata"] is True and pothole["type"] == "realtime"
    xml = ET.fromstring(client.get(f"{BASE}/services.xml").content)
    assert xml.tag == "services" and len(xml.findall("service")) == len(expected)
    assert client.get(f"{BASE}/services.xml").headers["content-type"].startswith("text/xml")
    first = xml.find("service")
    assert first is not None and first.findtext("metadata") == "true"

    definition = client.get(f"{BASE}/services/{REPORT}.json").json()
    assert definition["service_code"] == REPORT
    [urgency] = definition["attributes"]
    assert urgency["code"] == "urgence" and urgency["datatype"] == "singlevaluelist"
    assert [v["key"] for v in urgency["values"]] == ["faible", "normale", "urgente"]
    xml = ET.fromstring(client.get(f"{BASE}/services/{REPORT}.xml").content)
    assert xml.tag == "service_definition" and xml.findtext("attributes/attribute/code") == "urgence"
    assert [v.text for v in xml.findall("attributes/attribute/values/value/key")] == ["faible", "normale", "urgente"]


def test_a_request_becomes_a_ticket_the_phone_follows(open311: tuple[Engine, TestClient, str]) -> None:
    engine, client, key = open311
    r = report(client, key, account_id="compte-42")
    assert r.status_code == 200, r.text
    [created] = r.json()
    number = created["service_request_id"]
    assert dossier.is_valid(number) and created["account_id"] == "compte-42"
    assert number in created["service_notice"] and "0 800 123 456" in created["service_notice"]
    with Session(engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.dossier_number == number)).one()
    assert ticket.origin == "open311" and ticket.faq_id == REPORT and ticket.category == "voirie"
    assert (ticket.lat, ticket.lon) == (47.322, 5.0415) and ticket.caller_phone == "0612345678"
    assert ticket.priority == 90, "urgente"
    assert ticket.requester == {"first_name": "Claire", "last_name": "Dubois", "phone": "06 12 34 56 78",
                                "account_id": "compte-42"}  # fmt: skip
    store = CallStore(engine, load_kb(DEFAULT_KB_PATH))
    assert store.lookup_ticket(number).status is TicketStatus.OPEN, "what a caller hears by phone"

    [read] = client.get(f"{BASE}/requests/{number}.json").json()
    assert read["status"] == "open" and read["service_code"] == REPORT and read["lat"] == 47.322
    assert read["description"].startswith("Un trou profond") and read["agency_responsible"]
    assert read["requested_datetime"].endswith(("+01:00", "+02:00")), "ISO 8601 with the time zone"
    assert "phone" not in read and "first_name" not in read, "nobody's contact details go out"
    xml = ET.fromstring(client.get(f"{BASE}/requests/{number}.xml").content)
    assert xml.tag == "service_requests" and xml.findtext("request/service_request_id") == number
    assert xml.findtext("request/status") == "open"

    assert ticket.id is not None
    tickets = TicketService(engine, None, load_kb(DEFAULT_KB_PATH))
    tickets.change_status(ticket.id, TicketStatus.RESOLVED)
    tickets.change_status(ticket.id, TicketStatus.CLOSED)
    [read] = client.get(f"{BASE}/requests/{number}.json").json()
    assert read["status"] == "closed"
    assert store.lookup_ticket(number).status is TicketStatus.CLOSED

    r = report(client, key, fmt="xml", lat="", long="", address_string="Place de la Libération")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    xml_number = ET.fromstring(r.content).findtext("request/service_request_id")
    assert xml_number and dossier.is_valid(xml_number)


def test_listing_with_the_spec_filters(open311: tuple[Engine, TestClient, str]) -> None:
    engine, client, key = open311
    numbers = [report(client, key).json()[0]["service_request_id"] for _ in range(2)]
    other = report(client, key, service_code="proprete.depot-sauvage").json()[0]["service_request_id"]
    # A phone ticket on the same request type is listed too, without the caller's words.
    call_store = CallStore(engine, load_kb(DEFAULT_KB_PATH))
    call_id = call_store.start_call("o311-1", "0699999999", "0800123456")
    phone_number = call_store.create_ticket(call_id, "report", REPORT, needs_callback=False)

    def ids(**query: str) -> list[str]:
        r = client.get(f"{BASE}/requests.json", params=query)
        assert r.status_code == 200, r.text
        return [row["service_request_id"] for row in r.json()]

    assert set(ids()) == {*numbers, other, phone_number}
    assert set(ids(service_code=REPORT)) == {*numbers, phone_number}
    picked = ids(service_request_id=f"{numbers[0]},{other}", service_code="ignore.me", status="closed")
    assert set(picked) == {numbers[0], other}, "a list of ids overrides every other filter"
    assert set(ids(status="open")) == {*numbers, other, phone_number} and ids(status="closed") == []
    assert ids(start_date="2020-01-01T00:00:00Z", end_date="2020-02-01T00:00:00Z") == []
    phone_row = next(r for r in client.get(f"{BASE}/requests.json").json() if r["service_request_id"] == phone_number)
    assert phone_row["description"] is None
    xml = ET.fromstring(client.get(f"{BASE}/requests.xml", params={"service_code": REPORT}).content)
    assert {e.text for e in xml.findall("request/service_request_id")} == {*numbers, phone_number}


def errors(response: Any) -> tuple[int, list[int]]:  # a TestClient response
    if response.headers["content-type"].startswith("text/xml"):
        root = ET.fromstring(response.content)
        assert root.tag == "errors"
        return response.status_code, [int(e.findtext("code") or 0) for e in root.findall("error")]
    body: list[dict[str, Any]] = response.json()
    assert all(set(e) == {"code", "description"} and e["description"] for e in body), body
    return response.status_code, [e["code"] for e in body]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_every_error_in_the_spec_form(open311: tuple[Engine, TestClient, str], fmt: str) -> None:
    engine, client, key = open311
    assert errors(report(client, "", fmt)) == (403, [403])
    assert errors(report(client, "pas-la-bonne-cle", fmt)) == (403, [403])
    assert errors(report(client, key, fmt, service_code="inconnu.code")) == (404, [404])
    assert errors(report(client, key, fmt, service_code="")) == (400, [400])
    assert errors(report(client, key, fmt, lat="", long="")) == (400, [400]), "no location"
    assert errors(report(client, key, fmt, lat="47.3", long="")) == (400, [400]), "half a location"
    assert errors(report(client, key, fmt, lat="947.3")) == (400, [400])
    assert errors(report(client, key, fmt, lat="nord")) == (400, [400])
    assert errors(report(client, key, fmt, description="x" * 4001)) == (400, [400])
    assert errors(report(client, key, fmt, **{"attribute[urgence]": "tres"})) == (400, [400])
    assert errors(report(client, key, fmt, **{"attribute[couleur]": "rouge"})) == (400, [400])
    assert errors(client.get(f"{BASE}/services/inconnu.{fmt}")) == (404, [404])
    assert errors(client.get(f"{BASE}/requests/12345678.{fmt}")) == (404, [404])
    assert errors(client.get(f"{BASE}/requests/abc.{fmt}")) == (404, [404])
    assert errors(client.get(f"{BASE}/requests.{fmt}", params={"start_date": "hier"})) == (400, [400])
    assert errors(client.get(f"{BASE}/requests.{fmt}", params={"status": "pending"})) == (400, [400])
    assert errors(client.get(f"{BASE}/requests.{fmt}", params={"service_code": "inconnu"})) == (404, [404])
    too_wide = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}
    assert errors(client.get(f"{BASE}/requests.{fmt}", params=too_wide)) == (400, [400])
    assert errors(client.get(f"{BASE}/services.yaml")) == (400, [400])
    with Session(engine) as s:
        assert s.exec(select(Ticket)).all() == [], "no refused request left a ticket"


def test_a_key_is_kept_as_its_hash_and_names_are_unique(open311: tuple[Engine, TestClient, str]) -> None:
    engine, _, key = open311
    with Session(engine) as s:
        [row] = s.exec(select(Open311Key)).all()
    assert row.name == "fixmystreet" and key not in row.key_hash and len(row.key_hash) == 64
    again = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "open311", "key", "add", "fixmystreet", "--json"],
        env={**os.environ, "HOTLINE_DATABASE_URL": str(engine.url.render_as_string(hide_password=False))},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert again.returncode == 2 and "exists already" in again.stderr


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The app over real HTTP (the georeport client uses requests), on SQLite."""
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    from hotline.services.open311 import add_key

    key = add_key(engine, "client-test")
    engine.dispose()
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=url)
    server = uvicorn.Server(uvicorn.Config(build(settings, with_ivr=False).web, host="127.0.0.1", port=0,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}{BASE}", key
    server.should_exit = True
    thread.join(10)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_real_open311_client_reads_it(served: tuple[str, str], fmt: str) -> None:
    root, key = served
    form = {"api_key": key, "service_code": REPORT, "address_string": "12 rue des Lilas", "description": "Nid"}
    r = httpx.post(f"{root}/requests.json", data=form)
    assert r.status_code == 200, r.text
    number = r.json()[0]["service_request_id"]
    client = GeoReport(root, output_format=fmt)
    services = client.get_service_list()
    assert REPORT in [s["service_code"] for s in services]
    definition = client.get_service_definition(REPORT)
    assert definition["service_code"] == REPORT
    one = client.get_service_request(number)
    assert one["service_request_id"] == number and one["status"] == "open"
    listed = client.get_service_requests(service_code=REPORT)
    rows = listed if isinstance(listed, list) else [listed]  # xmltodict gives one element as a dict
    assert number in [row["service_request_id"] for row in rows]
