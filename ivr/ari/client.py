"""A thin, typed client for Asterisk's REST Interface: REST calls over aiohttp's keep-alive connection pool, events
over a WebSocket.

Why aiohttp and not httpx: under 200 concurrent calls httpx spent about 6 ms of event-loop time per ARI request
(py-spy on `hotline serve`: its pool rescans every connection and polls each idle socket for every queued
request, and retries a missing import on every request), 89 % of the loop's busy time; aiohttp costs about
0.4 ms (client and server together, bench on loopback).

Ids are chosen by the caller (playback, bridge and channel ids), so a listener can be registered before the
POST: ARI may send the event before it answers the request.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import aiohttp
import websockets
from yarl import URL

log = logging.getLogger(__name__)

# A REST call that takes longer than this means Asterisk is in trouble; the call flow must not hang on it.
REST_TIMEOUT_S = 5.0
# Reconnect backoff: quick first retries (a restart of Asterisk takes about a second), capped so a long
# outage does not spin.
RECONNECT_FIRST_DELAY_S = 0.2
RECONNECT_MAX_DELAY_S = 5.0
# Concurrent REST connections to Asterisk; each counts against http.conf's sessionlimit.
MAX_REST_CONNECTIONS = 50
# Asterisk closes a keep-alive connection idle for http.conf's session_keep_alive (15 s by default); ours are
# dropped before that, so a request is not written to a socket the server is closing.
IDLE_CONNECTION_MAX_S = 10.0
QUERY_SAFE = ":/,"  # left as is in query values (media URIs: Asterisk splits them on commas); spaces become %20

AriEvent = dict[str, Any]
# Not an ARI event: what `event_stream` yields first, once the socket is open.
CONNECTED = "HotlineSocketConnected"


class AriError(Exception):
    """ARI answered with an error status."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        self.status = status
        self.body = body
        super().__init__(f"ARI {method} {path} -> {status}: {body[:200]}")


@dataclass(frozen=True)
class AriConfig:
    base_url: str  # e.g. http://127.0.0.1:8088/ari
    user: str
    password: str
    app: str

    def events_url(self) -> str:
        parts = urlsplit(self.base_url.rstrip("/"))
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = f"app={quote(self.app)}&subscribeAll=false&api_key={quote(self.user)}:{quote(self.password)}"
        return urlunsplit((scheme, parts.netloc, parts.path + "/events", query, ""))


