"""The supervisor's snapshot on both databases: live counts, staffing advice, the chart and the surge banner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from hotline.domain import erlang
from hotline.domain.enums import AgentState, CallbackState, CallOutcome, QueueEntryState
from hotline.services.supervision import Supervision, SupervisionRules
from hotline.storage.db import session_scope
from hotline.storage.models import Agent, AgentStateChange, Call, Callback, QueueEntry, Ticket

NOW = datetime(2026, 12, 4, 9, 0, 30, tzinfo=UTC)  # 10:00:30 in Paris


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def seed(engine: Engine) -> None:
    with session_scope(engine) as s:
        n = 0

        def call(
            started: datetime,
            outcome: CallOutcome,
            topic: str | None = None,
            commune: str | None = None,
            ended: datetime | None = None,
        ) -> Call:
            nonlocal n
            n += 1
            row = Call(
                channel_id=f"sup-{n}",
                caller_number="0612345678",
                called_number="0800123456",
                started_at=started,
                outcome=outcome,
                topic=topic,
                commune=commune,
                ended_at=ended or (None if outcome is CallOutcome.IN_PROGRESS else started + timedelta(seconds=40)),
            )
            s.add(row)
            s.flush()
            return row

        call(ago(20), CallOutcome.IN_PROGRESS)  # in the IVR now
        call(ago(30), CallOutcome.IN_PROGRESS)  # in the IVR now
        call(ago(20 * 3600), CallOutcome.IN_PROGRESS)  # left by a crash yesterday: not in the IVR
        waiting = call(ago(100), CallOutcome.IN_PROGRESS)
        s.add(QueueEntry(call_id=waiting.id, enqueued_at=ago(95), state=QueueEntryState.WAITING))
        talking = call(ago(400), CallOutcome.IN_PROGRESS)
        s.add(
            QueueEntry(call_id=talking.id, enqueued_at=ago(390), answered_at=ago(380), state=QueueEntryState.ANSWERED)
        )
        # the last 30 minutes: 9 more stays (10 with the waiting one; the answered one came 390 s ago: 11),
        # 4 handled in 200 s each (talk + wrap-up)
        for i in range(9):
            done = call(ago(1500 - i * 100), CallOutcome.TO_AGENT, "eau", "Villeroux", ended=ago(1200 - i * 100))
            s.add(
                QueueEntry(
                    call_id=done.id,
                    enqueued_at=ago(1490 - i * 100),
                    state=QueueEntryState.ANSWERED,
                    answered_at=ago(1480 - i * 100),
                    left_at=ago(1300 - i * 100),
                    wrapped_up_at=ago(1280 - i * 100) if i < 4 else None,
                )
            )
        # the week before: 1 water call every 12 hours, none from Villeroux
        for day in range(1, 7):
            call(ago(day * 86400), CallOutcome.SELF_SERVED, "eau", "Fontclaire")
            call(ago(day * 86400 + 43200), CallOutcome.SELF_SERVED, "eau", None)
        ticket = Ticket(dossier_number="SUP-1", subject="rappel")
        s.add(ticket)
        s.flush()
        for state in (CallbackState.PENDING, CallbackState.IN_PROGRESS, CallbackState.DONE):
            s.add(Callback(ticket_id=ticket.id, phone="0612345678", due_at=NOW, state=state))
        agents = [
            Agent(
                login="sup-a",
                display_name="Anne",
                sip_endpoint="agent-9101",
                state=AgentState.AVAILABLE,
                state_changed_at=ago(60),
            ),
            Agent(
                login="sup-b",
                display_name="Bruno",
                sip_endpoint="agent-9102",
                state=AgentState.ON_CALL,
                state_changed_at=ago(380),
            ),
            Agent(
                login="sup-c",
                display_name="Chloé",
                sip_endpoint="agent-9103",
                state=AgentState.PAUSED,
                state_changed_at=ago(300),
            ),
            Agent(
                login="sup-d",
                display_name="David",
                sip_endpoint="agent-9104",
                state=AgentState.OFFLINE,
                state_changed_at=ago(9000),
            ),
        ]
        s.add_all(agents)
        s.flush()
        s.add(
            AgentStateChange(
                agent_id=agents[2].id,
                from_state=AgentState.AVAILABLE,
                to_state=AgentState.PAUSED,
                at=ago(300),
                reason="réunion",
            )
        )


def test_the_snapshot_counts_the_live_state(engine: Engine) -> None:
    seed(engine)
    board = Supervision(engine, SupervisionRules(), "Europe/Paris").snapshot(NOW)
    live = board.live
    assert (live.calls_in_ivr, live.waiting, live.callbacks_pending) == (2, 1, 2)
    assert live.oldest_wait_s == pytest.approx(95, abs=1e-3)
    assert (live.logged_in, live.agents_in("available"), live.agents_in("on_call"), live.agents_in("paused")) == (
        3,
        1,
        1,
        1,
    )
    chloe = next(a for a in live.agents if a.login == "sup-c")
    assert chloe.reason == "réunion" and chloe.since == ago(300)
    data = board.as_dict()
    assert data["live"]["agents_by_state"] == {
        "offline": 1,
        "available": 1,
        "ringing": 0,
        "on_call": 1,
        "wrap_up": 0,
        "paused": 1,
    }
    assert [a["name"] for a in data["agents"]] == ["Anne", "Bruno", "Chloé", "David"]


def test_the_staffing_advice_is_erlang_c_at_the_last_half_hours_load(engine: Engine) -> None:
    seed(engine)
    board = Supervision(engine, SupervisionRules(sl_goal=0.8), "Europe/Paris").snapshot(NOW)
    s = board.staffing
    assert (s.arrivals, s.aht_s) == (11, pytest.approx(200, abs=1e-3))
    expected = erlang.agents_for_goal(11, 1800, 200, 20, 0.8)
    assert s.erlang_c is not None and s.agents_needed == expected.agents
    assert s.erlang_a is None  # nobody gave up today: no patience measured
    assert board.as_dict()["staffing"]["agents_needed"] == expected.agents


def test_the_chart_counts_ended_calls_per_minute(engine: Engine) -> None:
    seed(engine)
    board = Supervision(engine, SupervisionRules(), "Europe/Paris").snapshot(NOW)
    assert len(board.per_minute) == 180
    assert board.per_minute[-1][0].minute == 0 and board.per_minute[-1][0].hour == 10  # this minute, Paris time
    assert sum(c.get("to_agent", 0) for _, c in board.per_minute) == 9
    by_minute = {m.strftime("%H:%M"): c for m, c in board.per_minute if c}
    assert by_minute["09:40"] == {"to_agent": 1}  # ended 1,200 s before 10:00:30


def test_water_calls_from_one_commune_raise_the_surge_banner(engine: Engine) -> None:
    seed(engine)
    board = Supervision(engine, SupervisionRules(), "Europe/Paris").snapshot(NOW)
    [surge] = board.surges
    assert (surge.topic, surge.commune, surge.recent_calls) == ("eau", "Villeroux", 9)
    assert "3 fois plus vite" in board.surge_rule


def test_a_snapshot_is_reused_until_something_happens(engine: Engine) -> None:
    supervision = Supervision(engine, SupervisionRules(), "Europe/Paris")
    first = supervision.snapshot()
    assert supervision.snapshot() is first  # a second wallboard, or a scrape, within the second: the same
    supervision.changed()
    assert supervision.snapshot() is not first


def test_with_callers_giving_up_today_the_advice_adds_erlang_a(engine: Engine) -> None:
    seed(engine)
    with session_scope(engine) as s:
        gave_up = Call(channel_id="sup-gave-up", called_number="0800123456", started_at=ago(700),
                       ended_at=ago(600), outcome=CallOutcome.ABANDONED)  # fmt: skip
        s.add(gave_up)
        s.flush()
        s.add(QueueEntry(call_id=gave_up.id, enqueued_at=ago(690), left_at=ago(600), state=QueueEntryState.ABANDONED))
    board = Supervision(engine, SupervisionRules(), "Europe/Paris").snapshot(NOW)
    c, a = board.staffing.erlang_c, board.staffing.erlang_a
    assert c is not None and a is not None and a.agents == c.agents
    assert board.today.patience_s is not None and a.patience_s == pytest.approx(board.today.patience_s)
    assert 0 < a.p_abandon < 1 and a.p_wait <= c.p_wait  # callers who give up shorten the wait of the rest
    assert board.as_dict()["staffing"]["erlang_a"]["p_abandon"] == pytest.approx(a.p_abandon)
