"""`hotline bench ...`: benchmarks that print tables (figures, not pass/fail).

The benchmarks are the source checkout's dev-only `bench/` package, imported here lazily: an installed product
without the checkout says so and exits 2.
"""

from __future__ import annotations

import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from hotline.settings import PACKAGE_ROOT, get_settings

app = typer.Typer(no_args_is_help=True, help="Benchmarks.")

BENCH_PACKAGE = "bench"
NO_BENCH = (
    "hotline bench: no bench/ package next to {root}. The benchmarks are dev-only and live in the source "
    "checkout: run hotline from a checkout (pip install -e . there)."
)


def _checkout_on_path() -> None:
    """The `hotline` script's sys.path holds the installed packages only; bench/ sits next to them in a checkout."""
    if (PACKAGE_ROOT / BENCH_PACKAGE / "__init__.py").is_file() and str(PACKAGE_ROOT) not in sys.path:
        sys.path.append(str(PACKAGE_ROOT))


def _no_bench(exc: ModuleNotFoundError) -> NoReturn:
    """Exit 2 with the reason when bench/ is missing; any other missing module is a real error."""
    if (exc.name or "").split(".")[0] != BENCH_PACKAGE:
        raise exc
    typer.echo(NO_BENCH.format(root=PACKAGE_ROOT), err=True)
    raise typer.Exit(2) from exc


@app.command("kb")
def bench_kb() -> None:
    """Match latency p50/p99 and memory for 100, 1,000 and 10,000 variants."""
    _checkout_on_path()
    try:
        from bench import bench_kb as benchmark
    except ModuleNotFoundError as exc:
        _no_bench(exc)
    from kb import evaluation
    from kb.loader import load_kb

    kb = load_kb(get_settings().kb_path)
    queries = [u.text for u in evaluation.load_utterances()]
    embedder, model_mb = benchmark.model_memory_mb()
    typer.echo(f"sentence encoder ({embedder.name}) loaded: +{model_mb:.0f} MB RSS")
    typer.echo(benchmark.format_table(benchmark.measure(kb, queries, embedder), len(queries)))
    with tempfile.TemporaryDirectory() as cache:
        cold = benchmark.time_cli_contract(queries[:200], cache)
        warm = benchmark.time_cli_contract(queries[:200], cache)
    typer.echo(
        f"hotline kb match --json - with 200 lines, model loading included: {cold:.1f} s with an empty "
        f"embedding cache, {warm:.1f} s with it filled (contract: under 10 s)"
    )


@app.command("queue")
def bench_queue(
    callers: Annotated[int, typer.Option("--callers", min=1, help="Callers waiting in the queue.")] = 200,
    agents: Annotated[int, typer.Option("--agents", min=1, help="Agent phones answering.")] = 20,
    keep: Annotated[Path | None, typer.Option("--keep", help="Keep the log, database and sipp files here.")] = None,
) -> None:
    """The queue under load (root: the Asterisk sandbox): ring time from an agent being available, callers lost,
    CPU of the app against Asterisk's."""
    _checkout_on_path()
    try:
        from bench import bench_queue as benchmark
    except ModuleNotFoundError as exc:
        _no_bench(exc)
    typer.echo(benchmark.format_table(benchmark.measure(callers, agents, keep)))


@app.command("console")
def bench_console(
    consoles: Annotated[int, typer.Option("--consoles", min=1, help="SSE clients on /api/events.")] = 50,
    callers: Annotated[int, typer.Option("--callers", min=1, help="Callers joining the queue.")] = 100,
) -> None:
    """The consoles' event stream under load (root: the Asterisk sandbox): delay from a caller joining the queue
    to the event at every console, and the app's CPU."""
    _checkout_on_path()
    try:
        from bench import bench_console as benchmark
    except ModuleNotFoundError as exc:
        _no_bench(exc)
    typer.echo(benchmark.format_table(benchmark.measure(consoles, callers)))


@app.command("supervision")
def bench_supervision(
    calls: Annotated[int, typer.Option("--calls", min=1, help="Calls a day (today and the 6 days before).")] = 20_000,
    databases: Annotated[str, typer.Option("--databases", help="sqlite, postgresql, or both.")] = "sqlite,postgresql",
) -> None:
    """The supervisor's figures at scale: today's KPIs, the wallboard snapshot and a /metrics scrape over a
    seeded week (PostgreSQL: a scratch database on HOTLINE_TEST_POSTGRES_URL, dropped after)."""
    _checkout_on_path()
    try:
        from bench import bench_supervision as benchmark
        from bench.tables import format_table
    except ModuleNotFoundError as exc:
        _no_bench(exc)
    typer.echo(format_table(benchmark.measure(calls, tuple(d.strip() for d in databases.split(",")))))


