"""The hotline service as a real process (`hotline serve`), for end-to-end calls through the real Asterisk."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

READY_TIMEOUT_S = 60.0  # migrations, model loading and the first ARI connection
STOP_TIMEOUT_S = 10.0
E2E_KB = Path(__file__).with_name("kb")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HotlineProcess:
    process: subprocess.Popen[bytes]
    port: int
    database_url: str
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """One scrape of /metrics: (name, sorted labels) -> value."""
        text = httpx.get(f"{self.base_url}/metrics", timeout=10).text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(text) for s in f.samples}  # fmt: skip

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(f"{self.base_url}/healthz", timeout=2).json()
        return result

    def wait_ari(self, connected: bool = True, timeout: float = READY_TIMEOUT_S) -> None:
        want = "connected" if connected else "disconnected"
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hotline serve exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                last = self.health()
                if isinstance(last, dict) and last.get("ari") == want:
                    return
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.1)
        raise TimeoutError(f"ARI not {want} after {timeout} s (last health: {last}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_hotline(env: dict[str, str], workdir: Path, kb_path: Path = E2E_KB, **extra: str) -> HotlineProcess:
    """Start `hotline serve` with its own SQLite database and port (HOTLINE_PORT in `extra`: the one a stopped
    process had, so a browser finds it again); the caller stops it."""
    port = int(extra["HOTLINE_PORT"]) if "HOTLINE_PORT" in extra else free_port()
    database_url = f"sqlite:///{workdir / 'hotline.db'}"
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "hotline.log"
    environ = {
        **env,
        "HOTLINE_PORT": str(port),
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_KB_PATH": str(kb_path),
        "XDG_CACHE_HOME": str(workdir / "cache"),
        "HOTLINE_SPEECH_ENABLED": "false",  # keys only unless a test asks for speech (it loads a recogniser)
        **extra,
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "serve"],
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,
        )
    return HotlineProcess(process, port, database_url, log_path)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
