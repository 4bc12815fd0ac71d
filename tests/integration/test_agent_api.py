"""The agents' JSON API over a real database (SQLite and PostgreSQL): sign-in with server-side sessions and
CSRF, the agent's own state with its rules, wrap-up, and the waiting callers with their earlier tickets."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import select

from hotline.app import build
from hotline.domain.enums import AgentState
from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts
from hotline.services.messages import RecordingNotFoundError
from hotline.services.queue import NewEntry, QueueService
from hotline.services.transfers import TransferOrder
from hotline.settings import DEFAULT_KB_PATH, Settings
from hotline.storage.db import make_engine, session_scope, upgrade_database
from hotline.storage.models import Agent, AgentStateChange, Call, Ticket
from ivr.runtime.store import CallStore
from kb.loader import load_kb

PASSWORD = "un-mot-de-passe"


@pytest.fixture
def engine_and_client(tmp_path: Path, database_url: str) -> Iterator[tuple[Engine, TestClient]]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    accounts = AgentAccounts(engine)
    accounts.add("alice", "Alice Martin", Role.AGENT, ["eau"], PASSWORD)
    accounts.add("bob", "Bob", Role.SUPERVISOR, [], PASSWORD)
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=database_url)
    with TestClient(build(settings, with_ivr=False).web) as client:
        yield engine, client
    engine.dispose()


def sign_in(client: TestClient, login: str = "alice") -> dict[str, str]:
    r = client.post("/api/session", json={"login": login, "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["login"] == login and body["csrf_token"]
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    return {"X-CSRF-Token": body["csrf_token"]}


def test_sign_in_me_and_sign_out(engine_and_client: tuple[Engine, TestClient]) -> None:
    _, client = engine_and_client
    assert client.get("/api/agents/me").status_code == 401
    csrf = sign_in(client)
    me = client.get("/api/agents/me").json()
    assert (me["login"], me["name"], me["role"], me["state"], me["skills"], me["call"]) == (
        "alice", "Alice Martin", "agent", "offline", ["eau"], None
    )  # fmt: skip
    assert client.delete("/api/session").status_code == 403, "CSRF header required"
    assert client.delete("/api/session", headers=csrf).status_code == 204
    assert client.get("/api/agents/me").status_code == 401, "the session is revoked on the server"


def test_bad_credentials_and_the_slowdown(engine_and_client: tuple[Engine, TestClient]) -> None:
    _, client = engine_and_client
    for _ in range(5):
        r = client.post("/api/session", json={"login": "alice", "password": "wrong-password"})
        assert r.status_code == 401 and r.json()["detail"] == "Identifiant ou mot de passe incorrect."
    assert client.post("/api/session", json={"login": "nobody", "password": "x"}).status_code in (401, 429)
    r = client.post("/api/session", json={"login": "alice", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1, "even the right password waits"
    assert client.post("/api/session", json={"login": "alice"}).status_code == 422


def test_state_changes_follow_the_rules(engine_and_client: tuple[Engine, TestClient]) -> None:
    engine, client = engine_and_client
    csrf = sign_in(client)
    assert client.put("/api/agents/me/state", json={"state": "available"}).status_code == 403
    r = client.put("/api/agents/me/state", json={"state": "available"}, headers=csrf)
    assert r.status_code == 200 and r.json()["state"] == "available"
    r = client.put("/api/agents/me/state", json={"state": "paused"}, headers=csrf)
    assert r.status_code == 409 and "motif" in r.json()["detail"]
    r = client.put("/api/agents/me/state", json={"state": "paused", "reason": "réunion"}, headers=csrf)
    assert r.status_code == 200 and (r.json()["state"], r.json()["reason"]) == ("paused", "réunion")
    r = client.put("/api/agents/me/state", json={"state": "on_call"}, headers=csrf)
    assert r.status_code == 422 and "state" in str(r.json()["detail"])
    r = client.post("/api/agents/me/wrap-up/end", headers=csrf)
    assert r.status_code == 409 and "wrap-up" in r.json()["detail"]
    assert client.get("/api/agents/me").json()["state"] == "paused", "a refusal changes nothing"
    with session_scope(engine, write=False) as s:
        changes = [(c.from_state, c.to_state, c.reason) for c in s.exec(select(AgentStateChange))]
    assert changes == [
        (AgentState.OFFLINE, AgentState.AVAILABLE, None),
        (AgentState.AVAILABLE, AgentState.PAUSED, "réunion"),
    ]


def test_the_queue_in_order_with_the_callers_earlier_tickets(engine_and_client: tuple[Engine, TestClient]) -> None:
    engine, client = engine_and_client
    queue = QueueService(engine)
    ids = []
    for channel, phone, priority in (("c1", "0611111111", 0), ("c2", "0622222222", 20)):
        with session_scope(engine) as s:
            call = Call(channel_id=channel, caller_number=phone, called_number="0800123456")
            s.add(call)
            s.flush()
            assert call.id is not None
            if phone == "0611111111":
                s.add(Ticket(dossier_number="12345678", subject="Fuite d'eau", caller_phone=phone))
            call_id = call.id
        ids.append(queue.enqueue(NewEntry(call_id, channel, phone, "eau", "eau.coupure", priority,
                                              "caller_asked", "je n'ai plus d'eau")))  # fmt: skip
    assert client.get("/api/queue").status_code == 401
    sign_in(client)
    rows = client.get("/api/queue").json()
    assert [(r["entry_id"], r["position"], r["priority"]) for r in rows] == [(ids[1], 1, 20), (ids[0], 2, 0)]
    assert rows[1]["transcript"] == "je n'ai plus d'eau" and rows[1]["topic"] == "eau"
    assert [t["dossier"] for t in rows[1]["earlier_tickets"]] == ["12345678"] and rows[0]["earlier_tickets"] == []
    assert all(r["waited_s"] >= 0 for r in rows)


def test_take_a_waiting_caller_once(engine_and_client: tuple[Engine, TestClient]) -> None:
    engine, client = engine_and_client
    with session_scope(engine) as s:
        call = Call(channel_id="c9", caller_number="0633333333", called_number="0800123456")
        s.add(call)
        s.flush()
        assert call.id is not None
        call_id = call.id
    QueueService(engine).enqueue(NewEntry(call_id, "c9", "0633333333", None, None, 0, "caller_asked", None))
    csrf = sign_in(client)
    assert client.post(f"/api/queue/{call_id}/take", headers=csrf).status_code == 409, "offline: cannot take"
    client.put("/api/agents/me/state", json={"state": "available"}, headers=csrf)
    assert client.post(f"/api/queue/{call_id}/take").status_code == 403, "CSRF"
    r = client.post(f"/api/queue/{call_id}/take", headers=csrf)
    assert r.status_code == 200 and r.json()["state"] == "offered", r.text
    assert client.get("/api/agents/me").json()["state"] == "ringing"
    assert client.post(f"/api/queue/{call_id}/take", headers=csrf).status_code == 409, "already ringing"
    bob = sign_in(client, "bob")  # another agent, a second later
    client.put("/api/agents/me/state", json={"state": "available"}, headers=bob)
    r = client.post(f"/api/queue/{call_id}/take", headers=bob)
    assert r.status_code == 409 and "n'attend plus" in r.json()["detail"], r.text
    assert client.get("/api/agents/me").json()["state"] == "available", "a refused take changes nothing"
    assert client.post("/api/queue/999999/take", headers=bob).status_code == 404


def test_the_events_stream_carries_committed_changes(engine_and_client: tuple[Engine, TestClient]) -> None:
    import json
    import threading

    _, client = engine_and_client
    assert client.get("/api/events").status_code == 401
    csrf = sign_in(client)
    lines: list[str] = []
    with client.stream("GET", "/api/events") as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        # The subscription starts with the stream: change state until an event arrives.
        stop = threading.Event()

        def poke() -> None:
            states = ["available", "offline"]
            i = 0
            while not stop.is_set():
                client.put("/api/agents/me/state", json={"state": states[i % 2]}, headers=csrf)
                i += 1
                stop.wait(0.3)

        poker = threading.Thread(target=poke)
        poker.start()
        try:
            for line in stream.iter_lines():
                lines.append(line)
                if line.startswith("data:"):
                    break
        finally:
            stop.set()
            poker.join()
    assert "event: agent.state_changed" in lines
    data = json.loads(next(line for line in lines if line.startswith("data:")).removeprefix("data:"))
    assert data["kind"] == "agent.state_changed" and data["to_state"] in ("available", "offline")


def test_callbacks_listed_with_their_attempts_and_called_now_once(
    engine_and_client: tuple[Engine, TestClient],
) -> None:
    engine, client = engine_and_client
    with session_scope(engine) as s:
        call = Call(channel_id="c10", caller_number="0644444444", called_number="0800123456")
        s.add(call)
        s.flush()
        assert call.id is not None
        call_id = call.id
    CallStore(engine, load_kb(DEFAULT_KB_PATH)).create_ticket(call_id, "callback_requested", None, needs_callback=True)
    csrf = sign_in(client)
    [listed] = client.get("/api/callbacks").json()
    assert listed["phone"] == "0644444444" and listed["state"] == "pending" and listed["tries"] == []
    assert len(listed["dossier"]) > 4
    number = listed["id"]
    assert client.post(f"/api/callbacks/{number}/call-now", headers=csrf).status_code == 409, "offline"
    client.put("/api/agents/me/state", json={"state": "available"}, headers=csrf)
    assert client.post(f"/api/callbacks/{number}/call-now").status_code == 403, "CSRF"
    r = client.post(f"/api/callbacks/{number}/call-now", headers=csrf)
    assert r.status_code == 200 and r.json() == {"callback_id": number, "attempt": 1, "state": "in_progress"}
    assert client.get("/api/agents/me").json()["state"] == "ringing"
    bob = sign_in(client, "bob")
    client.put("/api/agents/me/state", json={"state": "available"}, headers=bob)
    r = client.post(f"/api/callbacks/{number}/call-now", headers=bob)
    assert r.status_code == 409 and "n'attend plus d'être passé" in r.json()["detail"], r.text
    assert client.post("/api/callbacks/999999/call-now", headers=bob).status_code == 404
    [listed] = client.get("/api/callbacks").json()
    assert listed["state"] == "in_progress" and [t["result"] for t in listed["tries"]] == [None]
    assert client.get("/api/callbacks?limit=0").status_code == 422
    client.cookies.clear()
    assert client.get("/api/callbacks").status_code == 401


class Desk:
    """What the queue would be given: the orders, and the completions and cancellations."""

    def __init__(self) -> None:
        self.orders: list[TransferOrder] = []
        self.attended: list[bool] = []
        self.done: list[tuple[str, int]] = []

    async def transfer(self, order: TransferOrder, attended: bool = False) -> None:
        self.orders.append(order)
        self.attended.append(attended)

    async def complete_transfer(self, entry_id: int) -> None:
        self.done.append(("complete", entry_id))

    async def cancel_transfer(self, entry_id: int) -> None:
        self.done.append(("cancel", entry_id))


def test_a_transfer_is_checked_then_handed_to_the_queue(engine_and_client: tuple[Engine, TestClient]) -> None:
    engine, client = engine_and_client
    with session_scope(engine) as s:
        call = Call(channel_id="c11", caller_number="0677777777", called_number="0800123456")
        s.add(call)
        s.flush()
        assert call.id is not None
        call_id = call.id
    queue = QueueService(engine)
    entry_id = queue.enqueue(NewEntry(call_id, "c11", "0677777777", "eau", None, 0, "caller_asked", None))
    csrf = sign_in(client)
    url = f"/api/calls/{call_id}/transfer"
    assert client.post(url, json={"to": "agent:bob"}, headers=csrf).status_code == 503, "no IVR in this process"
    desk = Desk()
    state = client.app.state  # type: ignore[attr-defined]
    state.parts = dataclasses.replace(state.parts, transfers=desk)
    orders = desk.orders
    r = client.post(url, json={"to": "agent:bob"}, headers=csrf)
    assert r.status_code == 409 and "pas en conversation avec vous" in r.json()["detail"], "still waiting"
    with session_scope(engine, write=False) as s:
        alice = s.exec(select(Agent).where(Agent.login == "alice")).one()
        bob = s.exec(select(Agent).where(Agent.login == "bob")).one()
    queue.set_agent_state(alice.id, AgentState.AVAILABLE)
    queue.offer(entry_id, alice.id)
    assert queue.answered(entry_id, alice.id)
    assert client.post(url, json={"to": "bob"}, headers=csrf).status_code == 422
    assert client.post(url, json={"to": "agent:nobody"}, headers=csrf).status_code == 404
    assert client.post(url, json={"to": "agent:alice"}, headers=csrf).status_code == 409, "to oneself"
    assert client.post(url, json={"to": "skill:astronomie"}, headers=csrf).status_code == 404
    assert client.post(url, json={"to": "agent:bob"}).status_code == 403, "CSRF"
    assert client.post("/api/calls/999999/transfer", json={"to": "agent:bob"}, headers=csrf).status_code == 404
    assert orders == [], "nothing refused reached the queue"
    r = client.post(url, json={"to": "agent:bob"}, headers=csrf)
    assert r.status_code == 200 and r.json() == {"call_id": call_id, "to": "agent:bob", "attended": False}
    r = client.post(url, json={"to": "number:03 80 12 34 56"}, headers=csrf)
    assert r.status_code == 200 and r.json()["to"] == "number:0380123456"
    r = client.post(url, json={"to": "number:0380123456", "attended": True}, headers=csrf)
    assert r.status_code == 200 and r.json()["attended"] is True
    got = [(o.target_agent_id, o.topic, o.entry_id) for o in orders]
    assert got == [(bob.id, "eau", entry_id), (None, "eau", entry_id), (None, "eau", entry_id)]
    assert desk.attended == [False, False, True]
    assert client.post(f"{url}/complete", headers=csrf).status_code == 204
    assert client.post(f"{url}/cancel", headers=csrf).status_code == 204
    assert desk.done == [("complete", entry_id), ("cancel", entry_id)]
    assert client.post(f"{url}/complete").status_code == 403, "CSRF"
    bob_csrf = sign_in(client, "bob")
    assert client.post(url, json={"to": "skill:eau"}, headers=bob_csrf).status_code == 409, "not bob's call"


class Recordings:
    """What Asterisk would hold: recordings by name."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.asked: list[str] = []

    async def fetch(self, name: str) -> bytes:
        self.asked.append(name)
        if name not in self.files:
            raise RecordingNotFoundError(name)
        return self.files[name]


