"""The KPIs of a window (today, or any range), gathered from the database in a few aggregate queries.

The definitions are in hotline.domain.kpis. Durations are computed in SQL from epoch seconds
(SQLite's julianday, PostgreSQL's EXTRACT), so a day of 20,000 calls never comes back row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Integer, and_, case, func, literal, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

from hotline.domain.enums import CallOutcome, QueueEntryState
from hotline.domain.kpis import AgentTimes, Kpis, QueueTotals
from hotline.domain.report_days import Window
from hotline.storage.models import AgentStateChange, Call, QueueEntry

TRANSFER_REASON = "transfer"  # a transferred caller's second stay: the same call, not a new one offered
_UNIX_JULIAN_DAY = 2440587.5


class epoch_s(FunctionElement[float]):
    """Seconds since 1970 of a timestamp column, in either database."""

    type = Float()
    inherit_cache = True


@compiles(epoch_s, "sqlite")
def _epoch_sqlite(element: epoch_s, compiler: Any, **kw: Any) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - {_UNIX_JULIAN_DAY}) * 86400.0)"


@compiles(epoch_s, "postgresql")
def _epoch_postgres(element: epoch_s, compiler: Any, **kw: Any) -> str:
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


class floor_int(FunctionElement[int]):
    """The integer part of a non-negative number (SQLite's CAST truncates; PostgreSQL's rounds)."""

    type = Integer()
    inherit_cache = True


@compiles(floor_int, "sqlite")
def _floor_sqlite(element: floor_int, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"


@compiles(floor_int, "postgresql")
def _floor_postgres(element: floor_int, compiler: Any, **kw: Any) -> str:
    return f"CAST(FLOOR({compiler.process(element.clauses, **kw)}) AS INTEGER)"


@dataclass(frozen=True)
class KpiRules:
    target_s: float = 20.0  # service level: answered within this wait
    short_abandon_s: float = 5.0  # hung up within this wait: a short abandon
    timezone: str = "Europe/Paris"  # the hours of `by_hour` are local


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum_if(condition: ColumnElement[bool], value: ColumnElement[float]) -> ColumnElement[float]:
    return func.coalesce(func.sum(case((condition, value), else_=0.0)), 0.0)


def _queue_totals(conn: Any, window: Window, rules: KpiRules) -> QueueTotals:
    q = QueueEntry
    enq, answered_at, left_at = epoch_s(q.enqueued_at), epoch_s(q.answered_at), epoch_s(q.left_at)
    answered = col(q.answered_at).is_not(None)
    abandoned = col(q.state) == QueueEntryState.ABANDONED.value
    waited_before_leaving = left_at - enq
    handled = and_(answered, col(q.left_at).is_not(None), col(q.wrapped_up_at).is_not(None))
    row = conn.execute(
        select(
            _count_if(col(q.state).not_in([QueueEntryState.WAITING.value, QueueEntryState.OFFERED.value])),
            _count_if(col(q.state).in_([QueueEntryState.WAITING.value, QueueEntryState.OFFERED.value])),
            _count_if(answered),
            _count_if(and_(answered, answered_at - enq <= rules.target_s)),
            _sum_if(answered, answered_at - enq),
            _count_if(and_(abandoned, waited_before_leaving > rules.short_abandon_s)),
            _count_if(and_(abandoned, waited_before_leaving <= rules.short_abandon_s)),
            _sum_if(abandoned, waited_before_leaving),
            _count_if(col(q.state) == QueueEntryState.CALLBACK.value),
            _count_if(handled),
            _sum_if(handled, left_at - answered_at),
            _sum_if(handled, epoch_s(q.wrapped_up_at) - left_at),
        ).where(
            col(q.enqueued_at) >= window.start,
            col(q.enqueued_at) < window.end,
            or_(col(q.reason).is_(None), col(q.reason) != TRANSFER_REASON),
        )
    ).one()
    ints = [int(v) for v in row[:4]]
    return QueueTotals(
        queued=ints[0],
        waiting=ints[1],
        answered=ints[2],
        answered_within_target=ints[3],
        answered_wait_s=float(row[4]),
        abandoned=int(row[5]),
        short_abandons=int(row[6]),
        abandoned_wait_s=float(row[7]),
        callbacks=int(row[8]),
        handled=int(row[9]),
        talk_s=float(row[10]),
        wrap_up_s=float(row[11]),
    )


def _agent_times(conn: Any, window: Window, now: datetime) -> AgentTimes:
    """Seconds in each state, each change's state lasting until the agent's next change (or now)."""
    a = AgentStateChange
    agent_id, to_state, at, row_id = col(a.agent_id), col(a.to_state), col(a.at), col(a.id)
    until = min(now, window.end)
    if until <= window.start:
        return AgentTimes({})
    inside = (at >= window.start) & (at < until)
    changes = (
        select(
            agent_id,
            to_state,
            epoch_s(at).label("t"),
            func.lead(epoch_s(at)).over(partition_by=agent_id, order_by=[at, row_id]).label("next_t"),
        )
        .where(inside)
        .subquery()
    )
    end_s = until.timestamp()
    seconds: dict[str, float] = {}
    for state, total in conn.execute(
        select(changes.c.to_state, func.sum(func.coalesce(changes.c.next_t, literal(end_s)) - changes.c.t)).group_by(
            changes.c.to_state
        )
    ):
        seconds[str(state)] = float(total or 0.0)
    # Before its first change in the window, each agent was in the state its last earlier change set.
    first_inside = dict(conn.execute(select(agent_id, func.min(at)).where(inside).group_by(agent_id)).all())
    last_before = select(agent_id, func.max(at).label("at")).where(at < window.start).group_by(agent_id).subquery()
    for agent, state in conn.execute(
        select(agent_id, to_state).join(last_before, and_(agent_id == last_before.c.agent_id, at == last_before.c.at))
    ):
        first = first_inside.get(agent)
        stop = _aware(first) if first is not None else until
        seconds[str(state)] = seconds.get(str(state), 0.0) + (stop - window.start).total_seconds()
    return AgentTimes(seconds)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite gives back naive UTC


def _calls(conn: Any, window: Window, rules: KpiRules) -> dict[str, Any]:
    c = Call
    started = (col(c.started_at) >= window.start) & (col(c.started_at) < window.end)
    # One pass groups by outcome, topic and commune together (a few hundred groups); the sums come from it.
    by_outcome: dict[str, int] = {}
    by_topic: dict[str, int] = {}
    by_commune: dict[str, int] = {}
    in_progress = 0
    for outcome, topic, commune, n in conn.execute(
        select(col(c.outcome), col(c.topic), col(c.commune), func.count())
        .where(started)
        .group_by(col(c.outcome), col(c.topic), col(c.commune))
    ):
        if str(outcome) == CallOutcome.IN_PROGRESS.value:
            in_progress += int(n)
            continue
        by_outcome[str(outcome)] = by_outcome.get(str(outcome), 0) + int(n)
        by_topic[topic or ""] = by_topic.get(topic or "", 0) + int(n)
        if commune is not None:
            by_commune[commune] = by_commune.get(commune, 0) + int(n)
    # + 1 ms: SQLite's julianday is off by some µs, which would put a call at 08:00:00 in the hour before
    hour_index = floor_int((epoch_s(c.started_at) - window.start.timestamp() + 0.001) / 3600.0).label("h")
    per_hour = dict(conn.execute(select(hour_index, func.count()).where(started).group_by(hour_index)).all())
    zone = ZoneInfo(rules.timezone)
    hours = int((window.seconds + 3599) // 3600)
    by_hour = [((window.start + timedelta(hours=h)).astimezone(zone), int(per_hour.get(h, 0))) for h in range(hours)]
    return {
        "calls": sum(by_outcome.values()),
        "calls_in_progress": int(in_progress),
        "self_served": by_outcome.get(CallOutcome.SELF_SERVED.value, 0),
        "by_outcome": by_outcome,
        "by_topic": by_topic,
        "by_commune": by_commune,
        "by_hour": by_hour,
    }


def compute_kpis(engine: Engine, window: Window, rules: KpiRules, now: datetime | None = None) -> Kpis:
    """The KPIs of calls and queue stays that started in `window` (agents' time clipped to it and to now)."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        calls = _calls(conn, window, rules)
        queue = _queue_totals(conn, window, rules)
        agent_times = _agent_times(conn, window, now)
    return Kpis(
        start=window.start,
        end=window.end,
        target_s=rules.target_s,
        short_abandon_s=rules.short_abandon_s,
        queue=queue,
        agent_times=agent_times,
        **calls,
    )
