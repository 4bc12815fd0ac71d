"""The ARI HTTP client on real sockets: keep-alive reuse, the connection cap, connections the server closed,
the body framings Asterisk may use, and a server that never answers."""

from __future__ import annotations

import asyncio
import base64

import pytest

from ivr.ari.http import HttpError, HttpPool
from tests.unit.fake_http_server import FakeServer, SeenRequest, reply


def pool(server: FakeServer, max_connections: int = 4, timeout: float = 2.0) -> HttpPool:
    return HttpPool(server.url, "hotline", "s3cret", max_connections=max_connections, timeout=timeout)


async def test_requests_share_one_keep_alive_connection_and_carry_auth_query_and_json() -> None:
    async with FakeServer(lambda _r: (reply(200, b'{"ok": true}'), False)) as server:
        http = pool(server)
        first = await http.request("POST", "/channels/c1/variable", {"variable": "X", "value": "a b:c,d"})
        second = await http.request("POST", "/bridges/b1", body={"type": "mixing"})
        await http.aclose()
    assert first.status == 200 and first.json() == {"ok": True}
    assert second.json() == {"ok": True}
    assert server.connections == 1
    a, b = server.requests
    assert a.target == "/ari/channels/c1/variable?variable=X&value=a%20b:c,d"
    assert a.headers["authorization"] == "Basic " + base64.b64encode(b"hotline:s3cret").decode()
    assert a.body == b"" and a.headers["content-length"] == "0"
    assert b.headers["content-type"] == "application/json" and b.body == b'{"type": "mixing"}'


async def test_at_most_max_connections_requests_in_flight() -> None:
    in_flight = 0
    most = 0

    async with FakeServer() as server:
        http = pool(server, max_connections=3)

        async def one() -> int:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            try:
                return (await http.request("GET", "/asterisk/info")).status
            finally:
                in_flight -= 1

        statuses = await asyncio.gather(*(one() for _ in range(20)))
        await http.aclose()
    assert statuses == [200] * 20
    assert server.connections <= 3
    assert {r.connection for r in server.requests} <= {1, 2, 3}


@pytest.mark.parametrize("noticed", [True, False], ids=["closed-before", "closed-as-sent"])
async def test_a_connection_the_server_closed_while_idle_is_replaced(noticed: bool) -> None:
    async with FakeServer() as server:
        http = pool(server)
        await http.request("GET", "/asterisk/info")
        server.close_all()  # Asterisk's session_keep_alive ran out
        if noticed:
            await asyncio.sleep(0.05)  # the end of the connection has reached the client
        response = await http.request("DELETE", "/channels/c1", {"reason": "normal"})
        await http.aclose()
    assert response.status == 200
    assert server.connections == 2
    assert [r.method for r in server.requests] == ["GET", "DELETE"]  # sent once each


async def test_connection_close_is_honoured_and_chunked_bodies_are_read() -> None:
    chunked = reply(200, b'7\r\n{"a": 1\r\n1\r\n}\r\n0\r\n\r\n', "Transfer-Encoding: chunked")

    def respond(request: SeenRequest) -> tuple[bytes, bool]:
        if request.path.endswith("/close"):
            return reply(200, b"{}", "Connection: close"), True
        return chunked, False

    async with FakeServer(respond) as server:
        http = pool(server)
        await http.request("GET", "/close")
        body = (await http.request("GET", "/chunked")).json()
        again = (await http.request("GET", "/chunked")).json()
        await http.aclose()
    assert body == again == {"a": 1}
    assert [r.connection for r in server.requests] == [1, 2, 2]


async def test_error_statuses_and_empty_bodies_come_back_as_they_are() -> None:
    def respond(request: SeenRequest) -> tuple[bytes, bool]:
        return (
            reply(404, b'{"message": "Playback not found"}') if "missing" in request.path else reply(204, b"")
        ), False

    async with FakeServer(respond) as server:
        http = pool(server)
        missing = await http.request("GET", "/playbacks/missing")
        empty = await http.request("POST", "/channels/c1/answer")
        await http.aclose()
    assert missing.status == 404 and "not found" in missing.text
    assert empty.status == 204 and empty.body == b""
    assert server.connections == 1


async def test_a_server_that_never_answers_times_out_and_frees_its_slot() -> None:
    async def stuck(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads forever, answers nothing

    silent = await asyncio.start_server(stuck, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    http = HttpPool(f"http://127.0.0.1:{port}/ari", "u", "p", max_connections=1, timeout=0.2)
    for _ in range(2):  # the second would wait forever if the first kept the only slot
        with pytest.raises(TimeoutError):
            await http.request("GET", "/asterisk/info")
    await http.aclose()
    silent.close()


async def test_a_fresh_connection_closed_without_an_answer_is_an_error() -> None:
    async with FakeServer(lambda _r: (b"", True)) as server:
        http = pool(server)
        with pytest.raises(HttpError, match="without a response"):
            await http.request("POST", "/channels/c1/answer")
        await http.aclose()
    assert len(server.requests) == 1  # not sent again: the server may have acted on it
