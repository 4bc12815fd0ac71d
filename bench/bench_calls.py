"""Load through the menu: N callers at once dial the toll-free number, press 1 for an answer, then 1 for
"yes, it helped", and hear the goodbye. Prints success, answer latency and CPU; asserts nothing on time.

    python -m bench.bench_calls            # 50, 100 and 200 concurrent calls
    python -m bench.bench_calls --levels 20
    python -m bench.bench_calls --keep /tmp/load   # keep the log, database and sipp files there

Needs root (the Asterisk sandbox) and the tools `scripts/setup` installs. Runs `hotline serve` itself on a
fresh SQLite database with the e2e knowledge base (short answers), and stops what it started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from hotline.domain.enums import CallOutcome
from hotline.storage.db import make_engine, session_scope
from hotline.storage.models import Call
from ivr.asterisk.sandbox import Sandbox
from tests.e2e.conftest import e2e_settings, settings_env
from tests.e2e.hotline_proc import HotlineProcess, start_hotline
from tests.e2e.sip.load import run_load
from tests.e2e.sip.pcap import Dtmf, Silence, Step
from tests.e2e.sip.sipp import SipTarget

LEVELS = (50, 100, 200)
CALLS_PER_LEVEL = 2  # each level places twice its concurrency, so the plateau lasts
RATE_PER_S = 20  # new calls a second: 200 callers are in within 10 s, before the first (about 14 s) end
STEPS: list[Step] = [Silence(1500), Dtmf("1"), Silence(8000), Dtmf("1")]
HOLD_MS = 40_000  # the caller waits for the goodbye; Asterisk hangs up first
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


@dataclass(frozen=True)
class Row:
    concurrent: int
    calls: int
    successful: int
    self_served: int
    p50_ms: float | None
    p95_ms: float | None
    asterisk_cpu: float
    app_cpu: float
    elapsed_s: float


def count_self_served(proc: HotlineProcess) -> int:
    engine = make_engine(proc.database_url)
    try:
        with session_scope(engine) as s:
            query = select(func.count()).select_from(Call).where(Call.outcome == CallOutcome.SELF_SERVED)
            return int(s.exec(query).one())
    finally:
        engine.dispose()


def run_level(concurrent: int, proc: HotlineProcess, asterisk_pid: int, target: SipTarget, workdir: Path) -> Row:
    served_before = count_self_served(proc)
    cpu_a, cpu_h, start = cpu_seconds(asterisk_pid), cpu_seconds(proc.process.pid), time.monotonic()
    result = run_load(
        STEPS,
        calls=concurrent * CALLS_PER_LEVEL,
        concurrent=concurrent,
        rate=RATE_PER_S,
        hold_ms=HOLD_MS,
        target=target,
        workdir=workdir / f"level-{concurrent}",
        timeout=900,
    )
    elapsed = time.monotonic() - start
    cpu_a, cpu_h = cpu_seconds(asterisk_pid) - cpu_a, cpu_seconds(proc.process.pid) - cpu_h
    time.sleep(2)  # the last hangups reach the database
    return Row(
        concurrent,
        result.calls,
        result.successful,
        count_self_served(proc) - served_before,
        result.percentile(50),
        result.percentile(95),
        100 * cpu_a / elapsed,
        100 * cpu_h / elapsed,
        elapsed,
    )


def format_table(rows: list[Row]) -> str:
    lines = [
        "load through the menu (press 1, answer, press 1, goodbye); answer latency = INVITE to 200 OK;",
        "CPU in % of one core, over the level's whole run (2-core machine, sipp on the same machine)",
        f"{'concurrent':>10}{'calls':>7}{'ok':>6}{'self-served':>12}{'success':>9}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'Asterisk':>10}{'app':>7}{'secs':>7}",
    ]
    for r in rows:
        p50 = f"{r.p50_ms:.0f}" if r.p50_ms is not None else "-"
        p95 = f"{r.p95_ms:.0f}" if r.p95_ms is not None else "-"
        lines.append(
            f"{r.concurrent:>10}{r.calls:>7}{r.successful:>6}{r.self_served:>12}{r.self_served / r.calls:>9.1%}"
            f"{p50:>8}{p95:>8}{r.asterisk_cpu:>9.0f}%{r.app_cpu:>6.0f}%{r.elapsed_s:>7.0f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS))
    parser.add_argument("--keep", type=Path, help="keep the hotline log, database and sipp files in this folder")
    args = parser.parse_args()
    settings = e2e_settings()
    sandbox = Sandbox(settings, echo=print)
    started_here = sandbox.running_pid() is None
    if started_here:
        sandbox.up()
    asterisk_pid = sandbox.running_pid()
    assert asterisk_pid is not None
    rows: list[Row] = []
    with contextlib.ExitStack() as stack:
        workdir = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hotline-bench-")))
        proc = start_hotline(settings_env(settings), workdir)
        try:
            proc.wait_ari(connected=True)
            target = SipTarget.from_settings(settings)
            for level in args.levels:
                rows.append(run_level(level, proc, asterisk_pid, target, workdir))
                print(format_table(rows[-1:]).splitlines()[-1], flush=True)
        finally:
            proc.stop()
            if started_here:
                sandbox.down()
    print(format_table(rows))


if __name__ == "__main__":
    main()
