"""Agent accounts over a real database (SQLite and PostgreSQL), the `hotline agent` commands, and what is sent to
ARI to push the phones (an httpx mock transport here; tests/e2e/test_sandbox.py pushes to the real Asterisk)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import select
from typer.testing import CliRunner

from hotline.cli.main import app
from hotline.domain.agents import AgentAccountError, sip_digest
from hotline.domain.enums import AgentState
from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts, AgentExistsError, UnknownAgentError, password_matches
from hotline.settings import get_settings
from hotline.storage.db import session_scope
from hotline.storage.models import Agent, AgentStateChange, AuditLog
from ivr.asterisk.agent_phones import AgentPhone, AgentPhones

WEB_PASSWORD = "un-mot-de-passe"


def test_an_agent_is_created_with_hashed_passwords_and_a_generated_sip_password(engine: Engine) -> None:
    accounts = AgentAccounts(engine)
    created = accounts.add("alice", "Alice Martin", Role.SUPERVISOR, ["dechets"], WEB_PASSWORD)
    assert len(created.sip_password) >= 20
    agent = accounts.get("alice")
    assert (agent.role, agent.skills, agent.sip_endpoint, agent.state) == (
        Role.SUPERVISOR, ["dechets"], "alice", AgentState.OFFLINE
    )  # fmt: skip
    assert agent.password_hash and agent.password_hash.startswith("$argon2id$")
    assert WEB_PASSWORD not in agent.password_hash
    assert password_matches(agent.password_hash, WEB_PASSWORD)
    assert not password_matches(agent.password_hash, WEB_PASSWORD + "x")
    assert agent.sip_digest == sip_digest("alice", created.sip_password)
    other = accounts.add("bob", "Bob", Role.AGENT, [], WEB_PASSWORD)
    assert other.sip_password != created.sip_password, "every phone its own password"
    with session_scope(engine, write=False) as s:
        assert [a.action for a in s.exec(select(AuditLog))] == ["agent.add", "agent.add"]


def test_refusals_change_nothing(engine: Engine) -> None:
    accounts = AgentAccounts(engine)
    accounts.add("alice", "Alice", Role.AGENT, [], WEB_PASSWORD)
    with pytest.raises(AgentExistsError, match="existe déjà"):
        accounts.add("alice", "Another Alice", Role.ADMIN, [], WEB_PASSWORD)
    with pytest.raises(AgentAccountError, match="minuscules"):
        accounts.add("Bad Login", "X", Role.AGENT, [], WEB_PASSWORD)
    with pytest.raises(AgentAccountError, match="au moins"):
        accounts.add("carol", "Carol", Role.AGENT, [], "short")
    with pytest.raises(UnknownAgentError):
        accounts.disable("nobody")
    with pytest.raises(UnknownAgentError):
        accounts.set_skills("nobody", ["eau"])
    assert [a.login for a in accounts.all()] == ["alice"]
    assert accounts.get("alice").display_name == "Alice"


def test_disable_takes_the_agent_offline_with_history_and_out_of_the_phones(engine: Engine) -> None:
    accounts = AgentAccounts(engine)
    accounts.add("alice", "Alice", Role.AGENT, [], WEB_PASSWORD)
    accounts.add("bob", "Bob", Role.AGENT, [], WEB_PASSWORD)
    with session_scope(engine) as s:
        bob = s.exec(select(Agent).where(Agent.login == "bob")).one()
        bob.state = AgentState.AVAILABLE
        s.add(bob)
    accounts.disable("bob")
    bob = accounts.get("bob")
    assert not bob.active and bob.state is AgentState.OFFLINE
    with session_scope(engine, write=False) as s:
        change = s.exec(select(AgentStateChange).where(AgentStateChange.agent_id == bob.id)).one()
        assert (change.from_state, change.to_state, change.reason) == (
            AgentState.AVAILABLE, AgentState.OFFLINE, "compte désactivé"
        )  # fmt: skip
    active, disabled = accounts.phones()
    assert [p.endpoint for p in active] == ["alice"] and disabled == ["bob"]
    assert accounts.set_skills("alice", ["eau", "dechets"]).skills == ["eau", "dechets"]


# ---- what goes to ARI -------------------------------------------------------------------------------------------


class FakeAri:
    """Records requests; holds the PJSIP endpoints it was given (enough for AgentPhones)."""

    def __init__(self, endpoints: set[str]) -> None:
        self.endpoints = set(endpoints)
        self.requests: list[tuple[str, str, object]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        path = request.url.path.removeprefix("/ari")
        self.requests.append((request.method, path, body))
        if request.method == "GET" and path == "/endpoints/PJSIP":
            rows = [{"technology": "PJSIP", "resource": n, "state": "offline"} for n in sorted(self.endpoints)]
            return httpx.Response(200, json=rows)
        name = path.rsplit("/", 1)[-1]
        if "/endpoint/" in path:
            if request.method == "PUT":
                self.endpoints.add(name)
            elif request.method == "DELETE":
                if name not in self.endpoints:
                    return httpx.Response(404, json={"message": "not found"})
                self.endpoints.discard(name)
        return httpx.Response(200, json=[])


def test_push_writes_auth_aor_then_endpoint_with_the_digest_only() -> None:
    fake = FakeAri({"carrier"})
    digest = sip_digest("alice", "pw")
    with AgentPhones(httpx.Client(base_url="http://ari/ari", transport=httpx.MockTransport(fake))) as ari:
        ari.push(AgentPhone("alice", digest, 'Alice "la" <Martin>'))
    kinds = [(m, p) for m, p, _ in fake.requests]
    base = "/asterisk/config/dynamic/res_pjsip"
    assert kinds == [
        ("PUT", f"{base}/auth/alice-auth"),
        ("PUT", f"{base}/aor/alice"),
        ("PUT", f"{base}/endpoint/alice"),
    ]
    auth = {f["attribute"]: f["value"] for f in fake.requests[0][2]["fields"]}  # type: ignore[index]
    assert auth == {"auth_type": "digest", "username": "alice", "realm": "hotline", "password_digest": f"md5:{digest}"}
    endpoint = {f["attribute"]: f["value"] for f in fake.requests[2][2]["fields"]}  # type: ignore[index]
    assert endpoint["aors"] == "alice" and endpoint["auth"] == "alice-auth" and endpoint["context"] == "from-agent"
    assert endpoint["callerid"] == '"Alice la Martin" <alice>'  # quotes and brackets cannot break the header
    assert "pw" not in json.dumps(fake.requests)


def test_sync_pushes_active_removes_disabled_and_leaves_unknown_endpoints() -> None:
    fake = FakeAri({"carrier", "bob", "someone-else"})
    with AgentPhones(httpx.Client(base_url="http://ari/ari", transport=httpx.MockTransport(fake))) as ari:
        pushed, removed = ari.sync([AgentPhone("alice", sip_digest("alice", "pw"))], disabled=["bob", "gone"])
    assert pushed == ["alice"] and removed == ["bob"]
    assert fake.endpoints == {"carrier", "alice", "someone-else"}
    with pytest.raises(ValueError, match="carrier"):
        AgentPhones(httpx.Client(transport=httpx.MockTransport(fake))).push(AgentPhone("carrier", "0" * 32))


# ---- the command line -----------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {
        "HOTLINE_DATA_DIR": str(tmp_path / "var"),
        "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'agents.db'}",
        "HOTLINE_ARI_URL": "http://127.0.0.1:9/ari",  # nothing listens: the push is reported, not fatal
    }
    get_settings.cache_clear()


def test_agent_commands(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app,
        ["agent", "add", "alice", "--name", "Alice Martin", "--role", "supervisor", "--skills", "dechets,eau",
         "--password-stdin", "--json"],
        input=WEB_PASSWORD + "\n", env=cli_env,
    )  # fmt: skip
    assert added.exit_code == 0, added.output + added.stderr
    created = json.loads(added.stdout)
    assert set(created) == {"login", "name", "role", "skills", "sip_endpoint", "sip_password"}
    assert created["login"] == "alice" and created["role"] == "supervisor" and created["skills"] == ["dechets", "eau"]
    assert created["sip_endpoint"] == "alice" and len(created["sip_password"]) >= 20
    assert "not pushed" in added.stderr and "hotline serve" in added.stderr

    again = runner.invoke(
        app, ["agent", "add", "alice", "--name", "A", "--password-stdin"], input=WEB_PASSWORD, env=cli_env
    )
    assert again.exit_code == 2 and "existe déjà" in again.stderr
    no_stdin = runner.invoke(app, ["agent", "add", "bob", "--name", "Bob"], env=cli_env)
    assert no_stdin.exit_code == 2 and "--password-stdin" in no_stdin.stderr
    bad_skill = runner.invoke(
        app, ["agent", "add", "bob", "--name", "Bob", "--skills", "piscine", "--password-stdin"], input=WEB_PASSWORD,
        env=cli_env,
    )  # fmt: skip
    assert bad_skill.exit_code == 2 and "compétence inconnue « piscine »" in bad_skill.stderr
    bad_role = runner.invoke(
        app, ["agent", "add", "bob", "--name", "B", "--role", "boss", "--password-stdin"], env=cli_env
    )
    assert bad_role.exit_code == 2

    skills = runner.invoke(app, ["agent", "set-skills", "alice", "voirie"], env=cli_env)
    assert skills.exit_code == 0 and "voirie" in skills.stdout
    listed = json.loads(runner.invoke(app, ["agent", "list", "--json"], env=cli_env).stdout)
    assert [(a["login"], a["skills"], a["active"]) for a in listed] == [("alice", ["voirie"], True)]
    assert "sip_password" not in listed[0] and "password_hash" not in json.dumps(listed)
    table = runner.invoke(app, ["agent", "list"], env=cli_env).stdout
    assert "alice" in table and "Alice Martin" in table

    gone = runner.invoke(app, ["agent", "disable", "alice"], env=cli_env)
    assert gone.exit_code == 0
    assert json.loads(runner.invoke(app, ["agent", "list", "--json"], env=cli_env).stdout)[0]["active"] is False
    unknown = runner.invoke(app, ["agent", "disable", "zoe"], env=cli_env)
    assert unknown.exit_code == 2 and "aucun agent « zoe »" in unknown.stderr