class AriClient:
    """REST side. One shared pool of keep-alive connections."""

    def __init__(self, config: AriConfig) -> None:
        self.config = config
        self._base = config.base_url.rstrip("/")
        self._auth = "Basic " + base64.b64encode(f"{config.user}:{config.password}".encode()).decode("ascii")
        self._http: aiohttp.ClientSession | None = None  # made on the event loop, at the first request

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_REST_CONNECTIONS, keepalive_timeout=IDLE_CONNECTION_MAX_S),
                timeout=aiohttp.ClientTimeout(total=REST_TIMEOUT_S),
                headers={"Authorization": self._auth},
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        if "//" in path or path.endswith("/"):
            raise ValueError(f"ARI {method} {path}: an empty id (Asterisk would read another route)")
        query = urlencode(params, safe=QUERY_SAFE, quote_via=quote) if params else ""
        url = URL(self._base + path + (f"?{query}" if query else ""), encoded=True)
        async with self._session().request(method, url, json=body) as response:
            text = await response.text()
            if response.status >= 400:
                raise AriError(method, path, response.status, text)
        return json.loads(text) if text else None

    # --- system
    async def info(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", "/asterisk/info")
        return result

    async def application(self) -> dict[str, Any]:
        """The app's subscriptions: channel_ids and bridge_ids still held (used to resync on reconnect)."""
        result: dict[str, Any] = await self.request("GET", f"/applications/{quote(self.config.app)}")
        return result

    # --- channels
    async def channels(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.request("GET", "/channels")
        return result

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{quote(channel_id)}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{quote(channel_id)}", {"reason": reason})

    async def play(self, channel_id: str, playback_id: str, media: Sequence[str], lang: str = "fr") -> None:
        # One comma-separated `media`: Asterisk keeps only the last of repeated `media` parameters.
        if any("," in uri for uri in media):
            raise ValueError(f"a media URI cannot contain a comma: {list(media)}")
        params = {"media": ",".join(media), "lang": lang}
        await self.request("POST", f"/channels/{quote(channel_id)}/play/{quote(playback_id)}", params)

    async def record(self, channel_id: str, name: str, max_s: int) -> None:
        """Record the caller after a beep into Asterisk's recordings folder as `name`.wav, until # or `max_s`
        (or 10 s of silence); RecordingFinished / RecordingFailed follow."""
        params = {
            "name": name, "format": "wav", "maxDurationSeconds": str(max_s), "maxSilenceSeconds": "10",
            "ifExists": "overwrite", "beep": "true", "terminateOn": "#",
        }  # fmt: skip
        await self.request("POST", f"/channels/{quote(channel_id)}/record", params)

    async def stored_recording(self, name: str) -> bytes:
        """A stored recording's file as Asterisk keeps it (AriError 404 when there is none by that name)."""
        path = f"/recordings/stored/{quote(name, safe='')}/file"
        url = URL(self._base + path, encoded=True)
        async with self._session().get(url) as response:
            body = await response.read()
            if response.status >= 400:
                raise AriError("GET", path, response.status, body.decode(errors="replace")[:200])
        return body

    async def continue_in_dialplan(
        self, channel_id: str, context: str, extension: str = "s", priority: int = 1
    ) -> None:
        """Hand the channel back to the dialplan (it leaves Stasis)."""
        await self.request(
            "POST",
            f"/channels/{quote(channel_id)}/continue",
            {"context": context, "extension": extension, "priority": str(priority)},
        )

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self.request("POST", f"/channels/{quote(channel_id)}/variable", {"variable": name, "value": value})

    async def get_variable(self, channel_id: str, name: str) -> str | None:
        """The channel variable's value; None when it is not set (Asterisk answers 404)."""
        try:
            result: dict[str, Any] = await self.request(
                "GET", f"/channels/{quote(channel_id)}/variable", {"variable": name}
            )
        except AriError as exc:
            if exc.status == 404:
                return None
            raise
        value = result.get("value")
        return str(value) if value else None

    async def external_media(self, channel_id: str, app: str, external_host: str, audio_format: str = "ulaw") -> None:
        """A channel that sends what it hears as RTP to `external_host` (host:port); it enters Stasis in `app`."""
        await self.request(
            "POST",
            "/channels/externalMedia",
            {
                "channelId": channel_id,
                "app": app,
                "external_host": external_host,
                "encapsulation": "rtp",
                "transport": "udp",
                "format": audio_format,
                "direction": "both",
            },
        )

    async def snoop(self, channel_id: str, snoop_id: str, app: str, spy: str = "in", whisper: str = "none") -> None:
        """A channel carrying what `channel_id` receives (`spy=in`: the caller's voice), also during playbacks, or
        also what it is sent (`spy=both`). `whisper=out`: what is written to the snoop is sent to `channel_id`'s
        phone too (only that party hears it); `none`: nothing goes back."""
        params = {"snoopId": snoop_id, "app": app, "spy": spy}
        if whisper != "none":
            params["whisper"] = whisper
        await self.request("POST", f"/channels/{quote(channel_id)}/snoop", params)

    # --- playbacks
    async def playback(self, playback_id: str) -> dict[str, Any] | None:
        """The playback, or None when it no longer exists (finished)."""
        try:
            result: dict[str, Any] = await self.request("GET", f"/playbacks/{quote(playback_id)}")
        except AriError as exc:
            if exc.status == 404:
                return None
            raise
        return result

    async def stop_playback(self, playback_id: str) -> None:
        try:
            await self.request("DELETE", f"/playbacks/{quote(playback_id)}")
        except AriError as exc:
            if exc.status != 404:  # already finished: nothing to stop
                raise

    # --- bridges
    async def bridges(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.request("GET", "/bridges")
        return result

    async def create_bridge(self, bridge_id: str, bridge_type: str = "mixing") -> None:
        await self.request("POST", f"/bridges/{quote(bridge_id)}", {"type": bridge_type})

    async def add_channel(self, bridge_id: str, channel_id: str) -> None:
        await self.request("POST", f"/bridges/{quote(bridge_id)}/addChannel", {"channel": channel_id})

    async def remove_channel(self, bridge_id: str, channel_id: str) -> None:
        await self.request("POST", f"/bridges/{quote(bridge_id)}/removeChannel", {"channel": channel_id})

    async def start_bridge_moh(self, bridge_id: str, moh_class: str = "default") -> None:
        """Music on hold for everyone in the bridge (a channel's own playback pauses it for that channel)."""
        await self.request("POST", f"/bridges/{quote(bridge_id)}/moh", {"mohClass": moh_class})

    async def stop_bridge_moh(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{quote(bridge_id)}/moh")

    async def originate(
        self,
        channel_id: str,
        endpoint: str,
        app: str,
        app_args: str,
        timeout_s: int,
        caller_id: str = "",
        variables: dict[str, str] | None = None,
    ) -> None:
        """Dial `endpoint`; answered, the new channel enters Stasis in `app` with `app_args`. Not answered within
        `timeout_s` (or busy, or unreachable), it is destroyed with the cause."""
        params = {
            "endpoint": endpoint,
            "app": app,
            "appArgs": app_args,
            "channelId": channel_id,
            "timeout": str(timeout_s),
        }
        if caller_id:
            params["callerId"] = caller_id
        await self.request("POST", "/channels", params, {"variables": variables} if variables else None)

    async def destroy_bridge(self, bridge_id: str) -> None:
        try:
            await self.request("DELETE", f"/bridges/{quote(bridge_id)}")
        except AriError as exc:
            if exc.status != 404:
                raise


async def event_stream(config: AriConfig) -> AsyncIterator[AriEvent]:
    """Events of one WebSocket connection, until it closes (the caller reconnects)."""
    async with websockets.connect(config.events_url(), open_timeout=REST_TIMEOUT_S, max_size=2**22) as ws:
        yield {"type": CONNECTED}
        async for message in ws:
            if isinstance(message, bytes):
                message = message.decode("utf-8")
            yield json.loads(message)


async def run_events(
    config: AriConfig,
    handle: Callable[[AriEvent], Awaitable[None]],
    on_connected: Callable[[], Awaitable[None]],
    on_disconnected: Callable[[], Awaitable[None]],
    stream: Callable[[AriConfig], AsyncIterator[AriEvent]] = event_stream,
) -> None:
    """Keep the app registered: connect, resync, dispatch events; on loss, back off and reconnect. Forever."""
    delay = RECONNECT_FIRST_DELAY_S
    while True:
        connected = False
        try:
            async for event in stream(config):
                if event.get("type") == CONNECTED:
                    connected = True
                    delay = RECONNECT_FIRST_DELAY_S
                    await on_connected()
                else:
                    await handle(event)
            log.warning("ARI events socket closed")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure of the socket means: reconnect
            log.warning("ARI events socket failed: %s", exc)
        if connected:
            await on_disconnected()
        await asyncio.sleep(delay * (0.75 + random.random() / 2))  # jitter: many apps do not retry in step
        delay = min(delay * 2, RECONNECT_MAX_DELAY_S)
