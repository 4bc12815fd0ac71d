"""The consoles' event stream under load: CONSOLES plain SSE clients signed in to `hotline serve` listen to
/api/events while CALLERS real callers (sipp, through the Asterisk sandbox) press 0, wait in the queue and hang
up. Prints a table; asserts nothing on time.

    python -m bench.bench_console                      # 50 consoles, 100 callers
    python -m bench.bench_console --consoles 20 --callers 40

Measured: for each caller joining the queue, from the `queue.changed` event's time (stamped in the transaction of
the change, published after its commit) to its arrival at each console, p50/p95/max over every delivery, and p95
of the time until the last console had it; events lost; the CPU of `hotline serve` over the run. Needs root (the
Asterisk sandbox); runs `hotline serve` itself on a fresh SQLite database with the e2e knowledge base, and stops
what it started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from bench.bench_calls import cpu_seconds
from bench.bench_queue import count
from bench.sandbox_bench import bench_sandbox
from hotline.domain.enums import QueueEntryState
from hotline.storage.models import QueueEntry
from tests.e2e.conftest import E2E_AGENT_WEB_PASSWORD, add_agent, disable_agent
from tests.e2e.hotline_proc import start_hotline
from tests.e2e.sip.load import LoadResult, run_load
from tests.e2e.sip.pcap import Dtmf, Silence
from tests.e2e.sip.sipp import SipTarget

CONSOLES = 50
CALLERS = 100
RATE_PER_S = 10  # new callers a second
WAIT_MS = 8000  # each caller waits this long in the queue, then hangs up
SETTLE_S = 3.0  # after the last caller left, for the last events to arrive


@dataclass(frozen=True)
class ConsoleBench:
    consoles: int
    callers: int
    joins: int  # queue joins seen by the first console
    deliveries: list[float]  # ms, commit → a console, for every join at every console
    last_console: list[float]  # ms, commit → the last console, per join
    first_console: list[float]  # ms, commit → the first console, per join (the rest is the fan-out)
    lost: int  # joins some console never received
    app_cpu: float
    clients_cpu: float  # this process: the consoles' streams, parsed
    seconds: float


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


async def _listen(base_url: str, cookies: httpx.Cookies, got: dict[int, float], stop: asyncio.Event) -> None:
    """One console: every queue join's delay in ms, by queue entry."""
    async with (
        httpx.AsyncClient(base_url=base_url, cookies=cookies, timeout=None) as client,
        client.stream("GET", "/api/events") as stream,
    ):
        event = ""
        async for line in stream.aiter_lines():
            if stop.is_set():
                return
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:") and event == "queue.changed":
                data = json.loads(line.removeprefix("data:"))
                if data["state"] == QueueEntryState.WAITING.value and data["entry_id"] not in got:
                    sent = datetime.fromisoformat(data["at"]).timestamp()
                    got[data["entry_id"]] = (time.time() - sent) * 1000


def _consoles(base_url: str, cookies: httpx.Cookies, n: int, ready: threading.Event, stop_flag: threading.Event,
              results: list[dict[int, float]]) -> None:  # fmt: skip
    async def main() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(_listen(base_url, cookies, results[i], stop)) for i in range(n)]
        await asyncio.sleep(1.0)  # every stream open
        ready.set()
        while not stop_flag.is_set():
            await asyncio.sleep(0.1)
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


