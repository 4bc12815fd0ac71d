"""`kill -9` of `hotline serve` during live calls, restarted a few seconds later: no call is lost.

The callers still on the line hear the hotline again (an apology, then the menu) within 2 s of the new
process connecting to ARI; the calls whose caller hung up while no app was there are closed; every call ends
with a ticket. What Asterisk 22 does meanwhile is written in ivr/runtime/adoption.py.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hotline.domain.enums import CallOutcome
from tests.e2e.conftest import AsteriskSandbox
from tests.e2e.hotline_proc import HotlineProcess, start_hotline
from tests.e2e.prompt_audio import prompt_audio
from tests.e2e.sip.audio import SAMPLE_RATE, find_pieces_in
from tests.e2e.sip.caller import place_call
from tests.e2e.sip.capture import udp_packets
from tests.e2e.sip.pcap import Silence
from tests.e2e.test_calls import calls_of, events_of, ticket_of, wait_call_closed

pytestmark = pytest.mark.e2e

KILL_AFTER_S = 8.0  # into the call: the menu is playing
RESTART_AFTER_S = 3.0
HEARD_WITHIN_S = 2.0  # of ARI being connected again
STAYS_MS = 22_000  # a caller who waits for the hotline to come back
LEAVES_MS = 9_500  # a caller who hangs up while the app is down
SAME_AUDIO = 0.9  # correlation of the very prompt file, through G.711
INTACT_SHARE = 0.75  # of the apology's half-second pieces (any one): a restart loads both cores, Asterisk may stall
ROWS_TIMEOUT_S = 15.0


def _wait_rows(proc: HotlineProcess, callers: list[str]) -> float:
    """Until every caller's call has its row; returns the latest answer time (epoch seconds)."""
    deadline = time.monotonic() + ROWS_TIMEOUT_S
    while True:
        rows = [calls_of(proc, caller) for caller in callers]
        if all(r and r[0].answered_at is not None for r in rows):
            return max(r[0].answered_at.timestamp() for r in rows if r[0].answered_at is not None)
        assert time.monotonic() < deadline, f"calls not answered: {rows}\n{proc.log_tail()}"
        time.sleep(0.1)


@pytest.mark.parametrize("stay, leave", [(1, 0), (7, 3)], ids=["one-call", "ten-calls"])
def test_kill_during_live_calls_and_restart(asterisk: AsteriskSandbox, tmp_path: Path, stay: int, leave: int) -> None:
    staying = [f"06440000{i:02d}" for i in range(stay)]
    leaving = [f"06450000{i:02d}" for i in range(leave)]
    first = start_hotline(asterisk.env, tmp_path / "first")
    second: HotlineProcess | None = None
    apology = prompt_audio(asterisk, "call_resumed")
    try:
        first.wait_ari(connected=True)
        with ThreadPoolExecutor(stay + leave) as pool:
            futures = {
                caller: pool.submit(
                    place_call,
                    [Silence(1000)],
                    from_user=caller,
                    hold_ms=STAYS_MS if caller in staying else LEAVES_MS,
                    target=asterisk.target,
                )
                for caller in staying + leaving
            }
            answered = _wait_rows(first, staying + leaving)
            time.sleep(max(0.0, answered + KILL_AFTER_S - time.time()))
            first.process.kill()  # SIGKILL to the PID this test started
            first.process.wait()
            killed = time.time()
            time.sleep(RESTART_AFTER_S)
            second = start_hotline(
                asterisk.env,
                tmp_path / "second",
                HOTLINE_DATABASE_URL=first.database_url,
                XDG_CACHE_HOME=str(tmp_path / "first" / "cache"),  # the prompts the first run made
            )
            second.wait_ari(connected=True)
            connected = time.time()
            results = {caller: future.result() for caller, future in futures.items()}
        for caller in staying:
            result = results[caller]
            assert result.answered and result.hung_up_by == "caller", result.describe()
            arrivals = [t for t, _, port, _ in udp_packets(result.capture.read_bytes()) if port == result.media_port]
            start = min(arrivals)
            heard = result.samples
            skip = int((killed - start) * SAMPLE_RATE)
            offset, matches = find_pieces_in(heard[skip:], apology)
            heard_at = start + skip / SAMPLE_RATE + offset
            intact = sum(m > SAME_AUDIO for m in matches) / len(matches)
            shown = " ".join(f"{m:.2f}" for m in matches)
            print(f"{caller}: the apology heard {heard_at - connected:.2f} s after ARI connected again ({shown})")
            assert max(matches[:2]) > SAME_AUDIO and intact >= INTACT_SHARE, (
                f"{caller}: no apology heard (pieces {shown}); {result.describe()}"
            )
            assert heard_at - connected < HEARD_WITHIN_S, (caller, heard_at - connected, second.log_tail())
        for caller in staying + leaving:
            [row] = wait_call_closed(first, caller)  # the database both runs share
            kinds = [e.kind for e in events_of(first, row.id)]
            assert row.outcome is CallOutcome.ABANDONED, (caller, kinds)
            assert ticket_of(first, row.id).outcome is CallOutcome.ABANDONED, caller
            if caller in staying:
                assert "call_resumed" in kinds and kinds.count("stasis_start") == 1, (caller, kinds)
            else:
                assert kinds[-2:] == ["closed_after_restart", "hangup"], (caller, kinds)
                assert row.ended_at is not None and row.ended_at.timestamp() < killed + 1, caller
        assert asterisk.wait_no_channels() == []
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.stop()
