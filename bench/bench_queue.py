"""The agents' queue under load: CALLERS callers press 0 and wait with music and announcements, then AGENTS
agent phones (sipp UAS, registered) become available at once and answer, talk briefly and hang up, call after
call, until every caller has been served. Prints a table; asserts nothing on time.

    python -m bench.bench_queue                    # 200 callers, 20 agents
    python -m bench.bench_queue --callers 40 --agents 5
    python -m bench.bench_queue --keep /tmp/queue  # keep the log, database and sipp files there

Measured: from an agent becoming available (the API call, or the end of their wrap-up as the database records
it) to the INVITE reaching their phone (sipp's message trace), p50/p95/max; callers lost (whose queue entry ended
without an agent, or whose call failed); the CPU of `hotline serve` and of Asterisk over the run. Needs root (the
Asterisk sandbox) and the tools `scripts/setup` installs; runs `hotline serve` itself on a fresh SQLite database
with the e2e knowledge base, and stops what it started.
"""

from __future__ import annotations

import argparse
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func
from sqlmodel import col, select

from bench.bench_calls import cpu_seconds
from bench.sandbox_bench import bench_sandbox
from hotline.domain.enums import AgentState, QueueEntryState
from hotline.storage.db import make_engine, session_scope
from hotline.storage.models import Agent, AgentStateChange, QueueEntry
from tests.e2e.conftest import E2E_AGENT_WEB_PASSWORD, add_agent, disable_agent
from tests.e2e.hotline_proc import HotlineProcess, start_hotline
from tests.e2e.sip.agent import AgentPhone
from tests.e2e.sip.load import LoadResult, run_load
from tests.e2e.sip.pcap import Dtmf, Silence
from tests.e2e.sip.sipp import SipTarget

CALLERS = 200
AGENTS = 20
RATE_PER_S = 20  # new callers a second
TALK_MS = 1500  # each agent's call: answered, a short word, hung up
CALLER_HOLD_MS = 600_000  # callers wait for their agent; Asterisk hangs up when the agent does
JOIN_TIMEOUT_S = 120.0
_TRACE_TIME = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s*\n\s*UDP message received.*?\n\s*\n?INVITE ",
                         re.MULTILINE)  # fmt: skip


@dataclass(frozen=True)
class QueueBench:
    callers: int
    agents: int
    joined_s: float
    served: int
    lost: int
    rings: list[float]  # ms, available → INVITE at the phone
    app_cpu: float
    asterisk_cpu: float
    drain_s: float

    def percentile(self, p: float) -> float:
        ordered = sorted(self.rings)
        return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def invites_at(log: Path) -> list[float]:
    """Epoch seconds of each INVITE a sipp UAS received (its -trace_msg log, local time stamps)."""
    if not log.exists():
        return []
    text = log.read_text(errors="replace")
    return [datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp() for m in _TRACE_TIME.finditer(text)]


def count(proc: HotlineProcess, *where: Any) -> int:
    engine = make_engine(proc.database_url)
    try:
        with session_scope(engine, write=False) as s:
            return int(s.exec(select(func.count()).select_from(QueueEntry).where(*where)).one())
    finally:
        engine.dispose()


def became_available(proc: HotlineProcess, login: str) -> list[float]:
    """Epoch seconds of each change of the agent to available (the API's, and each wrap-up's end)."""
    engine = make_engine(proc.database_url)
    try:
        with session_scope(engine, write=False) as s:
            agent = s.exec(select(Agent).where(Agent.login == login)).one()
            rows = s.exec(
                select(AgentStateChange)
                .where(AgentStateChange.agent_id == agent.id, AgentStateChange.to_state == AgentState.AVAILABLE)
                .order_by(col(AgentStateChange.id))
            )
            return [r.at.timestamp() for r in rows]
    finally:
        engine.dispose()


def ring_latencies(available: list[float], invites: list[float]) -> list[float]:
    """For each time the agent became available while callers waited, the wait until the next INVITE (ms)."""
    out = []
    for at in available:
        later = [t for t in invites if t >= at - 0.001]
        if later:
            out.append(max(0.0, later[0] - at) * 1000)
    return out


def sign_in(base_url: str, login: str) -> tuple[httpx.Client, dict[str, str]]:
    client = httpx.Client(base_url=base_url, timeout=30)
    r = client.post("/api/session", json={"login": login, "password": E2E_AGENT_WEB_PASSWORD})
    r.raise_for_status()
    return client, {"X-CSRF-Token": r.json()["csrf_token"]}


