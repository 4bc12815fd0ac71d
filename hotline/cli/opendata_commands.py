"""`hotline opendata ...`: the calls' open data, one finished day as the public files publish it."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from hotline.domain import opendata as rules
from hotline.domain.report_days import parse_day_start
from hotline.services import opendata
from hotline.settings import get_settings
from hotline.storage.db import make_engine, upgrade_database

app = typer.Typer(no_args_is_help=True, help="Open data: the day's calls by topic, commune and outcome.")


class Format(StrEnum):
    CSV = "csv"
    JSON = "json"


@app.command("export")
def export(
    day: Annotated[str, typer.Option("--date", help="The finished reporting day, YYYY-MM-DD.")],
    fmt: Annotated[Format, typer.Option("--format", help="csv or json, as /opendata/ serves them.")] = Format.CSV,
    out: Annotated[Path | None, typer.Option("--out", help="Write to FILE instead of stdout.")] = None,
    base_url: Annotated[
        str, typer.Option("--base-url", help="The hotline's public address, put before the JSON's dictionary path.")
    ] = "",
) -> None:
    """One finished day's counts (small counts suppressed), exactly as the public file holds them."""
    settings = get_settings()
    day_start = parse_day_start(settings.day_start)
    try:
        published = rules.parse_day(day)
        rules.published_window(published, datetime.now(UTC), settings.timezone, day_start)
    except rules.DayNotPublishedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    url = settings.effective_database_url()
    upgrade_database(url)
    engine = make_engine(url)
    try:
        rows = opendata.daily_counts(engine, published, settings.timezone, day_start)
    finally:
        engine.dispose()
    if fmt is Format.CSV:
        text = opendata.to_csv(rows)
    else:
        dictionary_url = base_url.rstrip("/") + opendata.DICTIONARY_PATH
        text = opendata.to_json(rows, published, settings.timezone, day_start, dictionary_url)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8", newline="")
