"""The ARI client's REST side on real sockets: keep-alive reuse, auth, query and JSON, the connection cap,
connections the server closed while idle, error statuses and empty bodies, and a server that never answers."""

from __future__ import annotations

import asyncio
import base64

import pytest

from ivr.ari import client as ari_client
from ivr.ari.client import AriClient, AriConfig, AriError
from tests.unit.fake_http_server import FakeServer, SeenRequest, reply


def client(server: FakeServer) -> AriClient:
    return AriClient(AriConfig(server.url, "hotline", "s3cret", "hotline"))


async def test_requests_share_one_keep_alive_connection_and_carry_auth_query_and_json() -> None:
    async with FakeServer(lambda _r: (reply(200, b'{"ok": true}'), False)) as server:
        ari = client(server)
        first = await ari.request("POST", "/channels/c1/variable", {"variable": "X", "value": "a b:c,d"})
        second = await ari.request("POST", "/bridges/b1", body={"type": "mixing"})
        await ari.aclose()
    assert first == second == {"ok": True}
    assert server.connections == 1
    a, b = server.requests
    assert a.target == "/ari/channels/c1/variable?variable=X&value=a%20b:c,d"
    assert a.headers["authorization"] == "Basic " + base64.b64encode(b"hotline:s3cret").decode()
    assert a.body == b""
    assert b.headers["content-type"] == "application/json" and b.body == b'{"type": "mixing"}'


async def test_at_most_max_connections_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ari_client, "MAX_REST_CONNECTIONS", 3)
    async with FakeServer() as server:
        ari = client(server)
        results = await asyncio.gather(*(ari.request("GET", "/asterisk/info") for _ in range(20)))
        await ari.aclose()
    assert results == [{}] * 20
    assert server.connections <= 3


async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    async with FakeServer() as server:
        ari = client(server)
        await ari.request("GET", "/asterisk/info")
        server.close_all()  # Asterisk's session_keep_alive ran out
        await asyncio.sleep(0.05)  # the end of the connection has reached the client
        assert await ari.request("DELETE", "/channels/c1", {"reason": "normal"}) == {}
        await ari.aclose()
    assert server.connections == 2
    assert [r.method for r in server.requests] == ["GET", "DELETE"]  # sent once each


async def test_error_statuses_raise_and_empty_bodies_are_none() -> None:
    def respond(request: SeenRequest) -> tuple[bytes, bool]:
        if "missing" in request.path:
            return reply(404, b'{"message": "Playback not found"}'), False
        return reply(204, b""), False

    async with FakeServer(respond) as server:
        ari = client(server)
        with pytest.raises(AriError) as missing:
            await ari.request("GET", "/playbacks/missing")
        assert await ari.request("POST", "/channels/c1/answer") is None
        await ari.aclose()
    assert missing.value.status == 404 and "not found" in str(missing.value)
    assert server.connections == 1


async def test_a_server_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ari_client, "REST_TIMEOUT_S", 0.2)

    async def stuck(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads forever, answers nothing

    silent = await asyncio.start_server(stuck, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    ari = AriClient(AriConfig(f"http://127.0.0.1:{port}/ari", "u", "p", "hotline"))
    for _ in range(2):
        with pytest.raises(TimeoutError):
            await ari.request("GET", "/asterisk/info")
    await ari.aclose()
    silent.close()
