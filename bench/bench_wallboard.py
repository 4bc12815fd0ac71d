"""The wallboard under load: a supervisor's wallboard open in chromium while CALLERS real callers (sipp, through
the Asterisk sandbox) press 0, wait in the queue and hang up. Prints a table; asserts nothing on time.

    python -m bench.bench_wallboard                 # 100 callers
    python -m bench.bench_wallboard --callers 40

Measured in the browser: for every event the page received, from the event's time (stamped at the change, in the
transaction) to the board drawn with a snapshot that includes it, p50/p95/max; the boards pushed; the CPU of
`hotline serve`. Needs root (the Asterisk sandbox) and Debian's chromium; runs `hotline serve` itself on a fresh
SQLite database with the e2e knowledge base, and stops what it started.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.bench_calls import cpu_seconds
from bench.bench_console import percentile
from bench.bench_queue import count
from bench.sandbox_bench import bench_sandbox
from hotline.domain.enums import QueueEntryState
from hotline.storage.models import QueueEntry
from tests.e2e.conftest import E2E_AGENT_WEB_PASSWORD, add_agent, disable_agent
from tests.e2e.hotline_proc import start_hotline
from tests.e2e.sip.load import LoadResult, run_load
from tests.e2e.sip.pcap import Dtmf, Silence
from tests.e2e.sip.sipp import SipTarget

CALLERS = 100
RATE_PER_S = 10
WAIT_MS = 8000
SETTLE_S = 3.0
CHROMIUM = "/usr/bin/chromium"


@dataclass(frozen=True)
class WallboardBench:
    callers: int
    delays: list[float]  # ms, event → drawn
    boards: int  # boards pushed to the page
    app_cpu: float
    seconds: float


def run(callers: int, workdir: Path, env: dict[str, str], target: SipTarget) -> WallboardBench:
    proc = start_hotline(env, workdir / "hotline", HOTLINE_QUEUE_MAX_WAIT_S="100000",
                         HOTLINE_QUEUE_CALLBACK_OFFER_S="100000")  # fmt: skip
    agent_env: dict[str, str] = {}
    try:
        proc.wait_ari(connected=True)
        agent_env = {**env, "HOTLINE_DATABASE_URL": proc.database_url}
        add_agent(agent_env, "bench-wall", "--role", "supervisor")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{proc.base_url}/login")
            page.fill("#login", "bench-wall")
            page.fill("#password", E2E_AGENT_WEB_PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{proc.base_url}/wallboard")
            page.wait_for_selector("#live.on")
            page.evaluate("window.wallboardDelays.length = 0; window.wallboardBoards = 0")
            load: dict[str, LoadResult] = {}
            cpu_start, started = cpu_seconds(proc.process.pid), time.monotonic()
            calls = threading.Thread(target=lambda: load.setdefault("load", run_load(
                [Silence(1500), Dtmf("0")], calls=callers, concurrent=callers, rate=RATE_PER_S,
                hold_ms=WAIT_MS + 1500, target=target, workdir=workdir / "callers", timeout=600)))  # fmt: skip
            calls.start()
            while calls.is_alive():
                page.wait_for_timeout(500)  # the page keeps running its script meanwhile
            deadline = time.monotonic() + 30
            while count(proc, QueueEntry.state == QueueEntryState.WAITING) > 0 and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            page.wait_for_timeout(SETTLE_S * 1000)
            seconds = time.monotonic() - started
            cpu = cpu_seconds(proc.process.pid) - cpu_start
            delays = [float(d) for d in page.evaluate("window.wallboardDelays")]
            boards = int(page.evaluate("window.wallboardBoards"))
            browser.close()
        return WallboardBench(callers, delays, boards, 100 * cpu / seconds, seconds)
    finally:
        if agent_env:
            with contextlib.suppress(AssertionError):
                disable_agent(agent_env, "bench-wall")
        proc.stop()


def format_table(b: WallboardBench) -> str:
    return "\n".join(
        [
            f"wallboard: one board in chromium while {b.callers} sipp callers press 0, wait {WAIT_MS / 1000:.0f} s "
            f"in the queue and hang up ({RATE_PER_S} new a second)",
            "delay = from an event's change to the board drawn with it; CPU in % of one core",
            f"{'callers':>8}{'events':>7}{'boards':>7}{'p50 ms':>7}{'p95 ms':>7}{'max ms':>7}{'app CPU':>8}",
            f"{b.callers:>8}{len(b.delays):>7}{b.boards:>7}{percentile(b.delays, 50):>7.0f}"
            f"{percentile(b.delays, 95):>7.0f}{max(b.delays, default=float('nan')):>7.0f}{b.app_cpu:>7.0f}%",
        ]
    )


def measure(callers: int = CALLERS) -> WallboardBench:
    """Start the sandbox if it is not running (and stop it after), then run the bench."""
    with bench_sandbox() as box:
        return run(callers, box.workdir, box.env, box.target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--callers", type=int, default=CALLERS)
    args = parser.parse_args()
    print(format_table(measure(args.callers)))


if __name__ == "__main__":
    main()
