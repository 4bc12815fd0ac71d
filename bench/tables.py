"""Printed tables for the benchmarks: a `Table` (title, columns, rows, notes) aligned by `format_table`, and a
`Report` (the tables in print order, plus facts that are no row) serialised for --json."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Cell = str | int | float | None


@dataclass(frozen=True)
class Column:
    header: str
    key: str  # the field name in --json output
    fmt: str = ""  # format spec for numbers, e.g. ".3f"


@dataclass
class Table:
    key: str
    title: str
    columns: tuple[Column, ...]
    rows: list[tuple[Cell, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Cell) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.key}: {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(cells)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "rows": [{c.key: _json_cell(v) for c, v in zip(self.columns, row, strict=True)} for row in self.rows],
            "notes": self.notes,
        }


def _json_cell(value: Cell) -> Cell:
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


def _cell_text(value: Cell, fmt: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return format(value, fmt)


def format_table(table: Table) -> str:
    """Plain aligned text: text columns left-aligned, numbers right-aligned, notes under the rows."""
    texts = [[_cell_text(v, c.fmt) for c, v in zip(table.columns, row, strict=True)] for row in table.rows]
    numeric = [
        all(not isinstance(row[i], str) for row in table.rows) if table.rows else False
        for i in range(len(table.columns))
    ]
    widths = [max([len(c.header), *(len(t[i]) for t in texts)]) for i, c in enumerate(table.columns)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [table.title, line([c.header for c in table.columns])]
    out += [line(t) for t in texts]
    out += [f"  {note}" for note in table.notes]
    return "\n".join(out)


@dataclass
class Report:
    """The tables in print order, and the facts that are no table row (sample set, summary ratios)."""

    meta: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def add(self, table: Table) -> Table:
        """One more section (e.g. turn latency through Asterisk), printed after the others."""
        self.tables[table.key] = table
        return table

    def table(self, key: str) -> Table:
        return self.tables[key]

    def as_text(self) -> str:
        head = [f"{k}: {v}" for k, v in self.meta.items()]
        return "\n\n".join(["\n".join(head), *(format_table(t) for t in self.tables.values() if t.rows)])

    def as_json(self) -> dict[str, Any]:
        return {
            **self.meta,
            "tables": {k: t.as_json() for k, t in self.tables.items() if t.rows},
            "summary": {k: _json_cell(v) if isinstance(v, float) else v for k, v in self.summary.items()},
        }


def report_json(report: Report) -> str:
    return json.dumps(report.as_json(), ensure_ascii=False)
