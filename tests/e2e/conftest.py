"""End-to-end fixtures: a real Asterisk 22 (the project's own sandbox), SIP callers and agent phones.

`asterisk` (session) runs `Sandbox.up()` exactly as `hotline asterisk up` does, unless an Asterisk started by the
sandbox is already running for these settings (then it is used as is, and left running). Without root, without
sipp/tcpdump, or if Asterisk cannot start, every e2e test FAILS with the reason: CI must never go green without
having placed a real call.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.settings import Settings
from ivr.asterisk.config import split_host_port
from ivr.asterisk.sandbox import Sandbox, SandboxError, SandboxState, UpResult, root_required_message
from tests.e2e.sip.sipp import SipTarget

E2E_FALLBACK_QUEUE_SECONDS = 4  # the fallback tests wait the queue out: short, yet longer than an agent's ring
REQUIRED_TOOLS = ("sipp", "tcpdump", "sox", "espeak-ng")
CHANNELS_GONE_TIMEOUT_S = 10.0
CALLER_SPEECH = (
    "Bonjour, je vous appelle parce que le camion poubelle n'est pas passé ce matin dans ma rue. "
    "Pouvez-vous me rappeler, s'il vous plaît ?"
)


def e2e_settings() -> Settings:
    """The settings of the e2e session: the environment's, with a short fallback queue unless one is set."""
    overrides: dict[str, Any] = {}
    if "HOTLINE_FALLBACK_QUEUE_SECONDS" not in os.environ:
        overrides["fallback_queue_seconds"] = E2E_FALLBACK_QUEUE_SECONDS
    return Settings(**overrides)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment under which `hotline asterisk ...` (a subprocess) sees these same settings."""
    return {
        **os.environ,
        "HOTLINE_DATA_DIR": str(settings.data_dir.resolve()),
        "HOTLINE_ASTERISK_ROOT": str(settings.asterisk_root),
        "HOTLINE_ASTERISK_TARBALL": str(settings.asterisk_tarball),
        "HOTLINE_ARI_URL": settings.ari_url,
        "HOTLINE_ARI_USER": settings.ari_user,
        "HOTLINE_ARI_PASSWORD": settings.ari_secret(),
        "HOTLINE_SIP_BIND": settings.sip_bind,
        "HOTLINE_TOLL_FREE_NUMBER": settings.toll_free_number,
        "HOTLINE_FALLBACK_QUEUE_SECONDS": str(settings.fallback_queue_seconds),
    }


@dataclass(frozen=True)
class AsteriskSandbox:
    """The running Asterisk, as the tests see it."""

    settings: Settings
    state: SandboxState
    started_here: bool
    up_result: UpResult | None
    env: dict[str, str]

    @property
    def ari_url(self) -> str:
        return self.state.ari_url

    @property
    def ari_auth(self) -> tuple[str, str]:
        return self.settings.ari_user, self.settings.ari_secret()

    @property
    def http_base(self) -> str:
        return self.ari_url.removesuffix("/ari")

    @property
    def root(self) -> Path | None:
        return Path(self.state.root) if self.state.root else None

    @property
    def prompts_dir(self) -> Path:
        return Path(self.state.prompts_dir)

    @property
    def fallback_spool_dir(self) -> Path:
        return Path(self.state.fallback_spool_dir)

    @property
    def fallback_queue_seconds(self) -> int:
        return self.state.fallback_queue_seconds

    @property
    def target(self) -> SipTarget:
        host, port = split_host_port(self.state.sip_bind, 5060)
        return SipTarget("127.0.0.1" if host in ("0.0.0.0", "::") else host, port, self.state.toll_free_number)

    def ari(self) -> httpx.Client:
        return httpx.Client(base_url=self.ari_url, auth=self.ari_auth, timeout=5.0)

    def channels(self) -> list[dict[str, Any]]:
        with self.ari() as client:
            response = client.get("/channels")
            response.raise_for_status()
            channels: list[dict[str, Any]] = response.json()
            return channels

    def wait_no_channels(self, timeout: float = CHANNELS_GONE_TIMEOUT_S) -> list[dict[str, Any]]:
        """Poll ARI until no channel is left; returns what is left at the deadline (empty if all gone)."""
        deadline = time.monotonic() + timeout
        left = self.channels()
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = self.channels()
        return left

    def endpoint_state(self, resource: str) -> str:
        with self.ari() as client:
            response = client.get(f"/endpoints/PJSIP/{resource}")
            response.raise_for_status()
            return str(response.json()["state"])

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(Path(self.state.log_file).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@pytest.fixture(scope="session")
def asterisk() -> Iterator[AsteriskSandbox]:
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"the e2e tests need {', '.join(missing)}: run scripts/setup (as root) to install them", pytrace=False
        )
    settings = e2e_settings()
    sandbox = Sandbox(settings, echo=lambda line: print(f"[asterisk up] {line}"))
    started_here = False
    up_result: UpResult | None = None
    state = sandbox.read_state()
    if sandbox.running_pid() is None or state is None:
        if sandbox.mode == "chroot" and os.geteuid() != 0:
            pytest.fail(
                "the e2e tests start Asterisk with the project's sandbox, which needs root here:\n"
                + root_required_message(settings),
                pytrace=False,
            )
        failure: str | None = None
        try:
            up_result = sandbox.up()
        except SandboxError as exc:
            failure = str(exc)
        if failure is not None:
            pytest.fail(f"the Asterisk sandbox did not start: {failure}", pytrace=False)
        assert up_result is not None
        state = up_result.state
        started_here = True
    try:
        yield AsteriskSandbox(settings, state, started_here, up_result, settings_env(settings))
    finally:
        if started_here:
            sandbox.down()


@pytest.fixture(scope="session")
def caller_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A French sentence a citizen says (espeak-ng, 8 kHz), about 8 seconds."""
    folder = tmp_path_factory.mktemp("speech")
    raw, out = folder / "raw.wav", folder / "caller_speech.wav"
    subprocess.run(["espeak-ng", "-v", "fr", "-s", "140", "-w", str(raw), CALLER_SPEECH], check=True, timeout=60)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out)], check=True, timeout=60)
    return out


