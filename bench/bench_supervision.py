"""The supervisor's figures at scale: a day of 20,000 calls (and the week before, for the surge baseline) seeded
in SQLite and in PostgreSQL, then today's KPIs, the whole wallboard snapshot and a /metrics scrape, timed.
Prints a table; asserts nothing on time.

    python -m bench.bench_supervision               # 20,000 calls a day, SQLite and PostgreSQL
    python -m bench.bench_supervision --calls 5000 --databases sqlite

PostgreSQL: a scratch database is created on HOTLINE_TEST_POSTGRES_URL (default the local `test` server's) and
dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, insert
from sqlalchemy.engine import make_url

from bench.tables import Column, Table, format_table
from hotline.domain.enums import AgentState, CallOutcome, QueueEntryState
from hotline.domain.report_days import today_window
from hotline.services.metrics import HotlineMetrics
from hotline.services.opendata import daily_counts
from hotline.services.supervision import Supervision, SupervisionRules
from hotline.storage.db import make_engine, normalize_database_url, upgrade_database
from hotline.storage.models import Agent, AgentStateChange, Call, QueueEntry

CALLS_PER_DAY = 20_000
BASELINE_DAYS = 6  # the days before today seeded too: the surge baseline reads a week
AGENTS = 25
RUNS = 7  # timed runs; the median is reported
POSTGRES_ADMIN_URL = os.environ.get("HOTLINE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
TOPICS = ["eau", "dechets", "etat-civil", "mairie", "stationnement", "voirie", "social", "crise", None]
COMMUNES = ["Aurevault", "Villeroux", "Fontclaire", "Chaumières", None, None, None]
LEFT_AS = {
    CallOutcome.TO_AGENT: QueueEntryState.ANSWERED,
    CallOutcome.ABANDONED: QueueEntryState.ABANDONED,
    CallOutcome.CALLBACK_REQUESTED: QueueEntryState.CALLBACK,
}
OUTCOMES = (
    [CallOutcome.SELF_SERVED] * 5 + [CallOutcome.TO_AGENT] * 3 + [CallOutcome.ABANDONED, CallOutcome.CALLBACK_REQUESTED]
)


def seed(engine: Engine, calls_per_day: int, now: datetime, rng: random.Random) -> int:
    """Calls over today and the BASELINE_DAYS before; a queue stay for each call that wanted a person; the
    agents' state changes of their calls. Returns the rows written."""
    agents = [{"login": f"bench-{i}", "display_name": f"Agent {i}", "sip_endpoint": f"agent-{5000 + i}",
               "state": AgentState.AVAILABLE.value, "skills": [], "role": "agent", "active": True,
               "state_changed_at": now, "created_at": now} for i in range(AGENTS)]  # fmt: skip
    rows = 0
    with engine.begin() as conn:
        conn.execute(insert(Agent), agents)
        agent_ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM agent ORDER BY id")]
        next_id = 1
        for day in range(BASELINE_DAYS, -1, -1):
            # today: every call between midnight (Paris) and now; the days before: 06:00 to 19:00
            midnight = today_window(now, "Europe/Paris").start
            day_start = midnight - timedelta(days=day) + (timedelta(hours=6) if day else timedelta())
            span_s = 13 * 3600 if day else max(60.0, (now - midnight).total_seconds() - 1)
            calls, stays, changes = [], [], []
            for _ in range(calls_per_day):
                started = day_start + timedelta(seconds=rng.uniform(0, span_s))
                outcome = rng.choice(OUTCOMES)
                calls.append({"id": next_id, "channel_id": f"bench-{next_id}", "caller_number": "0600000000",
                              "called_number": "0800123456", "crisis_mode": False, "started_at": started,
                              "answered_at": started, "ended_at": started + timedelta(seconds=90),
                              "outcome": outcome.value, "topic": rng.choice(TOPICS),
                              "commune": rng.choice(COMMUNES)})  # fmt: skip
                if outcome is not CallOutcome.SELF_SERVED:
                    enq = started + timedelta(seconds=30)
                    wait = rng.expovariate(1 / 25)
                    answered = outcome is CallOutcome.TO_AGENT
                    state = LEFT_AS[outcome]
                    talk = rng.uniform(60, 400)
                    stays.append({"call_id": next_id, "enqueued_at": enq, "state": state.value, "priority": 0,
                                  "answered_at": enq + timedelta(seconds=wait) if answered else None,
                                  "left_at": enq + timedelta(seconds=wait + (talk if answered else 0)),
                                  "wrapped_up_at": enq + timedelta(seconds=wait + talk + 30) if answered else None,
                                  })  # fmt: skip
                    if answered:
                        agent = rng.choice(agent_ids)
                        at = enq + timedelta(seconds=wait)
                        for to, after in (("ringing", -3), ("on_call", 0), ("wrap_up", talk), ("available", talk + 30)):
                            changes.append({"agent_id": agent, "from_state": "available", "to_state": to,
                                            "at": at + timedelta(seconds=after)})  # fmt: skip
                next_id += 1
            conn.execute(insert(Call), calls)
            if stays:
                conn.execute(insert(QueueEntry), stays)
            if changes:
                conn.execute(insert(AgentStateChange), changes)
            rows += len(calls) + len(stays) + len(changes)
    return rows


