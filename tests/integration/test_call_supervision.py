"""A supervisor on an agent's live call: the rules (who, when), the ARI requests of each mode (listen, whisper,
barge) and their tear-down, the audit, and the API (202, 404, 409, 503, roles and CSRF). No Asterisk here: the
real calls are in tests/e2e/test_queue_calls.py."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import select

from hotline.app import build
from hotline.domain.enums import AgentState
from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts
from hotline.services.call_supervision import (
    NOT_ON_CALL,
    SupervisionMode,
    SupervisionNotFoundError,
    SupervisionRefusedError,
    SupervisionStarted,
    agent_id_of,
    prepare_supervision,
)
from hotline.services.queue import NewEntry, QueueService
from hotline.settings import Settings
from hotline.storage.db import make_engine, session_scope, upgrade_database
from hotline.storage.models import Agent, AuditLog, Call
from ivr.runtime.acd import is_agent_leg
from ivr.runtime.supervision_calls import LiveConversation, SupervisionCalls, is_supervision_channel

PASSWORD = "un-mot-de-passe"
AGENT_LEG = "hotline-agent-1-abcdef"
CONVERSATION_BRIDGE = "hotline-conv-1-0011"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    accounts = AgentAccounts(engine)
    accounts.add("alice", "Alice Martin", Role.AGENT, [], PASSWORD)
    accounts.add("sarah", "Sarah Chef", Role.SUPERVISOR, [], PASSWORD)
    accounts.add("bruno", "Bruno", Role.AGENT, [], PASSWORD)
    yield engine
    engine.dispose()


def ids(engine: Engine) -> dict[str, int]:
    with session_scope(engine, write=False) as s:
        return {a.login: a.id for a in s.exec(select(Agent)).all() if a.id is not None}


def put_on_call(engine: Engine, login: str = "alice") -> tuple[int, int]:
    """A caller answered by `login`: (call id, entry id)."""
    with session_scope(engine) as s:
        call = Call(channel_id="c1", caller_number="0611111111", called_number="0800123456")
        s.add(call)
        s.flush()
        assert call.id is not None
        call_id = call.id
    queue = QueueService(engine)
    entry_id = queue.enqueue(NewEntry(call_id, "c1", "0611111111", None, None, 0, "caller_asked", None))
    agent_id = ids(engine)[login]
    queue.set_agent_state(agent_id, AgentState.AVAILABLE)
    queue.offer(entry_id, agent_id)
    assert queue.answered(entry_id, agent_id)
    return call_id, entry_id


def audits(engine: Engine) -> list[tuple[str, str, str, dict[str, Any]]]:
    with session_scope(engine, write=False) as s:
        return [(a.actor, a.action, a.target, a.details) for a in s.exec(select(AuditLog)).all()
                if a.action.startswith("supervision.")]  # fmt: skip


# ---- the rules


def test_the_rules_of_who_may_be_supervised(db: Engine) -> None:
    who = ids(db)
    with pytest.raises(SupervisionNotFoundError):
        agent_id_of(db, "nobody")
    with pytest.raises(SupervisionRefusedError) as refused:
        prepare_supervision(db, who["alice"], who["sarah"], SupervisionMode.LISTEN)
    assert str(refused.value) == NOT_ON_CALL == "Ce conseiller n'est pas en communication."
    call_id, entry_id = put_on_call(db)
    with pytest.raises(SupervisionRefusedError, match="vous-même"):
        prepare_supervision(db, who["alice"], who["alice"], SupervisionMode.LISTEN)
    order = prepare_supervision(db, who["alice"], who["sarah"], SupervisionMode.WHISPER)
    assert (order.call_id, order.entry_id, order.agent_login, order.supervisor_login) == (
        call_id, entry_id, "alice", "sarah"
    )  # fmt: skip
    assert order.supervisor_endpoint and order.caller_id == '"Chuchotement Alice Martin" <supervision>'
    with pytest.raises(SupervisionRefusedError, match="pas en communication"):
        prepare_supervision(db, who["bruno"], who["sarah"], SupervisionMode.LISTEN)
    with session_scope(db) as s:  # the supervisor's own phone rings for a caller
        sarah = s.get(Agent, who["sarah"])
        assert sarah is not None
        sarah.state = AgentState.RINGING
    with pytest.raises(SupervisionRefusedError, match="vous-même en communication"):
        prepare_supervision(db, who["alice"], who["sarah"], SupervisionMode.BARGE)


# ---- the ARI side


class Control:
    """The ARI requests a supervision makes, in order."""

    def __init__(self) -> None:
        self.requests: list[tuple[Any, ...]] = []
        self.fail_originate = False

    async def originate(self, channel_id: str, endpoint: str, app: str, app_args: str, timeout_s: int,
                        caller_id: str = "", variables: dict[str, str] | None = None) -> None:  # fmt: skip
        self.requests.append(("originate", channel_id, endpoint, app_args, timeout_s, caller_id))
        if self.fail_originate:
            raise RuntimeError("ARI originate failed")

    async def snoop(self, channel_id: str, snoop_id: str, app: str, spy: str = "in", whisper: str = "none") -> None:
        self.requests.append(("snoop", channel_id, snoop_id, spy, whisper))

    async def create_bridge(self, bridge_id: str, bridge_type: str = "mixing") -> None:
        self.requests.append(("bridge", bridge_id, bridge_type))

    async def add_channel(self, bridge_id: str, channel_id: str) -> None:
        self.requests.append(("addChannel", bridge_id, channel_id))

    async def destroy_bridge(self, bridge_id: str) -> None:
        self.requests.append(("destroyBridge", bridge_id))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.requests.append(("hangup", channel_id))

    def kinds(self) -> list[str]:
        return [r[0] for r in self.requests]


def calls(db: Engine, live: dict[int, LiveConversation]) -> tuple[SupervisionCalls, Control]:
    control = Control()
    return SupervisionCalls(control, db, "hotline", live.get, ring_timeout_s=7), control


async def test_listen_snoops_the_agents_leg_and_everything_goes_when_the_supervisor_hangs_up(db: Engine) -> None:
    call_id, entry_id = put_on_call(db)
    who = ids(db)
    supervisions, control = calls(db, {entry_id: LiveConversation(AGENT_LEG, CONVERSATION_BRIDGE)})
    started = await supervisions.supervise(who["alice"], who["sarah"], SupervisionMode.LISTEN)
    assert started == SupervisionStarted(SupervisionMode.LISTEN, "alice", call_id)
    [(_, leg, endpoint, args, timeout_s, caller_id)] = control.requests
    assert is_supervision_channel(leg) and is_agent_leg(leg), "its events reach the queue"
    assert endpoint.startswith("PJSIP/") and args == f"supervise,{entry_id}" and timeout_s == 7
    assert caller_id == '"Écoute Alice Martin" <supervision>'
    assert audits(db) == [("sarah", "supervision.listen", "alice", {"call_id": call_id, "entry_id": entry_id})]
    with pytest.raises(SupervisionRefusedError, match="déjà"):
        await supervisions.supervise(who["alice"], who["sarah"], SupervisionMode.BARGE)

    answered = asyncio.create_task(supervisions.leg_answered(leg))  # the supervisor picks up
    await asyncio.sleep(0.01)
    [snoop] = [r for r in control.requests if r[0] == "snoop"]
    assert snoop[1:2] == (AGENT_LEG,) and snoop[3:] == ("both", "none"), "the agent's leg, both ways, nothing back"
    await supervisions.leg_answered(snoop[2])  # the snoop is in Stasis: then bridged
    await answered
    bridge = control.requests[-2][1]
    assert control.requests[-2:] == [("bridge", bridge, "mixing"), ("addChannel", bridge, f"{leg},{snoop[2]}")]
    assert bridge != CONVERSATION_BRIDGE

    control.requests.clear()
    await supervisions.leg_gone(leg)
    assert set(control.requests) == {("hangup", leg), ("hangup", snoop[2]), ("destroyBridge", bridge)}
    await supervisions.leg_gone(snoop[2])
    assert len(control.requests) == 3 and supervisions.active == [], "once"


async def test_whisper_speaks_to_the_agent_only_and_barge_joins_the_conversations_bridge(db: Engine) -> None:
    _, entry_id = put_on_call(db)
    who = ids(db)
    live = {entry_id: LiveConversation(AGENT_LEG, CONVERSATION_BRIDGE)}
    supervisions, control = calls(db, live)
    await supervisions.supervise(who["alice"], who["sarah"], SupervisionMode.WHISPER)
    leg = control.requests[0][1]
    answered = asyncio.create_task(supervisions.leg_answered(leg))
    await asyncio.sleep(0.01)
    [snoop] = [r for r in control.requests if r[0] == "snoop"]
    assert snoop[3:] == ("both", "out"), "written to the agent's leg: only the agent hears it"
    await supervisions.leg_answered(snoop[2])
    await answered
    await supervisions.leg_gone(snoop[2])  # the agent's leg ended, and its snoop with it
    assert ("hangup", leg) in control.requests

    control.requests.clear()
    await supervisions.supervise(who["alice"], who["sarah"], SupervisionMode.BARGE)
    leg = control.requests[0][1]
    assert control.requests[0][5] == '"Intervention Alice Martin" <supervision>'
    await supervisions.leg_answered(leg)
    assert control.requests[-1] == ("addChannel", CONVERSATION_BRIDGE, leg), "into the conversation itself"
    control.requests.clear()
    await supervisions.conversation_over(entry_id)  # the caller or the agent hung up
    assert ("hangup", leg) in control.requests
    assert ("destroyBridge", CONVERSATION_BRIDGE) not in control.requests, "the queue's own bridge is the queue's"
    actions = [a[1] for a in audits(db)]
    assert actions == ["supervision.whisper", "supervision.barge"]


async def test_an_unanswered_phone_a_failed_dial_and_a_conversation_gone_meanwhile(db: Engine) -> None:
    _, entry_id = put_on_call(db)
    who = ids(db)
    live = {entry_id: LiveConversation(AGENT_LEG, CONVERSATION_BRIDGE)}
    supervisions, control = calls(db, live)
    await supervisions.supervise(who["alice"], who["sarah"], SupervisionMode.LISTEN)
    leg = control.requests[0][1]
    await supervisions.leg_gone(leg)  # the ring timeout: the channel is destroyed unanswered
    assert supervisions.active == [] and "snoop" not in control.kinds()

    control.fail_originate = True
    with pytest.raises(SupervisionRefusedError, match="téléphone"):
        await supervisions.supervise(who["alice"], who["sarah"], SupervisionMode.LISTEN)
    assert supervisions.active == [] and len(audits(db)) == 1, "a failed dial is not audited"
    control.fail_originate = False

    await supervisions.supervise(who["alice"], who["sarah"], SupervisionMode.BARGE)
    leg = control.requests[-1][1]
    live.clear()  # the conversation ended while the supervisor's phone rang
    await supervisions.leg_answered(leg)
    assert control.requests[-1] == ("hangup", leg) and supervisions.active == []
    with pytest.raises(SupervisionRefusedError, match="pas en communication"):
        await supervisions.supervise(who["alice"], who["sarah"], SupervisionMode.LISTEN)


# ---- the API


class Desk:
    def __init__(self, refusal: str | None = None) -> None:
        self.asked: list[tuple[int, int, SupervisionMode]] = []
        self.refusal = refusal

    async def supervise(self, agent_id: int, supervisor_id: int, mode: SupervisionMode) -> SupervisionStarted:
        self.asked.append((agent_id, supervisor_id, mode))
        if self.refusal:
            raise SupervisionRefusedError(self.refusal)
        return SupervisionStarted(mode, "alice", 42)


def test_the_api(db: Engine, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=str(db.url))
    who = ids(db)
    with TestClient(build(settings, with_ivr=False).web) as client:
        r = client.post("/api/session", json={"login": "sarah", "password": PASSWORD})
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        url = "/api/agents/alice/supervise"
        r = client.post(url, json={"mode": "listen"}, headers=csrf)
        assert r.status_code == 503 and r.json()["detail"] == "Pas de serveur vocal dans ce processus."
        desk = Desk()
        state = client.app.state  # type: ignore[attr-defined]
        state.parts = dataclasses.replace(state.parts, supervising=desk)
        assert client.post(url, json={"mode": "listen"}).status_code == 403, "CSRF"
        assert client.post(url, json={"mode": "spy"}, headers=csrf).status_code == 422
        assert client.post("/api/agents/nobody/supervise", json={"mode": "listen"}, headers=csrf).status_code == 404
        r = client.post(url, json={"mode": "whisper"}, headers=csrf)
        assert r.status_code == 202 and r.json() == {"mode": "whisper", "agent": "alice", "call_id": 42}
        assert desk.asked == [(who["alice"], who["sarah"], SupervisionMode.WHISPER)]
        state.parts = dataclasses.replace(state.parts, supervising=Desk(NOT_ON_CALL))
        r = client.post(url, json={"mode": "barge"}, headers=csrf)
        assert r.status_code == 409 and r.json()["detail"] == NOT_ON_CALL
        client.cookies.clear()
        r = client.post("/api/session", json={"login": "bruno", "password": PASSWORD})
        r = client.post(url, json={"mode": "listen"}, headers={"X-CSRF-Token": r.json()["csrf_token"]})
        assert r.status_code == 403, "an agent may not listen to a colleague"


def test_the_real_rules_behind_the_api(db: Engine, tmp_path: Path) -> None:
    """The IVR's desk over the same database: an agent not on a call is refused in French, nothing is dialled."""
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=str(db.url))
    supervisions, control = calls(db, {})
    with TestClient(build(settings, with_ivr=False).web) as client:
        state = client.app.state  # type: ignore[attr-defined]
        state.parts = dataclasses.replace(state.parts, supervising=supervisions)
        r = client.post("/api/session", json={"login": "sarah", "password": PASSWORD})
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        r = client.post("/api/agents/alice/supervise", json={"mode": "listen"}, headers=csrf)
        assert r.status_code == 409 and r.json()["detail"] == "Ce conseiller n'est pas en communication."
        r = client.post("/api/agents/sarah/supervise", json={"mode": "listen"}, headers=csrf)
        assert r.status_code == 409 and "vous-même" in r.json()["detail"]
    assert control.requests == [] and audits(db) == []
