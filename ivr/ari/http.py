"""A small HTTP/1.1 client for ARI: keep-alive connections to one server over asyncio streams.

Why not httpx: under 200 concurrent calls, httpx spent about 12 ms of event-loop time per ARI request
(py-spy on `hotline serve`): its connection pool rescans every connection, polls each idle socket and
re-imports a missing module on every request and response. ARI needs none of that: one host, plain
HTTP/1.1, small bodies. Here a request costs an idle connection popped from a list.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

# Asterisk closes a keep-alive connection idle for http.conf's session_keep_alive (15 s by default); ours
# are dropped before that, so a request is not written to a socket the server is closing.
IDLE_CONNECTION_MAX_S = 10.0
MAX_HEADER_BYTES = 64 * 1024
QUERY_SAFE = ":/,"  # left as is in query values (media URIs), like httpx; spaces become %20, not +
_CRLF = b"\r\n"


class HttpError(Exception):
    """The server broke the protocol, or closed the connection without answering."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, now: float) -> bool:
        return (
            not self.writer.is_closing() and not self.reader.at_eof() and now - self.idle_since < IDLE_CONNECTION_MAX_S
        )

    def close(self) -> None:
        self.writer.close()


class _ServerClosed(Exception):
    """EOF before the first byte of the response: the server had closed the keep-alive connection."""


class HttpPool:
    """At most `max_connections` requests in flight; the others wait their turn (first come, first served)."""

    def __init__(self, base_url: str, user: str, password: str, *, max_connections: int, timeout: float) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"only plain http:// is supported: {base_url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path
        self.timeout = timeout
        credentials = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self._fixed_headers = f"Host: {parts.netloc}\r\nAuthorization: Basic {credentials}\r\n"
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Connection] = []

    async def request(
        self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None
    ) -> HttpResponse:
        query = urlencode(params, safe=QUERY_SAFE, quote_via=quote) if params else ""
        target = self.prefix + path + (f"?{query}" if query else "")
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {target} HTTP/1.1\r\n{self._fixed_headers}Content-Length: {len(payload)}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        message = (head + "\r\n").encode("latin-1") + payload
        async with asyncio.timeout(self.timeout), self._slots:
            connection = self._take_idle()
            if connection is not None:
                try:
                    return await self._exchange(connection, message)
                except _ServerClosed:
                    pass  # closed by the server before it read the request: safe to send again
            connection = await self._connect()
            try:
                return await self._exchange(connection, message)
            except _ServerClosed as exc:
                raise HttpError(f"{method} {target}: connection closed without a response") from exc

    async def aclose(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()

    def _take_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the least likely to have timed out
            if connection.usable(now):
                return connection
            connection.close()
        return None

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=MAX_HEADER_BYTES)
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, message: bytes) -> HttpResponse:
        keep = False
        try:
            connection.writer.write(message)
            response, keep = await self._read_response(connection.reader)
            return response
        finally:
            if keep:
                connection.idle_since = time.monotonic()
                self._idle.append(connection)
            else:
                connection.close()

    async def _read_response(self, reader: asyncio.StreamReader) -> tuple[HttpResponse, bool]:
        try:
            head = await reader.readuntil(_CRLF + _CRLF)
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise _ServerClosed from exc
            raise HttpError("truncated response head") from exc
        except ConnectionError as exc:  # reset: the request met a connection the server had just closed
            raise _ServerClosed from exc
        except asyncio.LimitOverrunError as exc:
            raise HttpError("response head too large") from exc
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise HttpError(f"bad status line {status_line!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(reader)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            return HttpResponse(status, await reader.read()), False  # delimited by the end of the connection
        connection = headers.get("connection", "").lower()
        keep = connection != "close" and (parts[0] == "HTTP/1.1" or connection == "keep-alive")
        return HttpResponse(status, body), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readuntil(_CRLF)
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(_CRLF) != _CRLF:  # trailers, if any
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)  # the CRLF after each chunk
