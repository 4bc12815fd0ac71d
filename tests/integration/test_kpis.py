"""KPIs on a hand-computed day, on SQLite and PostgreSQL (every figure below is worked out in the comments)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from hotline.domain.enums import AgentState, CallOutcome, QueueEntryState
from hotline.domain.report_days import day_window
from hotline.services.kpis import KpiRules, compute_kpis
from hotline.storage.db import session_scope
from hotline.storage.models import Agent, AgentStateChange, Call, QueueEntry

PARIS = ZoneInfo("Europe/Paris")
DAY = date(2026, 12, 4)
WINDOW = day_window(DAY, "Europe/Paris")  # 2026-12-03 23:00 UTC to 2026-12-04 23:00 UTC
RULES = KpiRules(target_s=20, short_abandon_s=5)


def approx(value: float) -> object:
    """SQLite's julianday gives durations to some µs."""
    return pytest.approx(value, abs=1e-3)


def at(hh: int, mm: int, ss: int = 0, day: date = DAY) -> datetime:
    """A Paris wall-clock time, in UTC."""
    return datetime.combine(day, time(hh, mm, ss), PARIS).astimezone(UTC)


def plus(moment: datetime, seconds: float) -> datetime:
    return moment + timedelta(seconds=seconds)


def seed_day(engine: Engine) -> None:
    with session_scope(engine) as s:
        calls: dict[str, Call] = {}

        def call(
            name: str, started: datetime, outcome: CallOutcome, topic: str | None = None, commune: str | None = None
        ) -> None:
            row = Call(
                channel_id=f"kpi-{name}",
                caller_number="0612345678",
                called_number="0800123456",
                started_at=started,
                ended_at=None if outcome is CallOutcome.IN_PROGRESS else plus(started, 60),
                outcome=outcome,
                topic=topic,
                commune=commune,
            )
            s.add(row)
            calls[name] = row

        call("eau-1", at(8, 0), CallOutcome.SELF_SERVED, "eau", "Villeroux")
        call("eau-2", at(8, 30), CallOutcome.SELF_SERVED, "eau", "Villeroux")
        call("answered-fast", at(9, 10), CallOutcome.TO_AGENT, "etat-civil")
        call("answered-slow", at(9, 20), CallOutcome.TO_AGENT, "eau")
        call("abandoned", at(9, 40), CallOutcome.ABANDONED)
        call("short-abandon", at(10, 5), CallOutcome.ABANDONED)
        call("callback", at(10, 30), CallOutcome.CALLBACK_REQUESTED)
        call("waiting", at(10, 50), CallOutcome.IN_PROGRESS)
        call("yesterday", at(23, 30, day=DAY - timedelta(days=1)), CallOutcome.SELF_SERVED)  # before the day
        call("just-after-midnight", at(0, 10), CallOutcome.SELF_SERVED)
        alice = Agent(login="kpi-alice", display_name="Alice", sip_endpoint="agent-9001")
        bruno = Agent(login="kpi-bruno", display_name="Bruno", sip_endpoint="agent-9002")
        s.add_all([alice, bruno])
        s.flush()

        def stay(
            name: str,
            enqueued: datetime,
            state: QueueEntryState,
            *,
            answered_after: float | None = None,
            left_after: float | None = None,
            wrapped_after: float | None = None,
            reason: str | None = None,
        ) -> None:
            s.add(
                QueueEntry(
                    call_id=calls[name].id,
                    enqueued_at=enqueued,
                    state=state,
                    reason=reason,
                    answered_at=plus(enqueued, answered_after) if answered_after is not None else None,
                    left_at=plus(enqueued, left_after) if left_after is not None else None,
                    wrapped_up_at=plus(enqueued, wrapped_after) if wrapped_after is not None else None,
                )
            )

        # waited 10 s, talked 240 s, wrap-up 30 s
        stay(
            "answered-fast",
            at(9, 10, 30),
            QueueEntryState.ANSWERED,
            answered_after=10,
            left_after=250,
            wrapped_after=280,
        )
        # waited 30 s, talked 120 s, wrap-up 20 s
        stay(
            "answered-slow",
            at(9, 20, 30),
            QueueEntryState.ANSWERED,
            answered_after=30,
            left_after=150,
            wrapped_after=170,
        )
        # the slow caller transferred to a colleague: the same call, not a second one offered
        stay(
            "answered-slow",
            at(9, 22, 0),
            QueueEntryState.ANSWERED,
            answered_after=90,
            left_after=200,
            reason="transfer",
        )
        stay("abandoned", at(9, 40, 30), QueueEntryState.ABANDONED, left_after=60)
        stay("short-abandon", at(10, 5, 30), QueueEntryState.ABANDONED, left_after=3)
        stay("callback", at(10, 30, 30), QueueEntryState.CALLBACK, left_after=90)
        stay("waiting", at(10, 50, 30), QueueEntryState.WAITING)

        def change(agent: Agent, moment: datetime, to: AgentState) -> None:
            s.add(AgentStateChange(agent_id=agent.id, from_state=AgentState.OFFLINE, to_state=to, at=moment))

        change(alice, at(23, 0, day=DAY - timedelta(days=1)), AgentState.OFFLINE)
        change(alice, at(8, 0), AgentState.AVAILABLE)
        change(alice, at(9, 10, 35), AgentState.RINGING)
        change(alice, at(9, 10, 40), AgentState.ON_CALL)
        change(alice, at(9, 14, 40), AgentState.WRAP_UP)
        change(alice, at(9, 15, 10), AgentState.AVAILABLE)
        change(alice, at(12, 0), AgentState.PAUSED)
        change(alice, at(12, 30), AgentState.AVAILABLE)
        change(alice, at(17, 0), AgentState.OFFLINE)
        change(bruno, at(21, 0, day=DAY - timedelta(days=1)), AgentState.AVAILABLE)  # and all day, unchanged


