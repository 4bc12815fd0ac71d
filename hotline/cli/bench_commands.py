"""`hotline bench ...`: benchmarks that print tables (figures, not pass/fail)."""

from __future__ import annotations

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
    typer.echo(benchmark.format_table(benchmark.measure(kb, queries), len(queries)))
