"""What the benchmarks through real calls share: the Asterisk sandbox (started if it is not running, and then
stopped after), a scratch folder, the settings' environment and the SIP target."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ivr.asterisk.sandbox import Sandbox
from tests.e2e.conftest import e2e_settings, settings_env
from tests.e2e.sip.sipp import SipTarget


@dataclass(frozen=True)
class BenchSandbox:
    workdir: Path
    env: dict[str, str]
    target: SipTarget
    asterisk_pid: int


@contextlib.contextmanager
def bench_sandbox(keep: Path | None = None) -> Iterator[BenchSandbox]:
    """`keep`: a folder to work in and leave behind (default: a temporary one, removed after)."""
    settings = e2e_settings()
    sandbox = Sandbox(settings, echo=print)
    started_here = sandbox.running_pid() is None
    if started_here:
        sandbox.up()
    asterisk_pid = sandbox.running_pid()
    assert asterisk_pid is not None
    try:
        with contextlib.ExitStack() as stack:
            workdir = keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hotline-bench-")))
            yield BenchSandbox(workdir, settings_env(settings), SipTarget.from_settings(settings), asterisk_pid)
    finally:
        if started_here:
            sandbox.down()
