"""`hotline erlang --calls N --period-s S --aht-s A (--agents K | --sl-goal G) [--target-s T] [--patience-s P]
[--json]`: staffing advice by Erlang C, and by Erlang A when the callers' mean patience is given.

With --agents, the figures for that many agents; with --sl-goal, the fewest agents whose Erlang C service level
reaches the goal (the cautious answer: nobody hangs up). --patience-s adds the same agents' Erlang A figures.
"""

from __future__ import annotations

import json
import math
from typing import Annotated

import typer

from hotline.domain.erlang import Staffing, StaffingWithAbandons, agents_for_goal, erlang_a, staffing


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def erlang(
    calls: Annotated[float, typer.Option("--calls", help="Calls offered in the period.")],
    period_s: Annotated[float, typer.Option("--period-s", help="The period's length in seconds (3600: an hour).")],
    aht_s: Annotated[float, typer.Option("--aht-s", help="Average handle time in seconds (talk and wrap-up).")],
    agents: Annotated[
        int | None, typer.Option("--agents", help="Agents answering; without it, --sl-goal sizes them.")
    ] = None,
    target_s: Annotated[float, typer.Option("--target-s", help="Service-level target: answered within T s.")] = 20.0,
    sl_goal: Annotated[
        float | None, typer.Option("--sl-goal", help="Service level to reach, e.g. 0.8: the fewest agents for it.")
    ] = None,
    patience_s: Annotated[
        float | None, typer.Option("--patience-s", help="Callers' mean patience in seconds: adds Erlang A.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (ASA null when unstable).")] = False,
) -> None:
    """Staffing advice: waits, service level, ASA and occupancy by Erlang C (and Erlang A with --patience-s)."""
    if agents is not None and sl_goal is not None:
        raise _fail("give --agents or --sl-goal, not both")
    try:
        if agents is not None:
            result = staffing(calls, period_s, aht_s, agents, target_s)
        elif sl_goal is not None:
            result = agents_for_goal(calls, period_s, aht_s, target_s, sl_goal)
        else:
            raise _fail("give --agents K (the figures for K agents) or --sl-goal G (the fewest agents reaching G)")
        with_abandons = (
            None if patience_s is None else erlang_a(calls, period_s, aht_s, result.agents, patience_s, target_s)
        )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps(_as_json(result, with_abandons)))
    else:
        typer.echo(_as_table(calls, period_s, aht_s, target_s, result, with_abandons))


def _as_json(result: Staffing, with_abandons: StaffingWithAbandons | None) -> dict[str, object]:
    answer: dict[str, object] = {
        "traffic_erlangs": result.traffic_erlangs,
        "agents": result.agents,
        "p_wait": result.p_wait,
        "service_level": result.service_level,
        "asa_s": None if math.isinf(result.asa_s) else result.asa_s,  # JSON has no infinity
        "occupancy": result.occupancy,
    }
    if with_abandons is not None:
        answer["erlang_a"] = {
            "p_wait": with_abandons.p_wait,
            "p_abandon": with_abandons.p_abandon,
            "service_level": with_abandons.service_level,
            "asa_s": with_abandons.asa_s,
            "occupancy": with_abandons.occupancy,
        }
    return answer


def _as_table(
    calls: float,
    period_s: float,
    aht_s: float,
    target_s: float,
    result: Staffing,
    with_abandons: StaffingWithAbandons | None,
) -> str:
    unstable = math.isinf(result.asa_s)
    asa = "never (unstable)" if unstable else f"{result.asa_s:.1f} s"
    rows: list[tuple[str, ...]] = [
        ("waits", _percent(result.p_wait)),
        ("abandons", "-"),
        (f"answered within {target_s:g} s", _percent(result.service_level)),
        ("average speed of answer", asa),
        ("occupancy", _percent(result.occupancy)),
    ]
    header: tuple[str, ...] = ("", "Erlang C")
    if with_abandons is None:
        rows = [row for row in rows if row[0] != "abandons"]
    else:
        header = ("", "Erlang C", f"Erlang A (patience {with_abandons.patience_s:g} s)")
        extra = [
            _percent(with_abandons.p_wait),
            _percent(with_abandons.p_abandon),
            _percent(with_abandons.service_level),
            f"{with_abandons.asa_s:.1f} s",
            _percent(with_abandons.occupancy),
        ]
        rows = [(*row, value) for row, value in zip(rows, extra, strict=True)]
    lines = [
        f"{calls:g} calls in {period_s:g} s, handle time {aht_s:g} s: {result.traffic_erlangs:.2f} erlangs, "
        f"{result.agents} agents",
    ]
    if unstable:
        lines.append("with no more agents than erlangs the queue grows without end (Erlang C)")
    width = max(len(row[0]) for row in rows) + 2
    column = max(len(cell) for row in (header, *rows) for cell in row[1:2]) + 3
    lines.append(_table_line(header, width, column))
    lines.extend(_table_line(row, width, column) for row in rows)
    return "\n".join(lines)


def _table_line(cells: tuple[str, ...], width: int, column: int) -> str:
    first, *values = cells
    return (first.ljust(width) + "".join(value.ljust(column) for value in values)).rstrip()


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.1f} %"
