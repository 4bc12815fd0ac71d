"""Browser tests: Debian's chromium driven by Playwright (never a downloaded browser), against the hotline's web
app served by uvicorn on 127.0.0.1 (SQLite, no IVR)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from hotline.app import Hotline, build
from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts
from hotline.settings import Settings
from hotline.storage.db import make_engine, upgrade_database

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "un-mot-de-passe"


@dataclass(frozen=True)
class WebApp:
    base_url: str
    hotline: Hotline  # its engine and bus: a test changes things as the IVR would, and the pages hear of it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The web app served by uvicorn in a thread, on a port that stays the same across a restart."""

    def __init__(self, hotline: Hotline, port: int) -> None:
        self.hotline = hotline
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(self.hotline.web, host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=1)  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{self.base_url}/healthz", timeout=1)
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            assert not self._thread.is_alive(), "uvicorn did not stop"
        self._server = self._thread = None


def new_hotline(workdir: Path) -> Hotline:
    """A hotline without its IVR on a fresh SQLite database, with two agents (password PASSWORD)."""
    url = f"sqlite:///{workdir / 'hotline.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    AgentAccounts(engine).add("alice", "Alice Martin", Role.AGENT, ["eau"], PASSWORD)
    AgentAccounts(engine).add("bruno", "Bruno Lefèvre", Role.AGENT, ["eau"], PASSWORD)
    engine.dispose()
    settings = Settings(_env_file=None, data_dir=workdir, database_url=url, prompts_dir=workdir / "sounds")
    return build(settings, with_ivr=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    served = Server(new_hotline(tmp_path_factory.mktemp("web")), _free_port())
    served.start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def web_app(server: Server) -> WebApp:
    return WebApp(server.base_url, server.hotline)


# Module-scoped, never session-scoped: Playwright's sync API keeps an event loop running in the main thread while
# it is open, and the tests after these ones call asyncio.run.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"no chromium at {CHROMIUM}: run scripts/setup (it installs Debian's chromium)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


def sign_in_console(page: Page, base_url: str, login: str, password: str = PASSWORD) -> None:
    """Sign in through the /login form, as a person would, and wait for the console's stream to be live."""
    page.goto(f"{base_url}/login")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button[type=submit]")
    expect(page.locator("#live")).to_have_text("en direct")
