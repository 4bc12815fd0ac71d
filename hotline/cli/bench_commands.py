"""`hotline bench ...`: benchmarks that print tables (figures, not pass/fail)."""

from __future__ import annotations

import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from hotline.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Benchmarks.")


@app.command("kb")
def bench_kb() -> None:
    """Match latency p50/p99 and memory for 100, 1,000 and 10,000 variants."""
    from kb import benchmark, evaluation
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
            help="Turn latency through the real Asterisk at 1 and at this many concurrent calls (0: skip; needs "
            "root and a source checkout).",
        ),
    ] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the tables.")] = False,
) -> None:
    """Speech engines: WER, real-time factor (raw Vosk, the call pipeline, whisper), streams per core, ready
    times, memory, and turn latency through the real Asterisk."""
    from ivr.speech import benchmark
    from ivr.speech.audio import AudioFileError
    from ivr.speech.models import ModelMissing

    engines = benchmark.ENGINES if engine is AsrEngine.both else (engine.value,)
    folder = samples if samples is not None else benchmark.default_samples_dir()
    try:
        report = benchmark.run_benchmark(
            get_settings(),
            engines,
            folder,
            streams if streams is not None else benchmark.cores(),
            log=lambda msg: typer.echo(msg, err=True),
            rtf_audio_s=rtf_audio if rtf_audio is not None else benchmark.VOSK_RTF_AUDIO_S,
        )
        if calls > 0:
            report.add(benchmark.turn_latency_table(engines, calls, log=lambda msg: typer.echo(msg, err=True)))
    except (ModelMissing, FileNotFoundError, AudioFileError, benchmark.SamplesError) as exc:
        typer.echo(f"bench asr: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(benchmark.report_json(report) if as_json else report.as_text())
