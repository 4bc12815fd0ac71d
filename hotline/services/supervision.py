"""What a supervisor watches: the live state, today's KPIs, the staffing advice, the calls per minute and the
topics surging, in one snapshot (the wallboard, `GET /api/wallboard` and the `/metrics` gauges share it).

A snapshot costs a few aggregate queries; it is kept until the next event or SNAPSHOT_TTL_S, so a room of
wallboards fetching it after an event and a scrape every few seconds cost one.
"""

from __future__ import annotations

import threading
import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from hotline.bus import EventBus
from hotline.domain import erlang
from hotline.domain.enums import AgentState, CallbackState, CallOutcome, QueueEntryState
from hotline.domain.kpis import Kpis
from hotline.domain.report_days import Window, today_window
from hotline.domain.trends import Key, Surge, SurgeRule, surges
from hotline.services.kpis import TRANSFER_REASON, KpiRules, compute_kpis, epoch_s, floor_int
from hotline.storage.models import Agent, AgentStateChange, Call, Callback, QueueEntry

SNAPSHOT_TTL_S = 1.0  # a snapshot is reused this long, and never after an event (`changed`)
STAFFING_WINDOW_S = 30 * 60.0  # the staffing advice works on the arrival rate and AHT of the last 30 minutes
CHART_HOURS = 3  # the calls-per-minute chart
STALE_CALL_H = 12  # a call still "in progress" after this long was left by a crash, not in the IVR now
BASELINE_TTL_S = 60.0  # the surge baseline (the week before) changes slowly: read it once a minute
ACTIVE_QUEUE_STATES = (QueueEntryState.WAITING.value, QueueEntryState.OFFERED.value)
CRISIS_NONE: dict[str, Any] = {"active": False, "message": None}


@dataclass(frozen=True)
class SupervisionRules:
    kpi: KpiRules = field(default_factory=KpiRules)
    day_start: time = time(0, 0)
    sl_goal: float = 0.8
    surge: SurgeRule = field(default_factory=SurgeRule)


@dataclass(frozen=True)
class AgentRow:
    id: int
    login: str
    name: str
    state: str
    since: datetime
    reason: str | None  # the pause reason


@dataclass(frozen=True)
class Live:
    calls_in_ivr: int
    waiting: int
    oldest_wait_s: float | None
    oldest_since: datetime | None
    agents: list[AgentRow]
    callbacks_pending: int

    def agents_in(self, state: str) -> int:
        return sum(1 for a in self.agents if a.state == state)

    @property
    def logged_in(self) -> int:
        return sum(1 for a in self.agents if a.state != AgentState.OFFLINE.value)


@dataclass(frozen=True)
class StaffingAdvice:
    """Erlang C (and A, with today's patience) at the last 30 minutes' arrivals and AHT."""

    arrivals: int
    period_s: float
    aht_s: float | None
    logged_in: int
    erlang_c: erlang.Staffing | None  # None: no call, or no handle time measured yet
    erlang_a: erlang.StaffingWithAbandons | None  # None: nobody gave up yet (no patience measured)

    @property
    def agents_needed(self) -> int | None:
        if self.arrivals == 0:
            return 0
        return self.erlang_c.agents if self.erlang_c else None


@dataclass(frozen=True)
class Wallboard:
    at: datetime
    live: Live
    today: Kpis
    sl_goal: float
    staffing: StaffingAdvice
    per_minute: list[tuple[datetime, dict[str, int]]]  # local minute -> ended calls by outcome
    surges: list[Surge]
    surge_rule: str
    timezone: str = "Europe/Paris"
    crisis: dict[str, Any] = field(default_factory=lambda: dict(CRISIS_NONE))

    def as_dict(self) -> dict[str, Any]:
        s = self.staffing
        return {
            "at": self.at.isoformat(),
            "timezone": self.timezone,
            "live": {
                "calls_in_ivr": self.live.calls_in_ivr,
                "waiting": self.live.waiting,
                "oldest_wait_s": self.live.oldest_wait_s,
                "oldest_since": self.live.oldest_since.isoformat() if self.live.oldest_since else None,
                "agents_logged_in": self.live.logged_in,
                "agents_by_state": {st.value: self.live.agents_in(st.value) for st in AgentState},
                "callbacks_pending": self.live.callbacks_pending,
            },
            "agents": [
                {
                    "id": a.id,
                    "login": a.login,
                    "name": a.name,
                    "state": a.state,
                    "since": a.since.isoformat(),
                    "reason": a.reason,
                }
                for a in self.live.agents
            ],
            "today": self.today.as_dict(),
            "sl_goal": self.sl_goal,
            "staffing": {
                "arrivals": s.arrivals,
                "period_s": s.period_s,
                "aht_s": s.aht_s,
                "agents_needed": s.agents_needed,
                "agents_logged_in": s.logged_in,
                "erlang_c": _staffing_dict(s.erlang_c),
                "erlang_a": _staffing_dict(s.erlang_a),
            },
            "per_minute": [{"minute": m.isoformat(), **counts} for m, counts in self.per_minute],
            "surges": [
                {
                    "topic": g.topic,
                    "commune": g.commune,
                    "recent_calls": g.recent_calls,
                    "recent_per_h": round(g.recent_per_h, 2),
                    "usual_per_h": round(g.usual_per_h, 2),
                }
                for g in self.surges
            ],
            "surge_rule": self.surge_rule,
            "crisis": self.crisis,
        }


