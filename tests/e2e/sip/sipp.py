"""Running sipp: scenario templates (the *.xml.in files beside this module), the process, its message log."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from hotline.settings import Settings
from ivr.asterisk.config import split_host_port

SCENARIOS_DIR = Path(__file__).resolve().parent
SIPP_STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SipTarget:
    """Where the calls go: Asterisk's SIP address and the number dialled."""

    host: str
    port: int
    number: str

    @classmethod
    def from_settings(cls, settings: Settings) -> SipTarget:
        host, port = split_host_port(settings.sip_bind, 5060)
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return cls(host, port, settings.toll_free_number)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def sipp_binary() -> str:
    binary = shutil.which("sipp")
    if binary is None:
        raise RuntimeError("sipp is not installed: run scripts/setup (Debian package sip-tester)")
    return binary


def render_scenario(template: str, out: Path, values: dict[str, str]) -> Path:
    """Fill the @NAME@ placeholders of a scenario template (XML-escaped) into `out`."""
    text = (SCENARIOS_DIR / template).read_text(encoding="iso-8859-1")
    for name, value in values.items():
        text = text.replace(f"@{name}@", escape(value, {'"': "&quot;"}))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise ValueError(f"{template}: placeholders without a value: {sorted(set(left))}")
    out.write_text(text, encoding="iso-8859-1")
    return out


@dataclass(frozen=True)
class SipMessage:
    direction: str  # "sent" or "received"
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    @property
    def status(self) -> int | None:
        match = re.match(r"SIP/2\.0 (\d{3})", self.first_line)
        return int(match.group(1)) if match else None

    @property
    def method(self) -> str | None:
        """The request method, or for a response the method of its CSeq."""
        if self.status is None:
            return self.first_line.split(" ", 1)[0] or None
        match = re.search(r"^CSeq:\s*\d+\s+(\w+)", self.text, re.MULTILINE | re.IGNORECASE)
        return match.group(1).upper() if match else None


def read_messages(log: Path) -> list[SipMessage]:
    """The SIP messages of a sipp `-trace_msg -message_file` log, in order."""
    if not log.exists():
        return []
    messages = []
    blocks = re.split(r"^-{20,} .*$", log.read_text(errors="replace"), flags=re.MULTILINE)
    for block in blocks:
        match = re.match(r"\s*\w+ message (sent|received)[^\n]*\n\n?(.*)", block, re.DOTALL)
        if match:
            messages.append(SipMessage(match.group(1), match.group(2).strip("\n")))
    return messages


def final_status(messages: list[SipMessage], method: str) -> int | None:
    """The last final (>= 200) response received to `method`, or the last provisional one."""
    statuses = [m.status for m in messages if m.direction == "received" and m.status and m.method == method]
    finals = [s for s in statuses if s >= 200]
    if finals:
        return finals[-1]
    return statuses[-1] if statuses else None


def stop_process(process: subprocess.Popen[bytes], timeout: float = SIPP_STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL: for a process this module started, by its pid."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
