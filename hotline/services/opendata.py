"""The calls' open data: one reporting day's finished calls counted by topic, commune and outcome, in SQL, with
the small counts suppressed (hotline.domain.opendata), written as CSV or JSON.

Only the four grouping values and the count leave the database: no number, transcript, time, agent or id.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from hotline.domain.enums import CallOutcome
from hotline.domain.opendata import (
    DATASET,
    PUBLISHED_OUTCOMES,
    SUPPRESSION_THRESHOLD,
    UNKNOWN_COMMUNE,
    UNKNOWN_TOPIC,
    outcome_label,
    published_count,
    topic_label,
)
from hotline.domain.opendata_dictionary import DICTIONARY
from hotline.domain.report_days import Window, day_window
from hotline.storage.models import Call

COLUMNS = ("date", "topic", "topic_label", "commune", "outcome", "outcome_label", "calls", "suppressed")
DICTIONARY_PATH = "/opendata/dictionnaire.json"


@dataclass(frozen=True)
class CountRow:
    """One published cell: the day's finished calls of one topic, commune and outcome (None: suppressed)."""

    date: date
    topic: str
    commune: str
    outcome: CallOutcome
    calls: int | None

    @property
    def suppressed(self) -> bool:
        return self.calls is None

    def as_dict(self) -> dict[str, Any]:
        """The row with the published columns, in their order."""
        return {
            "date": self.date.isoformat(),
            "topic": self.topic,
            "topic_label": topic_label(self.topic),
            "commune": self.commune,
            "outcome": self.outcome.value,
            "outcome_label": outcome_label(self.outcome),
            "calls": self.calls,
            "suppressed": self.suppressed,
        }


def _or_placeholder(column: Any, placeholder: str) -> Any:
    # A literal (no bound parameter), so that GROUP BY repeats the very expression PostgreSQL saw in SELECT.
    return func.coalesce(func.nullif(column, literal_column("''")), literal_column(f"'{placeholder}'"))


def counts_in(engine: Engine, window: Window) -> list[tuple[str, str, CallOutcome, int]]:
    """(topic, commune, outcome, calls) of the finished calls that started in `window`, grouped in SQL."""
    topic = _or_placeholder(Call.topic, UNKNOWN_TOPIC)
    commune = _or_placeholder(Call.commune, UNKNOWN_COMMUNE)
    query = (
        select(topic, commune, col(Call.outcome), func.count())
        .where(col(Call.started_at) >= window.start, col(Call.started_at) < window.end)
        .where(col(Call.outcome).in_(PUBLISHED_OUTCOMES))
        .group_by(topic, commune, col(Call.outcome))
    )
    with Session(engine) as session:
        return [(str(t), str(c), CallOutcome(o), int(n)) for t, c, o, n in session.execute(query)]


def daily_counts(engine: Engine, day: date, tz: str, day_start: time) -> list[CountRow]:
    """The published rows of reporting day `day`: counts under the threshold suppressed, sorted by topic,
    commune and outcome codes (code-point order, the same on every database)."""
    grouped = counts_in(engine, day_window(day, tz, day_start))
    rows = [CountRow(day, t, c, o, published_count(n)) for t, c, o, n in grouped]
    return sorted(rows, key=lambda r: (r.topic, r.commune, r.outcome.value))


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(rows: list[CountRow]) -> str:
    """UTF-8 text, comma-separated, `\\n` line ends, a header row; a suppressed count is an empty field."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        shown = row.as_dict()
        writer.writerow([_csv_value(shown[name]) for name in COLUMNS])
    return out.getvalue()


def to_json(rows: list[CountRow], day: date, tz: str, day_start: time, dictionary_url: str = DICTIONARY_PATH) -> str:
    """The day's document: {dataset, date, timezone, day_start, suppression_threshold, rows, dictionary}."""
    document = {
        "dataset": DATASET,
        "date": day.isoformat(),
        "timezone": tz,
        "day_start": f"{day_start:%H:%M}",
        "suppression_threshold": SUPPRESSION_THRESHOLD,
        "rows": [row.as_dict() for row in rows],
        "dictionary": dictionary_url,
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def file_name(day: date, fmt: str) -> str:
    """appels-YYYY-MM-DD.csv or .json."""
    return f"appels-{day.isoformat()}.{fmt}"


def dictionary_document(tz: str, day_start: time) -> dict[str, Any]:
    """The data dictionary, with the time zone and day start this hotline counts its days in."""
    return {**DICTIONARY, "timezone": tz, "day_start": f"{day_start:%H:%M}"}


def dictionary_json(tz: str, day_start: time) -> str:
    return json.dumps(dictionary_document(tz, day_start), ensure_ascii=False, indent=2) + "\n"
