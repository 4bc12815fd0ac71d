"""Erlang C and Erlang A: published values, limits, and a discrete-event simulation of the queue."""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import FrozenInstanceError

import pytest

from hotline.domain.erlang import (
    agents_for_goal,
    agents_for_goal_with_abandons,
    erlang_a,
    erlang_b,
    erlang_c,
    patience_from_waits,
    staffing,
    traffic_erlangs,
)


def test_the_published_case_with_14_agents() -> None:
    # 100 calls in 30 minutes, 3-minute handle time, answered within 20 s.
    result = staffing(100, 1800, 180, 14, target_s=20)
    assert result.traffic_erlangs == 10.0
    assert result.agents == 14
    assert round(result.p_wait, 4) == 0.1741
    assert round(result.service_level, 3) == 0.888
    assert round(result.asa_s, 2) == 7.84
    assert round(result.occupancy, 3) == 0.714


def test_the_published_case_with_11_agents() -> None:
    result = staffing(100, 1800, 180, 11, target_s=20)
    assert round(result.p_wait, 3) == 0.682
    assert round(result.service_level, 3) == 0.390


def test_the_fewest_agents_for_80_percent_in_20_seconds() -> None:
    # 13 agents reach 79.6 %, just short: 14 is the smallest staffing.
    result = agents_for_goal(100, 1800, 180, target_s=20, sl_goal=0.8)
    assert result.agents == 14
    assert result.service_level >= 0.8
    assert staffing(100, 1800, 180, 13, 20).service_level < 0.8


def test_a_second_case_1000_calls_an_hour() -> None:
    result = staffing(1000, 3600, 120, 40, target_s=20)
    assert round(result.p_wait, 4) == 0.1907
    assert round(result.service_level, 4) == 0.9372
    assert round(result.asa_s, 2) == 3.43
    assert round(result.occupancy, 4) == 0.8333


def test_no_more_agents_than_erlangs_is_unstable() -> None:
    for agents in (9, 10):
        result = staffing(100, 1800, 180, agents, 20)
        assert (result.p_wait, result.service_level, result.asa_s, result.occupancy) == (1.0, 0.0, math.inf, 1.0)
    assert agents_for_goal(100, 1800, 180, 20, 0.01).agents == 11  # the first stable staffing already does


def test_no_call_needs_one_agent() -> None:
    result = agents_for_goal(0, 3600, 180, 20, 0.9)
    assert (result.agents, result.p_wait, result.service_level, result.asa_s) == (1, 0.0, 1.0, 0.0)


def _erlang_b_by_logarithms(agents: int, traffic: float) -> float:
    terms = [k * math.log(traffic) - math.lgamma(k + 1) for k in range(agents + 1)]
    top = max(terms)
    return math.exp(terms[-1] - top) / sum(math.exp(term - top) for term in terms)


def test_hundreds_of_agents_do_not_overflow() -> None:
    for agents, traffic in ((420, 400.0), (1000, 950.0)):
        assert erlang_b(agents, traffic) == pytest.approx(_erlang_b_by_logarithms(agents, traffic), rel=1e-9)
    result = staffing(400 * 3600 / 180, 3600, 180, 420, 20)
    assert result.traffic_erlangs == pytest.approx(400.0)
    assert 0.0 < result.p_wait < 1.0 and 0.0 < result.service_level < 1.0 and 0.0 < result.asa_s < 60.0
    sized = agents_for_goal(8000, 3600, 180, 20, 0.8)  # 400 erlangs
    assert sized.agents == 410
    assert staffing(8000, 3600, 180, 409, 20).service_level < 0.8 <= sized.service_level


def test_erlang_c_from_erlang_b() -> None:
    b = erlang_b(14, 10.0)
    assert erlang_c(14, 10.0) == pytest.approx(14 * b / (14 - 10 * (1 - b)))
    assert erlang_c(10, 10.0) == 1.0


def test_the_results_are_frozen() -> None:
    result = staffing(100, 1800, 180, 14)
    with pytest.raises(FrozenInstanceError):
        result.agents = 15  # type: ignore[misc]


def test_erlang_a_tends_to_erlang_c_with_endless_patience() -> None:
    c = staffing(100, 1800, 180, 14, 20)
    a = erlang_a(100, 1800, 180, 14, patience_s=1e7, target_s=20)
    assert a.p_wait == pytest.approx(c.p_wait, abs=1e-4)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-4)
    assert a.service_level_answered == pytest.approx(c.service_level, abs=1e-4)
    assert a.asa_s == pytest.approx(c.asa_s, rel=1e-4)
    assert a.occupancy == pytest.approx(c.occupancy, abs=1e-4)
    assert 0.0 < a.p_abandon < 1e-5


def test_abandons_shorten_the_waits() -> None:
    c = staffing(100, 1800, 180, 14, 20)
    a = erlang_a(100, 1800, 180, 14, patience_s=120, target_s=20)
    assert a.p_abandon > 0.0
    assert a.p_wait < c.p_wait
    assert a.asa_s < c.asa_s
    assert a.occupancy < c.occupancy
    assert a.service_level <= a.service_level_answered