def _finite(value: float) -> float | None:
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def _staffing_dict(result: erlang.Staffing | erlang.StaffingWithAbandons | None) -> dict[str, Any] | None:
    if result is None:
        return None
    out = {k: (_finite(v) if isinstance(v, float) else v) for k, v in result.__dict__.items()}
    return out


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _live(conn: Any, now: datetime) -> Live:
    q, c = QueueEntry, Call
    active_entry = or_(
        col(q.state).in_(ACTIVE_QUEUE_STATES),
        and_(col(q.state) == QueueEntryState.ANSWERED.value, col(q.left_at).is_(None)),
    )
    with_person = select(col(q.call_id)).where(active_entry)
    calls_in_ivr = conn.execute(
        select(func.count()).where(
            col(c.outcome) == CallOutcome.IN_PROGRESS.value,
            col(c.started_at) >= now - timedelta(hours=STALE_CALL_H),
            not_(col(c.id).in_(with_person)),
        )
    ).scalar_one()
    waiting, oldest = conn.execute(
        select(func.count(), func.min(q.enqueued_at)).where(col(q.state).in_(ACTIVE_QUEUE_STATES))
    ).one()
    oldest_at = _aware(oldest) if oldest is not None else None
    agents = conn.execute(
        select(col(Agent.id), col(Agent.login), col(Agent.display_name), col(Agent.state), col(Agent.state_changed_at))
        .where(col(Agent.active).is_(True))
        .order_by(col(Agent.display_name), col(Agent.id))
    ).all()
    paused = [a.id for a in agents if a.state == AgentState.PAUSED]
    reasons: dict[int, str | None] = {}
    if paused:
        latest = (
            select(col(AgentStateChange.agent_id), func.max(col(AgentStateChange.id)).label("id"))
            .where(col(AgentStateChange.agent_id).in_(paused))
            .group_by(col(AgentStateChange.agent_id))
            .subquery()
        )
        for agent_id, reason in conn.execute(
            select(col(AgentStateChange.agent_id), col(AgentStateChange.reason)).join(
                latest, col(AgentStateChange.id) == latest.c.id
            )
        ):
            reasons[agent_id] = reason
    pending = conn.execute(
        select(func.count()).where(
            col(Callback.state).in_([CallbackState.PENDING.value, CallbackState.IN_PROGRESS.value])
        )
    ).scalar_one()
    return Live(
        calls_in_ivr=int(calls_in_ivr),
        waiting=int(waiting),
        oldest_wait_s=(now - oldest_at).total_seconds() if oldest_at else None,
        oldest_since=oldest_at,
        agents=[
            AgentRow(a.id, a.login, a.display_name, str(a.state), _aware(a.state_changed_at), reasons.get(a.id))
            for a in agents
        ],
        callbacks_pending=int(pending),
    )


def _recent_load(conn: Any, now: datetime) -> tuple[int, float | None]:
    """Queue arrivals over the last STAFFING_WINDOW_S, and the mean handle time of the stays wrapped in it."""
    q = QueueEntry
    since = now - timedelta(seconds=STAFFING_WINDOW_S)
    arrivals = conn.execute(
        select(func.count()).where(
            col(q.enqueued_at) >= since,
            col(q.enqueued_at) < now,
            or_(col(q.reason).is_(None), col(q.reason) != TRANSFER_REASON),
        )
    ).scalar_one()
    aht = conn.execute(
        select(func.avg(epoch_s(q.wrapped_up_at) - epoch_s(q.answered_at))).where(
            col(q.wrapped_up_at) >= since, col(q.answered_at).is_not(None)
        )
    ).scalar_one()
    return int(arrivals), float(aht) if aht is not None else None


def staffing_advice(
    arrivals: int, aht_s: float | None, logged_in: int, today: Kpis, rules: SupervisionRules
) -> StaffingAdvice:
    aht = aht_s if aht_s else today.aht_s  # no call wrapped in the last 30 min: today's AHT
    c = a = None
    target = rules.kpi.target_s
    if arrivals and aht:
        c = erlang.agents_for_goal(arrivals, STAFFING_WINDOW_S, aht, target, rules.sl_goal)
        patience = today.patience_s
        if patience:
            a = erlang.erlang_a(arrivals, STAFFING_WINDOW_S, aht, c.agents, patience, target)
    return StaffingAdvice(arrivals, STAFFING_WINDOW_S, aht, logged_in, c, a)