def test_a_hand_computed_day(engine: Engine) -> None:
    seed_day(engine)
    k = compute_kpis(engine, WINDOW, RULES, now=WINDOW.end + timedelta(hours=1))
    # Ended calls of the day: all but "yesterday" and "waiting".
    assert (k.calls, k.calls_in_progress, k.self_served) == (8, 1, 3)
    assert k.self_service_rate == approx(3 / 8)
    assert k.by_outcome == {"self_served": 3, "to_agent": 2, "abandoned": 2, "callback_requested": 1}
    assert k.by_topic == {"eau": 3, "etat-civil": 1, "": 4}
    assert k.by_commune == {"Villeroux": 2}
    hours = dict((h.hour, n) for h, n in k.by_hour)
    assert len(k.by_hour) == 24 and k.by_hour[0][0] == datetime(2026, 12, 4, tzinfo=PARIS)
    assert (hours[0], hours[8], hours[9], hours[10], sum(hours.values())) == (1, 2, 3, 3, 9)
    q = k.queue
    # Five stays ended (the transfer is not one), one still waits.
    assert (q.queued, q.waiting, q.answered, q.answered_within_target) == (5, 1, 2, 1)
    assert (q.abandoned, q.short_abandons, q.callbacks, q.handled) == (1, 1, 1, 2)
    assert k.service_level == approx(1 / 2)  # 10 s within 20 s, 30 s not
    assert k.service_level_with_abandons == approx(1 / 3)  # the 60 s abandon counts, the 3 s one not
    assert k.asa_s == approx((10 + 30) / 2)
    assert k.aht_s == approx((240 + 30 + 120 + 20) / 2)
    assert (k.average_talk_s, k.average_wrap_up_s) == (approx(180), approx(25))
    assert k.queue.abandoned_wait_s == approx(60 + 3)
    assert k.patience_s == approx((10 + 30 + 60 + 3) / 2)  # all waits (answered ones censored) / abandons
    assert k.abandonment_rate == approx(1 / (5 - 1))  # the callback is not an abandon, the short one left out
    # Alice: available 08:00-09:10:35, 09:15:10-12:00, 12:30-17:00 (4,235 + 9,890 + 16,200 s), ringing 5 s,
    # on call 240 s, wrap-up 30 s, paused 1,800 s, offline the rest; Bruno available all 86,400 s.
    t = k.agent_times.seconds
    assert t["available"] == approx(4235 + 9890 + 16200 + 86400)
    assert (t["ringing"], t["on_call"], t["wrap_up"], t["paused"]) == (
        approx(5),
        approx(240),
        approx(30),
        approx(1800),
    )
    assert t["offline"] == approx(8 * 3600 + 7 * 3600)
    assert k.occupancy == approx(275 / (4235 + 9890 + 16200 + 86400 + 275))


def test_agent_time_stops_at_now(engine: Engine) -> None:
    seed_day(engine)
    k = compute_kpis(engine, WINDOW, RULES, now=at(8, 30))  # half an hour after Alice signed in
    t = k.agent_times.seconds
    assert t["available"] == approx(1800 + 8.5 * 3600)  # Alice 30 min, Bruno 23:00-07:30 UTC
    assert "on_call" not in t


def test_an_empty_window_has_no_rates(engine: Engine) -> None:
    k = compute_kpis(engine, WINDOW, RULES, now=WINDOW.end)
    assert (k.calls, k.queue.queued) == (0, 0)
    rates = (k.service_level, k.asa_s, k.aht_s, k.abandonment_rate, k.occupancy, k.self_service_rate, k.patience_s)
    assert rates == (None,) * 7
    assert k.as_dict()["service_level"] is None