def run(
    callers: int, agents: int, workdir: Path, asterisk_pid: int, env: dict[str, str], target: SipTarget
) -> QueueBench:
    proc = start_hotline(env, workdir / "hotline", HOTLINE_AGENT_WRAP_UP_S="0", HOTLINE_QUEUE_MAX_WAIT_S="100000",
                         HOTLINE_QUEUE_CALLBACK_OFFER_S="100000")  # fmt: skip
    phones: list[AgentPhone] = []
    try:
        proc.wait_ari(connected=True)
        agent_env = {**env, "HOTLINE_DATABASE_URL": proc.database_url}
        logins = [add_agent(agent_env, f"bench-agent-{i:02d}") for i in range(agents)]
        sessions = [sign_in(proc.base_url, a.login) for a in logins]
        for client, csrf in sessions:  # logged in, not free: the callers wait
            client.put("/api/agents/me/state", json={"state": "paused", "reason": "pause"}, headers=csrf)
        per_agent = callers // agents + 2
        for account in logins:
            phone = AgentPhone(
                account.login,
                account.sip_password,
                talk=[Silence(TALK_MS)],
                hold_ms=TALK_MS,
                calls=per_agent,
                answer_after_ms=0,
                target=target,
                workdir=workdir / account.login,
            )
            phone.start()  # fmt: skip
            phones.append(phone)
        result: dict[str, LoadResult] = {}
        load = threading.Thread(target=lambda: result.setdefault("load", run_load(
            [Silence(1500), Dtmf("0")], calls=callers, concurrent=callers, rate=RATE_PER_S, hold_ms=CALLER_HOLD_MS,
            target=target, workdir=workdir / "callers", timeout=1800)))  # fmt: skip
        start = time.monotonic()
        load.start()
        while count(proc, QueueEntry.state == QueueEntryState.WAITING) < callers:
            if time.monotonic() - start > JOIN_TIMEOUT_S:
                raise RuntimeError(f"only {count(proc, QueueEntry.state == QueueEntryState.WAITING)} callers joined")
            time.sleep(0.5)
        joined_s = time.monotonic() - start
        cpu_a, cpu_h, drain_start = cpu_seconds(asterisk_pid), cpu_seconds(proc.process.pid), time.monotonic()
        for client, csrf in sessions:
            client.put("/api/agents/me/state", json={"state": "available"}, headers=csrf)
        while count(proc, col(QueueEntry.state).in_([QueueEntryState.WAITING, QueueEntryState.OFFERED])) > 0:
            if not load.is_alive():
                break
            time.sleep(0.2)
        drain_s = time.monotonic() - drain_start
        cpu_a, cpu_h = cpu_seconds(asterisk_pid) - cpu_a, cpu_seconds(proc.process.pid) - cpu_h
        for client, csrf in sessions:
            client.put("/api/agents/me/state", json={"state": "offline"}, headers=csrf)
            client.close()
        load.join(120)
        served = count(proc, QueueEntry.state == QueueEntryState.ANSWERED)
        calls = result.get("load")
        failed = calls.failed if calls is not None else callers
        rings: list[float] = []
        for account, phone in zip(logins, phones, strict=True):
            phone.stop()
            invites = invites_at(phone.workdir / "uas-messages.log")
            rings += ring_latencies(became_available(proc, account.login), invites)
            disable_agent(agent_env, account.login)  # its phone leaves Asterisk
        return QueueBench(callers, agents, joined_s, served, max(callers - served, failed), rings,
                          100 * cpu_h / drain_s, 100 * cpu_a / drain_s, drain_s)  # fmt: skip
    finally:
        for phone in phones:
            phone.stop()
        proc.stop()


def format_table(b: QueueBench) -> str:
    return "\n".join(
        [
            f"queue: {b.callers} callers waiting with music and announcements, {b.agents} agent phones (sipp) "
            f"answering {TALK_MS} ms calls, wrap-up 0 s",
            "ring = an agent available (API or end of wrap-up) to the INVITE at their phone; CPU in % of one core",
            f"{'callers':>8}{'agents':>7}{'joined s':>9}{'served':>7}{'lost':>5}{'rings':>6}{'p50 ms':>7}"
            f"{'p95 ms':>7}{'max ms':>7}{'drain s':>8}{'app':>6}{'Asterisk':>9}",
            f"{b.callers:>8}{b.agents:>7}{b.joined_s:>9.1f}{b.served:>7}{b.lost:>5}{len(b.rings):>6}"
            f"{b.percentile(50):>7.0f}{b.percentile(95):>7.0f}{max(b.rings):>7.0f}{b.drain_s:>8.1f}"
            f"{b.app_cpu:>5.0f}%{b.asterisk_cpu:>8.0f}%",
        ]
    )


def measure(callers: int = CALLERS, agents: int = AGENTS, keep: Path | None = None) -> QueueBench:
    """Start the sandbox if it is not running (and stop it after), then run the bench."""
    with bench_sandbox(keep) as box:
        return run(callers, agents, box.workdir, box.asterisk_pid, box.env, box.target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--callers", type=int, default=CALLERS)
    parser.add_argument("--agents", type=int, default=AGENTS)
    parser.add_argument("--keep", type=Path, help="keep the hotline log, database and sipp files in this folder")
    args = parser.parse_args()
    print(format_table(measure(args.callers, args.agents, args.keep)))


if __name__ == "__main__":
    main()