# ---- agents ---------------------------------------------------------------------------------------------------

E2E_AGENTS = ("e2e-agent1", "e2e-agent2")
E2E_AGENT_WEB_PASSWORD = "mot-de-passe-e2e"


@dataclass(frozen=True)
class AgentAccount:
    login: str
    sip_password: str


def add_agent(env: dict[str, str], login: str, *extra: str) -> AgentAccount:
    """`hotline agent add LOGIN --json` as a person would run it; its phone is pushed to Asterisk."""
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "agent", "add", login, "--name", f"Agent {login}", "--password-stdin",
         "--json", *extra],
        input=E2E_AGENT_WEB_PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"agent add {login}: {done.stdout}{done.stderr}"
    assert "not pushed" not in done.stderr, done.stderr
    created = json.loads(done.stdout)
    return AgentAccount(created["login"], created["sip_password"])


def disable_agent(env: dict[str, str], login: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "agent", "disable", login],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="session")
def agents_env(asterisk: AsteriskSandbox, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of `hotline agent ...` for the session's agents: their own database."""
    folder = tmp_path_factory.mktemp("agents")
    return {**asterisk.env, "HOTLINE_DATABASE_URL": f"sqlite:///{folder / 'agents.db'}"}


@pytest.fixture(scope="session")
def agents(agents_env: dict[str, str]) -> Iterator[dict[str, AgentAccount]]:
    """Agents created with `hotline agent add` (their phones pushed to the session's Asterisk), disabled at the
    end, which removes their phones."""
    accounts = {login: add_agent(agents_env, login) for login in E2E_AGENTS}
    try:
        yield accounts
    finally:
        for login in accounts:
            disable_agent(agents_env, login)
