"""A scripted HTTP/1.1 server on 127.0.0.1 for client tests: it records each request and answers with the raw
bytes the test gives (a default 200 with an empty JSON object), so the client is tested on real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class SeenRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # which connection carried it, counted from 1

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)


def reply(status: int = 200, body: bytes = b"{}", *extra_headers: str) -> bytes:
    head = [f"HTTP/1.1 {status} X", *extra_headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in extra_headers):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass
class FakeServer:
    # The bytes to send back for each request; `close_after` True closes the connection after sending them.
    respond: Callable[[SeenRequest], tuple[bytes, bool]] = lambda _r: (reply(), False)
    requests: list[SeenRequest] = field(default_factory=list)
    connections: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/ari"

    async def __aenter__(self) -> FakeServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        self.close_all()
        await self._server.wait_closed()

    def close_all(self) -> None:
        """Close every open connection, as Asterisk does with keep-alive connections left idle too long."""
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self._writers.append(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *lines = head[:-4].decode("latin-1").split("\r\n")
                method, target, _version = request_line.split(" ")
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                seen = SeenRequest(method, target, headers, body, number)
                self.requests.append(seen)
                data, close_after = self.respond(seen)
                writer.write(data)
                await writer.drain()
                if close_after:
                    return
        finally:
            writer.close()
