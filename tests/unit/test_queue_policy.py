"""The queue's rules, with hand-computed expectations: order, distribution, expected wait, announcements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotline.domain.enums import AgentState
from hotline.domain.queue import (
    MIN_ANNOUNCE_GAP_S,
    PRIORITY_CRISIS,
    PRIORITY_VULNERABLE,
    AgentSnapshot,
    WaitingCaller,
    announcement_due,
    assignments,
    best_agent,
    callback_offer_due,
    expected_wait_s,
    position_of,
    queue_order,
    spoken_minutes,
)

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def caller(entry_id: int, joined_s: float, priority: int = 0, topic: str | None = None) -> WaitingCaller:
    return WaitingCaller(entry_id, priority, at(joined_s), topic)


def agent(agent_id: int, idle_since_s: float, *skills: str, state: AgentState = AgentState.AVAILABLE) -> AgentSnapshot:
    return AgentSnapshot(agent_id, state, at(idle_since_s), frozenset(skills))


def test_priority_first_then_first_come_first_served() -> None:
    callers = [caller(1, 0), caller(2, 5, PRIORITY_CRISIS), caller(3, 10), caller(4, 20, PRIORITY_VULNERABLE)]
    assert [c.entry_id for c in queue_order(callers)] == [4, 2, 1, 3]
    assert position_of(1, callers) == 3 and position_of(4, callers) == 1 and position_of(9, callers) is None


def test_the_skilled_agent_idle_longest_gets_the_caller() -> None:
    waiting = caller(1, 0, topic="eau")
    agents = [agent(10, -30, "eau"), agent(11, -90, "dechets"), agent(12, -60, "eau", "dechets")]
    assert best_agent(waiting, agents, at(1), 60).agent_id == 12  # 11 idles longer, but has no "eau"


def test_overflow_after_the_delay_lets_any_available_agent_take_the_call() -> None:
    waiting = caller(1, 0, topic="eau")
    only_other = [agent(11, -90, "dechets")]
    assert best_agent(waiting, only_other, at(59.9), 60) is None
    assert best_agent(waiting, only_other, at(60), 60).agent_id == 11
    # a skilled agent still goes before unskilled ones after overflow
    both = [agent(11, -90, "dechets"), agent(10, -5, "eau")]
    assert best_agent(waiting, both, at(120), 60).agent_id == 10


def test_never_an_agent_who_is_not_available() -> None:
    waiting = caller(1, 0)
    states = [AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.PAUSED, AgentState.OFFLINE]
    busy = [agent(i, -100, state=s) for i, s in enumerate(states)]
    assert best_agent(waiting, busy, at(500), 60) is None


def test_assignments_in_queue_order_and_a_topic_nobody_has_does_not_block_the_others() -> None:
    callers = [caller(1, 0, topic="urbanisme"), caller(2, 5, topic="eau"), caller(3, 7), caller(4, 8)]
    agents = [agent(10, -10, "eau"), agent(11, -50)]
    pairs = [(c.entry_id, a.agent_id) for c, a in assignments(callers, agents, at(10), 60)]
    # 1 waits (no urbanisme agent, not overflowed yet); 2 gets the eau agent; 3 gets the other; 4 waits
    assert pairs == [(2, 10), (3, 11)]
    pairs = [(c.entry_id, a.agent_id) for c, a in assignments(callers, agents, at(61), 60)]
    assert pairs == [(1, 11), (2, 10)]  # 1 has overflowed: the longest idle (11) is free for anyone


def test_expected_wait_from_measured_handle_times() -> None:
    assert expected_wait_s(1, [], 3) is None, "nothing measured: no figure"
    assert expected_wait_s(1, [200.0], 0) is None
    # mean of 120, 180, 240 = 180 s; 2 agents: positions 1-2 served in one handle time, 3-4 in two
    assert expected_wait_s(1, [120.0, 180.0, 240.0], 2) == 180.0
    assert expected_wait_s(3, [120.0, 180.0, 240.0], 2) == 360.0
    # only the last 20 count
    assert expected_wait_s(1, [1000.0] + [60.0] * 20, 1) == 60.0
    assert (spoken_minutes(30), spoken_minutes(60), spoken_minutes(61), spoken_minutes(0)) == (1, 1, 2, 1)


def test_announcements_on_joining_periodically_and_when_the_position_improves() -> None:
    assert announcement_due(3, None, None, at(0))
    assert not announcement_due(3, 3, at(0), at(59), announce_s=60)
    assert announcement_due(3, 3, at(0), at(60), announce_s=60)
    assert announcement_due(2, 3, at(0), at(MIN_ANNOUNCE_GAP_S), announce_s=60)
    assert not announcement_due(2, 3, at(0), at(MIN_ANNOUNCE_GAP_S - 1), announce_s=60), "not twice in a few s"
    assert not announcement_due(4, 3, at(0), at(30), announce_s=60), "a worse position is not news"


@pytest.mark.parametrize(
    ("waited", "expected", "overflow", "due"),
    [
        (10, 30, None, False),  # a short wait, a short one to come
        (90, 30, None, True),  # waited the offer delay (90 s)
        (10, 700, None, True),  # the expected wait passes the maximum (600 s)
        (10, None, None, False),  # nobody staffed yet: no expected wait, not long either
        (10, 130, 120, True),  # crisis overflow at 120 s: an expected 130 s is offered the callback at once
        (10, 100, 120, False),
        (0, None, 0, True),  # overflow 0: every caller is offered it at once
    ],
)
def test_the_callback_is_offered_after_a_wait_or_at_once_in_crisis_overflow(
    waited: float, expected: float | None, overflow: float | None, due: bool
) -> None:
    assert callback_offer_due(waited, expected, 90, 600, overflow) is due