def test_abandons_keep_an_overloaded_queue_stable() -> None:
    # 8 agents for 10 erlangs: Erlang C has no answer, Erlang A has one.
    a = erlang_a(100, 1800, 180, 8, patience_s=120, target_s=20)
    assert 0.0 < a.p_abandon < 1.0
    assert 0.0 < a.service_level < 1.0
    assert math.isfinite(a.asa_s) and a.asa_s > 0.0
    assert a.occupancy < 1.0
    assert a.occupancy == pytest.approx(10 * (1 - a.p_abandon) / 8)  # the agents carry the answered calls only


def test_erlang_a_with_no_target_counts_only_immediate_answers() -> None:
    a = erlang_a(100, 1800, 180, 12, patience_s=90, target_s=0)
    assert a.service_level == pytest.approx(1.0 - a.p_wait)


def _simulate(
    calls: float, period_s: float, aht_s: float, agents: int, patience_s: float, target_s: float
) -> dict[str, float]:
    """First come, first served with impatient callers: each arrival takes the agent that frees up first, unless
    its patience runs out before; a caller who hangs up holds no agent, so later callers do not change the past."""
    rng = random.Random(20240611)
    arrivals = 200_000
    free_at = [0.0] * agents  # a heap of the times the agents become free
    now = 0.0
    waited = abandoned = answered = answered_within = 0
    answered_waits = 0.0
    for _ in range(arrivals):
        now += rng.expovariate(calls / period_s)
        patience = rng.expovariate(1.0 / patience_s)
        wait = max(0.0, free_at[0] - now)
        waited += wait > 0.0
        if wait > patience:
            abandoned += 1
            continue
        heapq.heapreplace(free_at, now + wait + rng.expovariate(1.0 / aht_s))
        answered += 1
        answered_within += wait <= target_s
        answered_waits += wait
    return {
        "p_wait": waited / arrivals,
        "p_abandon": abandoned / arrivals,
        "service_level": answered_within / arrivals,
        "service_level_answered": answered_within / answered,
        "asa_s": answered_waits / answered,
    }


@pytest.mark.parametrize(
    ("calls", "period_s", "aht_s", "agents", "patience_s"),
    [(100, 1800, 180, 8, 120), (1000, 3600, 120, 30, 90), (100, 1800, 180, 11, 300)],
)
def test_erlang_a_matches_a_simulation(
    calls: float, period_s: float, aht_s: float, agents: int, patience_s: float
) -> None:
    simulated = _simulate(calls, period_s, aht_s, agents, patience_s, target_s=20)
    computed = erlang_a(calls, period_s, aht_s, agents, patience_s, target_s=20)
    for name in ("p_wait", "p_abandon", "service_level", "service_level_answered"):
        assert getattr(computed, name) == pytest.approx(simulated[name], abs=0.01), name
    assert computed.asa_s == pytest.approx(simulated["asa_s"], rel=0.04)


def test_the_fewest_agents_with_abandons() -> None:
    a = agents_for_goal_with_abandons(100, 1800, 180, target_s=20, sl_goal=0.8, patience_s=120)
    assert a.service_level >= 0.8
    assert erlang_a(100, 1800, 180, a.agents - 1, 120, 20).service_level < 0.8
    assert a.agents <= agents_for_goal(100, 1800, 180, 20, 0.8).agents  # those who hang up need no agent


def test_patience_from_waits() -> None:
    # Abandoned after 30 s and 50 s; answered after 10, 20 and 40 s (patience at least that): 150 s / 2 abandons.
    assert patience_from_waits([30, 50], [10, 20, 40]) == 75.0
    assert patience_from_waits([], [10, 20]) is None
    assert patience_from_waits([], []) is None
    with pytest.raises(ValueError, match="wait"):
        patience_from_waits([-1], [])


def test_traffic() -> None:
    assert traffic_erlangs(1000, 3600, 120) == pytest.approx(33.333333)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: staffing(-1, 1800, 180, 14), "calls must be"),
        (lambda: staffing(100, 0, 180, 14), "period_s must be"),
        (lambda: staffing(100, -5, 180, 14), "period_s must be"),
        (lambda: staffing(100, 1800, 0, 14), "aht_s must be"),
        (lambda: staffing(100, 1800, 180, 0), "agents must be"),
        (lambda: staffing(100, 1800, 180, 14, target_s=-1), "target_s must be"),
        (lambda: staffing(math.nan, 1800, 180, 14), "calls must be"),
        (lambda: agents_for_goal(100, 1800, 180, 20, 0.0), "sl_goal must be"),
        (lambda: agents_for_goal(100, 1800, 180, 20, 1.0), "sl_goal must be"),
        (lambda: agents_for_goal(100, 1800, 180, 20, 80), "sl_goal must be"),
        (lambda: erlang_a(100, 1800, 180, 0, 120), "agents must be"),
        (lambda: erlang_a(100, 1800, 180, 14, 0), "patience_s must be"),
        (lambda: agents_for_goal_with_abandons(100, 1800, 180, 20, 1.5, 120), "sl_goal must be"),
        (lambda: agents_for_goal_with_abandons(-1, 1800, 180, 20, 0.8, 120), "calls must be"),
    ],
)
def test_invalid_inputs_are_refused(call: object, message: str) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match=message):
        call()
