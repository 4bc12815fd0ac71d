"""Many callers at once, for benchmarks: one sipp process with -l (concurrent), -m (total) and -r (rate).

    result = run_load([Silence(1000), Audio(question)], calls=480, concurrent=200, rate=20, hold_ms=8600)
    print(result.successful, result.failed, result.percentile(50), result.percentile(99))

The figures come from sipp's own files: the statistics CSV (-trace_stat, last row: cumulative counts) and the
response-time CSV (-trace_rtt with -rtt_freq 1: one row per call, INVITE to 200 OK). Every caller sends the
same RTP (the steps); the From user may contain sipp's [call_number] so each call has its own caller id.
"""

from __future__ import annotations

import csv
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hotline.settings import Settings
from tests.e2e.sip.pcap import Step, write_caller_pcap
from tests.e2e.sip.ports import MEDIA_BLOCK, release_block, reserve_block
from tests.e2e.sip.sipp import SipTarget, render_scenario, sipp_binary, stop_process

DEFAULT_FROM_USER = "06[call_number]"
ANSWER_TIMEOUT_MS = 30_000
PROCESS_GRACE_S = 30.0
STATS_PERIOD_S = 1  # sipp writes a statistics row every second


@dataclass(frozen=True)
class LoadResult:
    calls: int  # asked for
    created: int
    successful: int
    failed: int
    response_times_ms: list[float]  # per successful call: INVITE sent → 200 OK received
    sipp_exit_code: int
    elapsed_s: float
    workdir: Path

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile of the response times (None without any)."""
        if not self.response_times_ms:
            return None
        ordered = sorted(self.response_times_ms)
        rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1]


def _last_stats_row(path: Path) -> dict[str, str]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    return rows[-1] if rows else {}


def read_stats(path: Path) -> tuple[int, int, int]:
    """(created, successful, failed) from a sipp -trace_stat CSV (cumulative columns of its last row)."""
    if not path.exists():
        return 0, 0, 0
    row = _last_stats_row(path)

    def value(name: str) -> int:
        return int(float(row.get(name, "0") or 0))

    return value("TotalCallCreated"), value("SuccessfulCall(C)"), value("FailedCall(C)")


def read_response_times(folder: Path) -> list[float]:
    """Per-call response times (ms) from sipp's *_rtt.csv files (columns Date_ms;response_time_ms;rtd_no)."""
    times: list[float] = []
    for path in sorted(folder.glob("*_rtt.csv")):
        with path.open(newline="") as f:
            times += [float(row["response_time_ms"]) for row in csv.DictReader(f, delimiter=";") if row]
    return times


def run_load(
    steps: Sequence[Step],
    *,
    calls: int,
    concurrent: int,
    rate: float,
    rate_period_ms: int = 1000,
    hold_ms: int | None = None,
    from_user: str = DEFAULT_FROM_USER,
    target: SipTarget | None = None,
    timeout: float = 600.0,
    workdir: Path | None = None,
) -> LoadResult:
    """Place `calls` calls, at most `concurrent` at once, `rate` new calls per `rate_period_ms`."""
    target = target or SipTarget.from_settings(Settings())
    workdir = workdir or Path(tempfile.mkdtemp(prefix="hotline-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    pcap = write_caller_pcap(steps, workdir / "caller.pcap")
    hold = hold_ms if hold_ms is not None else pcap.duration_ms + 1000
    scenario = render_scenario(
        "uac_hotline.xml.in",
        workdir / "uac_load.xml",
        {
            "PCAP": str(pcap.path),
            "HOLD_MS": str(hold),
            "FROM_USER": from_user,
            "ANSWER_TIMEOUT_MS": str(ANSWER_TIMEOUT_MS),
        },
    )
    stats = workdir / "stats.csv"
    sip_port = reserve_block(1, align=1)
    media_port = reserve_block(MEDIA_BLOCK)
    command = [
        sipp_binary(), target.address, "-sf", str(scenario), "-s", target.number,
        "-i", "127.0.0.1", "-p", str(sip_port), "-mi", "127.0.0.1", "-mp", str(media_port),
        "-m", str(calls), "-l", str(concurrent), "-r", f"{rate:g}", "-rp", f"{rate_period_ms}ms",
        "-nostdin", "-timeout", f"{timeout:.0f}s",
        "-trace_stat", "-stf", str(stats), "-fd", str(STATS_PERIOD_S),
        "-trace_rtt", "-rtt_freq", "1",
        "-trace_err", "-error_file", str(workdir / "sipp-errors.log"),
        "-max_socket", str(max(1024, concurrent * 4)),
    ]  # fmt: skip
    started = time.monotonic()
    process: subprocess.Popen[bytes] | None = None
    try:
        with (workdir / "sipp.out").open("wb") as out:
            process = subprocess.Popen(command, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        try:
            code = process.wait(timeout + PROCESS_GRACE_S)
        except subprocess.TimeoutExpired:
            code = -9
    finally:
        if process is not None:
            stop_process(process)
        release_block(sip_port, 1)
        release_block(media_port, MEDIA_BLOCK)
    elapsed = time.monotonic() - started
    created, successful, failed = read_stats(stats)
    return LoadResult(
        calls=calls,
        created=created,
        successful=successful,
        failed=failed,
        response_times_ms=read_response_times(workdir),
        sipp_exit_code=code,
        elapsed_s=elapsed,
        workdir=workdir,
    )