def test_a_callers_message_is_heard_through_the_api(engine_and_client: tuple[Engine, TestClient]) -> None:
    engine, client = engine_and_client
    with session_scope(engine) as s:
        calls = [Call(channel_id=f"m{i}", caller_number="0688888888", called_number="0800123456") for i in range(3)]
        s.add_all(calls)
        s.flush()
        with_message, without, gone = (c.id for c in calls)
    store = CallStore(engine, load_kb(DEFAULT_KB_PATH))
    store.create_ticket(with_message, "caller_asked", None, False, ("hotline-message-m0-abc123", 4.0))
    store.create_ticket(gone, "caller_asked", None, False, ("hotline-message-m2-def456", 2.0))
    assert client.get(f"/api/calls/{with_message}/message").status_code == 401, "signed-in agents only"
    sign_in(client)
    assert client.get(f"/api/calls/{with_message}/message").status_code == 503, "no telephony in this process"
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt "
    recordings = Recordings({"hotline-message-m0-abc123": wav})
    state = client.app.state  # type: ignore[attr-defined]
    state.parts = dataclasses.replace(state.parts, recordings=recordings)
    r = client.get(f"/api/calls/{with_message}/message")
    assert r.status_code == 200 and r.content == wav and r.headers["content-type"] == "audio/wav"
    assert 'filename="hotline-message-m0-abc123.wav"' in r.headers["content-disposition"]
    r = client.get(f"/api/calls/{without}/message")
    assert r.status_code == 404 and r.json()["detail"] == "Cet appel n'a pas laissé de message."
    r = client.get(f"/api/calls/{gone}/message")
    assert r.status_code == 404 and r.json()["detail"] == "Cet enregistrement n'est plus disponible."
    assert client.get("/api/calls/999999/message").status_code == 404
    assert recordings.asked == ["hotline-message-m0-abc123", "hotline-message-m2-def456"], "only names calls left"
    sign_in(client, "bob")
    assert client.get(f"/api/calls/{with_message}/message").status_code == 200, "a supervisor too"
