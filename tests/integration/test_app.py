"""The composition root: one build runs the IVR for as long as the web app is up, and the web app sees the
IVR only through what the root hands it (here, whether ARI is connected)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from hotline.app import build
from hotline.settings import Settings
from hotline.storage.db import upgrade_database
from tests.e2e.hotline_proc import E2E_KB

WAIT_S = 10.0


# What an Asterisk with no call in the app answers to the REST requests the IVR makes when it connects (it
# looks for calls a previous process left: see ivr.runtime.adoption).
EMPTY_ARI = {"/ari/applications/hotline": '{"name": "hotline", "channel_ids": [], "bridge_ids": []}'}
EMPTY_LIST = "[]"


class AriEventsStandIn:
    """Accepts the IVR's ARI events socket and holds it open, as Asterisk does; counts who came and went. Plain
    REST requests get the answers of an Asterisk with no call."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.closed = threading.Event()
        self.server: Server = serve(self._handle, "127.0.0.1", 0, process_request=self._rest)
        self.port: int = self.server.socket.getsockname()[1]

    def _rest(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None  # the events socket
        path = request.path.split("?", 1)[0]
        return connection.respond(200, EMPTY_ARI.get(path, EMPTY_LIST))

    def _handle(self, connection: ServerConnection) -> None:
        self.opened.set()
        # The IVR sends nothing; this ends when it closes the socket (cancelled: "going away" or an error).
        with contextlib.suppress(ConnectionClosed):
            for _ in connection:
                pass
        self.closed.set()


@pytest.fixture
def ari() -> Iterator[AriEventsStandIn]:
    stand_in = AriEventsStandIn()
    thread = threading.Thread(target=stand_in.server.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    stand_in.server.shutdown()
    thread.join(WAIT_S)


def wait_for_health(client: TestClient, ari: str) -> dict[str, str]:
    deadline = time.monotonic() + WAIT_S
    body: dict[str, str] = client.get("/healthz").json()
    while body["ari"] != ari and time.monotonic() < deadline:
        time.sleep(0.05)
        body = client.get("/healthz").json()
    return body


def test_the_ivr_runs_while_the_web_app_is_up(tmp_path: Path, ari: AriEventsStandIn) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade_database(url)
    settings = Settings(
        database_url=url,
        data_dir=tmp_path,
        asterisk_root=tmp_path / "asterisk",
        prompts_dir=tmp_path / "prompts",
        ari_url=f"http://127.0.0.1:{ari.port}/ari",
        speech_enabled=False,
        kb_path=E2E_KB,  # a small KB: fewer answers to synthesise, which shutdown waits for
    )
    hotline = build(settings)
    assert hotline.ivr is not None and not ari.opened.is_set()  # built, not started
    with TestClient(hotline.web) as client:
        assert ari.opened.wait(WAIT_S), "the IVR never connected to ARI"
        assert wait_for_health(client, "connected") == {"status": "ok", "db": "ok", "ari": "connected"}
    # Shutting the web app down cancels the IVR, which closes its socket.
    assert ari.closed.wait(WAIT_S)


def test_without_the_ivr_the_web_app_says_ari_is_disconnected(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade_database(url)
    hotline = build(Settings(database_url=url, data_dir=tmp_path), with_ivr=False)
    assert hotline.ivr is None and len(hotline.background()) == 2  # the metrics and the wallboard follow the bus
    with TestClient(hotline.web) as client:
        assert client.get("/healthz").json()["ari"] == "disconnected"
