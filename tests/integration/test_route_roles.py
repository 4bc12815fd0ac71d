"""Every route of the web app, tried without a session and with each role: who may use it is decided on the
server, route by route. A new route must be added to ACCESS, or this test fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hotline.app import build
from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts
from hotline.settings import Settings
from hotline.storage.db import make_engine, upgrade_database

PASSWORD = "un-mot-de-passe"
PUBLIC = "public"
SIGNED_IN = frozenset(Role)  # every role
ADMIN = frozenset({Role.ADMIN})
SUPERVISION = frozenset({Role.SUPERVISOR, Role.ADMIN})

# (method, path) → PUBLIC, or the roles that may use it.
ACCESS: dict[tuple[str, str], str | frozenset[Role]] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/api/kb/entries"): PUBLIC,
    ("GET", "/api/kb/entries/{entry_id}"): PUBLIC,
    ("POST", "/api/kb/match"): PUBLIC,
    ("POST", "/api/session"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,  # without a session it only clears the cookie
    ("DELETE", "/api/session"): SIGNED_IN,
    ("GET", "/api/agents/me"): SIGNED_IN,
    ("PUT", "/api/agents/me/state"): SIGNED_IN,
    ("POST", "/api/agents/me/wrap-up/end"): SIGNED_IN,
    ("POST", "/api/agents/{agent_login}/supervise"): SUPERVISION,  # listen, whisper, barge
    ("GET", "/api/queue"): SIGNED_IN,
    ("POST", "/api/queue/{call_id}/take"): SIGNED_IN,
    ("POST", "/api/calls/{call_id}/transfer"): SIGNED_IN,
    ("POST", "/api/calls/{call_id}/transfer/complete"): SIGNED_IN,
    ("POST", "/api/calls/{call_id}/transfer/cancel"): SIGNED_IN,
    ("GET", "/api/events"): SIGNED_IN,
    ("GET", "/api/callbacks"): SIGNED_IN,
    ("POST", "/api/callbacks/{callback_id}/call-now"): SIGNED_IN,
    ("GET", "/api/calls/{call_id}/message"): SIGNED_IN,
    ("GET", "/console"): SIGNED_IN,
    ("GET", "/console/parts/me"): SIGNED_IN,
    ("GET", "/console/parts/queue"): SIGNED_IN,
    ("GET", "/console/parts/callbacks"): SIGNED_IN,
    ("GET", "/console/parts/crisis"): SIGNED_IN,
    ("GET", "/open311/v2/services.{fmt}"): PUBLIC,
    ("GET", "/open311/v2/services/{code}.{fmt}"): PUBLIC,
    ("POST", "/open311/v2/requests.{fmt}"): PUBLIC,  # an API key, not a session
    ("GET", "/open311/v2/requests.{fmt}"): PUBLIC,
    ("GET", "/open311/v2/requests/{number}.{fmt}"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,  # counts only, like Asterisk's own /metrics
    ("GET", "/api/wallboard"): SUPERVISION,
    ("GET", "/api/kpis"): SUPERVISION,
    ("GET", "/wallboard"): SUPERVISION,
    ("GET", "/api/crisis"): SUPERVISION,
    ("PUT", "/api/crisis"): SUPERVISION,
    ("POST", "/api/crisis/preview"): SUPERVISION,
    ("POST", "/api/crisis/recording"): SUPERVISION,
    ("GET", "/api/crisis/recording/{folder}/{key}.wav"): SUPERVISION,
    ("GET", "/opendata/"): PUBLIC,  # open data: no sign-in
    ("GET", "/opendata/appels-{day}.csv"): PUBLIC,
    ("GET", "/opendata/appels-{day}.json"): PUBLIC,
    ("GET", "/opendata/dictionnaire"): PUBLIC,
    ("GET", "/opendata/dictionnaire.json"): PUBLIC,
    ("GET", "/admin"): ADMIN,
    ("POST", "/admin/agents"): ADMIN,
    ("POST", "/admin/agents/{agent_login}/disable"): ADMIN,
    ("POST", "/admin/agents/{agent_login}/skills"): ADMIN,
    ("POST", "/admin/agents/{agent_login}/role"): ADMIN,
    ("POST", "/admin/agents/{agent_login}/sip-password"): ADMIN,
    ("POST", "/admin/pause-reasons"): ADMIN,
    ("POST", "/admin/hours"): ADMIN,
    ("GET", "/tickets"): SIGNED_IN,
    ("GET", "/tickets/{number}"): SIGNED_IN,
    ("POST", "/tickets/{number}/status"): SIGNED_IN,
    ("POST", "/tickets/{number}/notes"): SIGNED_IN,
    ("POST", "/tickets/{number}/details"): SIGNED_IN,
    ("GET", "/residents"): SIGNED_IN,
    ("POST", "/residents"): SIGNED_IN,
    ("POST", "/residents/{resident_id}/opt-out"): SIGNED_IN,
}
# An unsigned visitor is sent to /login rather than told 401.
STAFF_PREFIXES = ("/admin", "/console", "/tickets", "/wallboard", "/residents")
PAGES = {path for _, path in ACCESS if path.startswith(STAFF_PREFIXES)} - {
    "/console/parts/me", "/console/parts/queue", "/console/parts/callbacks", "/console/parts/crisis"}  # fmt: skip


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    workdir = tmp_path_factory.mktemp("roles")
    url = f"sqlite:///{workdir / 'hotline.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    for role in Role:
        AgentAccounts(engine).add(f"user-{role.value}", role.value, role, [], PASSWORD)
    settings = Settings(_env_file=None, data_dir=workdir, database_url=url)
    with TestClient(build(settings, with_ivr=False).web, follow_redirects=False) as c:
        yield c
    engine.dispose()


def operations(client: TestClient) -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, ops in client.app.openapi()["paths"].items() for m in ops}  # type: ignore[attr-defined]


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    fillers = {
        "{entry_id}": "nope",
        "{call_id}": "999999",
        "{callback_id}": "999999",
        "{number}": "12345678",
        "{agent_login}": "nobody",
        "{resident_id}": "999999",
    }
    url = path
    for placeholder, value in fillers.items():
        url = url.replace(placeholder, value)
    if path == "/api/events":
        with client.stream(method, url, headers=headers) as stream:
            return stream.status_code
    body = {"json": {}} if method in ("POST", "PUT") and path.startswith("/api/") else {}
    return client.request(method, url, headers=headers, **body).status_code  # type: ignore[arg-type]


def test_every_route_has_its_access_written_down(client: TestClient) -> None:
    assert operations(client) == set(ACCESS), "add the new route to ACCESS with who may use it"


@pytest.mark.parametrize(("method", "path"), sorted(k for k, v in ACCESS.items() if v != PUBLIC))
def test_a_route_refuses_a_visitor_without_a_session(client: TestClient, method: str, path: str) -> None:
    client.cookies.clear()
    status = call(client, method, path, {})
    assert status == (303 if path in PAGES else 401), (method, path, status)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_reaches_exactly_its_routes(client: TestClient, role: Role) -> None:
    client.cookies.clear()
    r = client.post("/api/session", json={"login": f"user-{role.value}", "password": PASSWORD})
    assert r.status_code == 200, r.text
    headers = {"X-CSRF-Token": r.json()["csrf_token"]}
    for (method, path), allowed in sorted(ACCESS.items()):
        if allowed == PUBLIC or path in ("/api/session", "/logout"):
            continue  # signing out would end this test's session
        status = call(client, method, path, headers)
        if isinstance(allowed, frozenset) and role in allowed:
            assert status not in (401, 403), (role, method, path, status)
        else:
            assert status == 403, (role, method, path, status)
