"""`hotline bench ...`: benchmarks that print tables (figures, not pass/fail)."""

from __future__ import annotations

import tempfile

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