@app.command("wallboard")
def bench_wallboard(
    callers: Annotated[int, typer.Option("--callers", min=1, help="Callers joining the queue.")] = 100,
) -> None:
    """The wallboard in chromium under load (root: the Asterisk sandbox): from each event to the board drawn
    with it, and the app's CPU."""
    _checkout_on_path()
    try:
        from bench import bench_wallboard as benchmark
    except ModuleNotFoundError as exc:
        _no_bench(exc)
    typer.echo(benchmark.format_table(benchmark.measure(callers)))


class AsrEngine(StrEnum):
    vosk = "vosk"
    whisper = "whisper"
    both = "both"


@app.command("asr")
def bench_asr(
    engine: Annotated[AsrEngine, typer.Option("--engine", help="Which engine to measure.")] = AsrEngine.both,
    samples: Annotated[
        Path | None,
        typer.Option(
            "--samples",
            help="Folder with manifest.yaml or transcripts.txt (default: recordings_samples/ if it has a "
            "manifest, else tests/data/speech).",
        ),
    ] = None,
    streams: Annotated[
        int | None, typer.Option("--streams", min=1, help="Most concurrent Vosk streams (default: one per core).")
    ] = None,
    rtf_audio: Annotated[
        float | None,
        typer.Option("--rtf-audio", min=1.0, help="Seconds of the samples for the Vosk RTF and streams runs (20)."),
    ] = None,
    calls: Annotated[
        int,
        typer.Option(
            "--calls",
            min=0,
            help="Turn latency through the real Asterisk at 1 and at this many concurrent calls (0: skip; needs root).",
        ),
    ] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the tables.")] = False,
) -> None:
    """Speech engines: WER, real-time factor (raw Vosk, the call pipeline, whisper), streams per core, ready
    times, memory, and turn latency through the real Asterisk."""
    _checkout_on_path()
    try:
        from bench import bench_asr
        from bench.measure import cores
        from bench.speech_samples import SamplesError, default_samples_dir
        from bench.tables import report_json
    except ModuleNotFoundError as exc:
        _no_bench(exc)
    from ivr.speech.audio import AudioFileError
    from ivr.speech.models import ModelMissing

    engines = bench_asr.ENGINES if engine is AsrEngine.both else (engine.value,)
    folder = samples if samples is not None else default_samples_dir()
    try:
        report = bench_asr.run_benchmark(
            get_settings(),
            engines,
            folder,
            streams if streams is not None else cores(),
            log=lambda msg: typer.echo(msg, err=True),
            rtf_audio_s=rtf_audio if rtf_audio is not None else bench_asr.VOSK_RTF_AUDIO_S,
        )
        if calls > 0:
            from bench.bench_turns import turn_latency_table  # the SIP test harness: only when calls are placed

            report.add(turn_latency_table(engines, calls, log=lambda msg: typer.echo(msg, err=True)))
    except (ModelMissing, FileNotFoundError, AudioFileError, SamplesError) as exc:
        typer.echo(f"bench asr: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(report_json(report) if as_json else report.as_text())


class VoiceEngine(StrEnum):
    pico = "pico"
    espeak = "espeak"
    both = "both"


@app.command("voice")
def bench_voice(
    engine: Annotated[VoiceEngine, typer.Option("--engine", help="Which TTS engine to measure.")] = VoiceEngine.both,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the table.")] = False,
) -> None:
    """The synthetic voice: render time, audio and whisper-base's WER on the rendered 8 kHz audio, for the prompt
    catalogue and every knowledge-base answer."""
    _checkout_on_path()
    try:
        from bench import bench_voice
        from bench.tables import report_json
    except ModuleNotFoundError as exc:
        _no_bench(exc)
    from kb.loader import load_kb

    settings = get_settings()
    kb = load_kb(settings.kb_path)
    groups = {"catalogue": bench_voice.catalogue_texts(), "answers": bench_voice.answer_texts(kb)}
    engines = bench_voice.ENGINES if engine is VoiceEngine.both else (engine.value,)
    results = bench_voice.measure(settings, groups, engines, log=lambda msg: typer.echo(msg, err=True))
    report = bench_voice.report(results)
    rendered = dict.fromkeys(r.engine for r in results)  # the engines that could render here, in order
    report.add(bench_voice.warm_up_table([bench_voice.warm_up(n, kb, settings.kb_path) for n in rendered]))
    typer.echo(report_json(report) if as_json else report.as_text())