def run(consoles: int, callers: int, workdir: Path, env: dict[str, str], target: SipTarget) -> ConsoleBench:
    proc = start_hotline(env, workdir / "hotline", HOTLINE_QUEUE_MAX_WAIT_S="100000",
                         HOTLINE_QUEUE_CALLBACK_OFFER_S="100000")  # fmt: skip
    agent_env: dict[str, str] = {}
    try:
        proc.wait_ari(connected=True)
        agent_env = {**env, "HOTLINE_DATABASE_URL": proc.database_url}
        account = add_agent(agent_env, "bench-console")
        client = httpx.Client(base_url=proc.base_url, timeout=10)
        r = client.post("/api/session", json={"login": account.login, "password": E2E_AGENT_WEB_PASSWORD})
        r.raise_for_status()
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        client.put("/api/agents/me/state", json={"state": "paused", "reason": "pause"}, headers=csrf)  # callers wait
        results: list[dict[int, float]] = [{} for _ in range(consoles)]
        ready, stop = threading.Event(), threading.Event()
        listeners = threading.Thread(target=_consoles, args=(proc.base_url, client.cookies, consoles, ready, stop,
                                                              results))  # fmt: skip
        listeners.start()
        ready.wait(30)
        load: dict[str, LoadResult] = {}
        cpu_start, started = cpu_seconds(proc.process.pid), time.monotonic()
        own_start = time.process_time()
        calls = threading.Thread(target=lambda: load.setdefault("load", run_load(
            [Silence(1500), Dtmf("0")], calls=callers, concurrent=callers, rate=RATE_PER_S, hold_ms=WAIT_MS + 1500,
            target=target, workdir=workdir / "callers", timeout=600)))  # fmt: skip
        calls.start()
        calls.join(900)
        deadline = time.monotonic() + 30
        while count(proc, QueueEntry.state == QueueEntryState.WAITING) > 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(SETTLE_S)
        seconds = time.monotonic() - started
        cpu = cpu_seconds(proc.process.pid) - cpu_start
        own = time.process_time() - own_start
        stop.set()
        listeners.join(30)
        client.put("/api/agents/me/state", json={"state": "offline"}, headers=csrf)
        client.close()
        joins = set().union(*(r.keys() for r in results))
        deliveries = [ms for r in results for ms in r.values()]
        last = [max(r[j] for r in results) for j in joins if all(j in r for r in results)]
        first = [min(r[j] for r in results if j in r) for j in joins]
        lost = sum(1 for j in joins if not all(j in r for r in results))
        return ConsoleBench(consoles, callers, len(joins), deliveries, last, first, lost, 100 * cpu / seconds,
                            100 * own / seconds, seconds)  # fmt: skip
    finally:
        if agent_env:
            with contextlib.suppress(AssertionError):
                disable_agent(agent_env, "bench-console")
        proc.stop()


def format_table(b: ConsoleBench) -> str:
    return "\n".join(
        [
            f"console stream: {b.consoles} SSE clients on /api/events while {b.callers} sipp callers press 0, wait "
            f"{WAIT_MS / 1000:.0f} s in the queue and hang up ({RATE_PER_S} new a second)",
            "delay = the queue.changed of a caller joining, from its change to a console; CPU in % of one core",
            f"{'consoles':>9}{'callers':>8}{'joins':>6}{'p50 ms':>7}{'p95 ms':>7}{'max ms':>7}"
            f"{'first p95 ms':>13}{'last p95 ms':>12}{'lost':>5}{'app CPU':>8}{'clients CPU':>12}",
            f"{b.consoles:>9}{b.callers:>8}{b.joins:>6}{percentile(b.deliveries, 50):>7.0f}"
            f"{percentile(b.deliveries, 95):>7.0f}{max(b.deliveries, default=float('nan')):>7.0f}"
            f"{percentile(b.first_console, 95):>13.0f}{percentile(b.last_console, 95):>12.0f}{b.lost:>5}"
            f"{b.app_cpu:>7.0f}%{b.clients_cpu:>11.0f}%",
        ]
    )


def measure(consoles: int = CONSOLES, callers: int = CALLERS) -> ConsoleBench:
    """Start the sandbox if it is not running (and stop it after), then run the bench."""
    with bench_sandbox() as box:
        return run(consoles, callers, box.workdir, box.env, box.target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--consoles", type=int, default=CONSOLES)
    parser.add_argument("--callers", type=int, default=CALLERS)
    args = parser.parse_args()
    print(format_table(measure(args.consoles, args.callers)))


if __name__ == "__main__":
    main()