def timed(work: Callable[[], object], runs: int = RUNS) -> float:
    """The median wall time of `work` in ms."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="hotline-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'hotline.db'}"
        return
    admin_url = normalize_database_url(POSTGRES_ADMIN_URL)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = "hotline_bench_" + secrets.token_hex(4)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def measure_one(
    kind: str, calls_per_day: int, now: datetime
) -> tuple[str, int, float, float, float, float, float, float]:
    with database(kind) as url:
        upgrade_database(url)
        engine = make_engine(url)
        try:
            started = time.perf_counter()
            rows = seed(engine, calls_per_day, now, random.Random(7))
            seed_s = time.perf_counter() - started
            supervision = Supervision(engine, SupervisionRules(), "Europe/Paris")
            window = supervision.today(now)
            kpis_ms = timed(lambda: supervision.kpis(window, now))
            snapshot_ms = timed(lambda: supervision.snapshot(now))  # the surge baseline kept (a minute)

            def cold() -> None:
                supervision.forget()  # the week's baseline read again, as once a minute
                supervision.snapshot(now)

            cold_ms = timed(cold, 3)
            metrics = HotlineMetrics(lambda: supervision.snapshot(now), lambda: True)
            metrics_ms = timed(metrics.render)
            yesterday = (window.start - timedelta(hours=1)).astimezone(ZoneInfo("Europe/Paris")).date()
            opendata_ms = timed(lambda: daily_counts(engine, yesterday, "Europe/Paris", time_of_day(0, 0)))
            return kind, rows, seed_s, kpis_ms, snapshot_ms, cold_ms, metrics_ms, opendata_ms
        finally:
            engine.dispose()


def measure(calls_per_day: int = CALLS_PER_DAY, kinds: tuple[str, ...] = ("sqlite", "postgresql")) -> Table:
    table = Table(
        "supervision",
        f"supervision at scale: {calls_per_day:,} calls today and each of the {BASELINE_DAYS} days before "
        f"(median of {RUNS} runs, ms)",
        (
            Column("database", "database"),
            Column("rows", "rows"),
            Column("seed s", "seed_s", ".1f"),
            Column("KPIs today", "kpis_ms", ".0f"),
            Column("snapshot", "snapshot_ms", ".0f"),
            Column("snapshot, cold", "snapshot_cold_ms", ".0f"),
            Column("/metrics", "metrics_ms", ".0f"),
            Column("open data day", "opendata_ms", ".0f"),
        ),
    )
    now = datetime.now(UTC)
    for kind in kinds:
        table.add(*measure_one(kind, calls_per_day, now))
    table.notes.append("snapshot: live state, today's KPIs, staffing, the 3-hour chart, surges (baseline cached)")
    table.notes.append("/metrics: a whole scrape, its gauges read from a fresh snapshot")
    table.notes.append("open data day: yesterday's published counts (20,000 calls), suppression applied")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=CALLS_PER_DAY)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    print(format_table(measure(args.calls, tuple(args.databases.split(",")))))


if __name__ == "__main__":
    main()