def _per_minute(conn: Any, now: datetime, tz: str) -> list[tuple[datetime, dict[str, int]]]:
    """Calls ended per minute by outcome over the last CHART_HOURS (minutes aligned on the clock)."""
    c = Call
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(hours=CHART_HOURS)
    minute = floor_int((epoch_s(c.ended_at) - start.timestamp() + 0.001) / 60.0).label("m")
    rows = conn.execute(
        select(minute, col(c.outcome), func.count())
        .where(col(c.ended_at) >= start, col(c.ended_at) < end, col(c.outcome) != CallOutcome.IN_PROGRESS.value)
        .group_by(minute, col(c.outcome))
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for m, outcome, n in rows:
        counts.setdefault(int(m), {})[str(outcome)] = int(n)
    zone = ZoneInfo(tz)
    return [((start + timedelta(minutes=m)).astimezone(zone), counts.get(m, {})) for m in range(CHART_HOURS * 60)]


def _topic_counts(conn: Any, start: datetime, end: datetime) -> dict[Key, int]:
    c = Call
    out: dict[Key, int] = {}
    for topic, commune, n in conn.execute(
        select(col(c.topic), col(c.commune), func.count())
        .where(col(c.started_at) >= start, col(c.started_at) < end, col(c.topic).is_not(None))
        .group_by(col(c.topic), col(c.commune))
    ):
        out[(topic, commune)] = int(n)  # commune None: the caller named none
    return out


class Supervision:
    def __init__(
        self,
        engine: Engine,
        rules: SupervisionRules,
        timezone: str,
        crisis: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.engine = engine
        self.rules = rules
        self.timezone = timezone
        self.crisis = crisis
        self._lock = threading.Lock()
        self._cached: tuple[float, int, Wallboard] | None = None
        self._generation = 0  # bumped by every event: a snapshot from before it is stale
        self._baseline: tuple[float, dict[Key, int]] | None = None

    def today(self, now: datetime) -> Window:
        return today_window(now, self.timezone, self.rules.day_start)

    def kpis(self, window: Window, now: datetime | None = None) -> Kpis:
        return compute_kpis(self.engine, window, self.rules.kpi, now)

    def snapshot(self, now: datetime | None = None) -> Wallboard:
        """The wallboard now (at most SNAPSHOT_TTL_S old, unless `now` is given)."""
        with self._lock:
            tick, generation = clock.monotonic(), self._generation
            if (
                now is None
                and self._cached
                and self._cached[1] == generation
                and tick - self._cached[0] < SNAPSHOT_TTL_S
            ):
                return self._cached[2]
            board = self._compute(now or datetime.now(UTC))
            if now is None:
                self._cached = (tick, generation, board)
            return board

    def forget(self) -> None:
        """Drop the cached snapshot and surge baseline (both are read afresh next time)."""
        with self._lock:
            self._cached = self._baseline = None

    def changed(self) -> None:
        """Something happened (a call, a queue move, an agent's state): the next snapshot is read afresh."""
        self._generation += 1

    async def follow(self, bus: EventBus) -> None:
        """Mark the snapshot stale on every event, for as long as the process runs."""
        subscription = bus.subscribe()
        try:
            async for _event in subscription:
                self.changed()
        finally:
            subscription.close()

    def _baseline_counts(self, conn: Any, recent_start: datetime) -> dict[Key, int]:
        tick = clock.monotonic()
        if self._baseline and tick - self._baseline[0] < BASELINE_TTL_S:
            return self._baseline[1]
        counts = _topic_counts(conn, recent_start - timedelta(seconds=self.rules.surge.baseline_s), recent_start)
        self._baseline = (tick, counts)
        return counts

    def _compute(self, now: datetime) -> Wallboard:
        today = self.kpis(self.today(now), now)
        recent_start = now - timedelta(seconds=self.rules.surge.recent_s)
        with self.engine.connect() as conn:
            live = _live(conn, now)
            arrivals, aht = _recent_load(conn, now)
            per_minute = _per_minute(conn, now, self.timezone)
            recent = _topic_counts(conn, recent_start, now)
            baseline = self._baseline_counts(conn, recent_start)
        return Wallboard(
            at=now,
            live=live,
            today=today,
            sl_goal=self.rules.sl_goal,
            staffing=staffing_advice(arrivals, aht, live.logged_in, today, self.rules),
            per_minute=per_minute,
            surges=surges(recent, baseline, self.rules.surge),
            surge_rule=self.rules.surge.describe(),
            timezone=self.timezone,
            crisis=self.crisis() if self.crisis else dict(CRISIS_NONE),
        )
