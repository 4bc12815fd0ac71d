"""Staffing advice: how many agents a call load needs, by Erlang C (callers wait forever) and Erlang A
(callers hang up after an exponential patience). Pure arithmetic, standard library only.

Notation: λ = calls / period_s (arrivals a second), μ = 1 / aht_s (one agent's service rate), traffic
A = λ / μ = calls / period_s × aht_s in erlangs, N agents, T the service-level target in seconds, θ = 1 / patience_s.

Erlang C (M/M/N): p_wait = C(N, A), computed from Erlang B by the recursion B(0) = 1,
B(n) = A·B(n−1) / (n + A·B(n−1)), then C = N·B / (N − A·(1 − B)); no factorial nor power is formed, so hundreds
of agents neither overflow nor lose precision. Service level SL(T) = 1 − p_wait·exp(−(N − A)·T / AHT), average
speed of answer ASA = p_wait·AHT / (N − A), occupancy A / N. With N ≤ A the queue grows without end: p_wait 1,
SL 0, ASA math.inf (null in JSON), occupancy 1.

Erlang A (M/M/N+M): see `erlang_a`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

NEGLIGIBLE_TAIL = 1e-15  # the Erlang A chain stops once the states left hold less than this share of the total
MAX_QUEUE_STATES = 2_000_000  # beyond this the patience is too long for the overload to be worth computing


@dataclass(frozen=True)
class Staffing:
    """Erlang C figures for one staffing level; asa_s is math.inf when the queue is unstable (N ≤ A)."""

    traffic_erlangs: float
    agents: int
    p_wait: float
    service_level: float
    asa_s: float
    occupancy: float


@dataclass(frozen=True)
class StaffingWithAbandons:
    """Erlang A figures for one staffing level (callers abandon after an exponential patience).

    service_level: answered within the target among all arrivals (an abandon counts as a miss);
    service_level_answered: answered within the target among the answered calls; asa_s: the mean wait of the
    answered calls.
    """

    traffic_erlangs: float
    agents: int
    patience_s: float
    p_wait: float
    p_abandon: float
    service_level: float
    service_level_answered: float
    asa_s: float
    occupancy: float


def traffic_erlangs(calls: float, period_s: float, aht_s: float) -> float:
    """The offered traffic A = calls / period_s × aht_s, in erlangs (agents busy on average)."""
    _check_load(calls, period_s, aht_s)
    return calls * aht_s / period_s  # in this order 100 calls × 180 s / 1,800 s is exactly 10.0


def erlang_b(agents: int, traffic: float) -> float:
    """Erlang B: the probability that all `agents` are busy with `traffic` erlangs offered and no queue."""
    _check_agents(agents)
    _check_finite_non_negative("traffic", traffic)
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return blocking


def erlang_c(agents: int, traffic: float) -> float:
    """Erlang C: the probability that a caller waits, 1.0 when agents ≤ traffic (the queue is unstable)."""
    blocking = erlang_b(agents, traffic)
    if agents <= traffic:
        return 1.0
    return agents * blocking / (agents - traffic * (1.0 - blocking))


def staffing(calls: float, period_s: float, aht_s: float, agents: int, target_s: float = 20.0) -> Staffing:
    """Erlang C figures for `agents` agents answering `calls` calls of mean handle time `aht_s` in `period_s`."""
    traffic = traffic_erlangs(calls, period_s, aht_s)
    _check_agents(agents)
    _check_finite_non_negative("target_s", target_s)
    if agents <= traffic:
        return Staffing(traffic, agents, 1.0, 0.0, math.inf, 1.0)
    p_wait = erlang_c(agents, traffic)
    spare = agents - traffic
    return Staffing(
        traffic_erlangs=traffic,
        agents=agents,
        p_wait=p_wait,
        service_level=1.0 - p_wait * math.exp(-spare * target_s / aht_s),
        asa_s=p_wait * aht_s / spare,
        occupancy=traffic / agents,
    )


def agents_for_goal(calls: float, period_s: float, aht_s: float, target_s: float, sl_goal: float) -> Staffing:
    """The smallest staffing whose Erlang C service level (answered within target_s) reaches sl_goal."""
    _check_goal(sl_goal)
    traffic = traffic_erlangs(calls, period_s, aht_s)
    agents = math.floor(traffic) + 1  # the first stable staffing
    while True:
        result = staffing(calls, period_s, aht_s, agents, target_s)
        if result.service_level >= sl_goal:
            return result
        agents += 1


def erlang_a(
    calls: float, period_s: float, aht_s: float, agents: int, patience_s: float, target_s: float = 20.0
) -> StaffingWithAbandons:
    """Erlang A figures: N agents, exponential service (mean aht_s) and patience (mean patience_s).

    Method, exact up to a truncation below 1e-15 of the probability:
    - States: k calls in the system, a birth–death chain with birth rate λ and death rate
      min(k, N)·μ + max(k − N, 0)·θ. Its stationary law is taken relative to k = N: the states k ≤ N weigh
      1 / B(N, A) together (Erlang B), and π(N + j) / π(N) = Π_{l=1..j} λ / (Nμ + lθ), summed in logarithms
      until the remaining tail (bounded by a geometric series past the mode) is negligible.
    - A caller sees that law on arrival (PASTA). Finding k < N, they are answered at once. Finding k = N + i,
      they have i callers ahead; each ahead leaves at rate Nμ (an answer at the head) + θ (their own abandon),
      so the wait V a caller of infinite patience would have is a sum of exponentials of rates Nμ + jθ,
      j = 0..i, whose density is c·e^(−Nμt)·(1 − e^(−θt))^i. The caller is answered if their own patience
      exceeds V, which gives exactly:
        P(answered | i) = Nμ / (Nμ + (i + 1)θ),
        P(answered within T | i) = P(answered | i) · I_U(i + 1, Nμ/θ + 1) with U = 1 − e^(−θT), the regularised
          incomplete beta function, i.e. the tail P(X > i) of a negative binomial X of size Nμ/θ + 1 and
          success probability e^(−θT), summed term by term,
        E[wait | answered, i] = Σ_{j=0..i} 1 / (Nμ + (j + 1)θ) (each stage's time does not depend on how it ends).
    - Occupancy is the carried load over N: A·(1 − p_abandon) / N.
    The queue is stable for any N, even N < A, since callers leave it. ValueError when a long patience in an
    overload would keep more than MAX_QUEUE_STATES callers queued.
    """
    traffic = traffic_erlangs(calls, period_s, aht_s)
    _check_agents(agents)
    _check_finite_non_negative("target_s", target_s)
    _check_positive("patience_s", patience_s)
    arrival_rate = calls / period_s
    all_busy_rate = agents / aht_s  # Nμ: answers a second while every agent is busy
    abandon_rate = 1.0 / patience_s  # θ
    blocking = erlang_b(agents, traffic)
    if blocking == 0.0:  # the chance of finding every agent busy is below 1e-308
        return StaffingWithAbandons(traffic, agents, patience_s, 0.0, 0.0, 1.0, 1.0, 0.0, traffic / agents)

    # log π(N + i) / π(N) for i = 0, 1, ...: the states in which an arrival waits behind i callers.
    log_weights = _queue_log_weights(arrival_rate, all_busy_rate, abandon_rate)
    log_top = max(log_weights)
    queue_mass = sum(math.exp(w - log_top) for w in log_weights)
    # The states below N weigh 1/B − 1 relative to π(N) (1/B counts k = N too); here relative to exp(log_top).
    lower_mass = math.exp(math.log1p(-blocking) - math.log(blocking) - log_top) if blocking < 1.0 else 0.0
    total = lower_mass + queue_mass

    served_within = lower_mass  # answered at once: within any target
    served = lower_mass
    served_wait = 0.0
    # Negative binomial terms for P(answered within T | i), kept in logarithms (their first term can underflow).
    log_u = math.log(-math.expm1(-abandon_rate * target_s)) if target_s > 0 else -math.inf
    size = all_busy_rate / abandon_rate + 1.0
    log_term = -size * abandon_rate * target_s  # log of the term of index 0: (1 − U)^size
    below = 0.0  # P(X ≤ i)
    mean_wait_if_served = 0.0
    for i, log_weight in enumerate(log_weights):
        weight = math.exp(log_weight - log_top)
        if i > 0:
            log_term += log_u + math.log(size + i - 1) - math.log(i)
        below += math.exp(log_term)
        answered = all_busy_rate / (all_busy_rate + (i + 1) * abandon_rate)
        mean_wait_if_served += 1.0 / (all_busy_rate + (i + 1) * abandon_rate)
        served += weight * answered
        served_within += weight * answered * max(0.0, 1.0 - below)
        served_wait += weight * answered * mean_wait_if_served

    p_abandon = 1.0 - served / total
    return StaffingWithAbandons(
        traffic_erlangs=traffic,
        agents=agents,
        patience_s=patience_s,
        p_wait=queue_mass / total,
        p_abandon=p_abandon,
        service_level=served_within / total,
        service_level_answered=served_within / served,
        asa_s=served_wait / served,
        occupancy=traffic * (1.0 - p_abandon) / agents,
    )


def agents_for_goal_with_abandons(
    calls: float, period_s: float, aht_s: float, target_s: float, sl_goal: float, patience_s: float
) -> StaffingWithAbandons:
    """The smallest staffing whose Erlang A service level (answered within target_s, among all arrivals)
    reaches sl_goal."""
    _check_goal(sl_goal)
    _check_positive("patience_s", patience_s)
    traffic = traffic_erlangs(calls, period_s, aht_s)
    # Answered within T ≤ answered = occupancy × N / A ≤ N / A: no fewer than sl_goal × A agents can do.
    agents = max(1, math.ceil(sl_goal * traffic))
    while True:
        result = erlang_a(calls, period_s, aht_s, agents, patience_s, target_s)
        if result.service_level >= sl_goal:
            return result
        agents += 1


def patience_from_waits(abandoned_waits_s: Sequence[float], answered_waits_s: Sequence[float]) -> float | None:
    """The mean patience by the exponential maximum-likelihood estimate with censoring: an answered caller's
    wait is a lower bound of their patience, so (sum of every wait) / (number of abandons); None without abandons.
    """
    for wait in (*abandoned_waits_s, *answered_waits_s):
        _check_finite_non_negative("a wait", wait)
    if not abandoned_waits_s:
        return None
    return (sum(abandoned_waits_s) + sum(answered_waits_s)) / len(abandoned_waits_s)


def _queue_log_weights(arrival_rate: float, all_busy_rate: float, abandon_rate: float) -> list[float]:
    """log π(N + i) / π(N) for i = 0, 1, ... until the tail left is negligible against the sum so far."""
    log_weights = [0.0]
    log_top = 0.0
    mass = 1.0  # the sum so far, relative to exp(log_top)
    i = 0
    while True:
        i += 1
        ratio = arrival_rate / (all_busy_rate + i * abandon_rate)
        if ratio == 0.0:
            return log_weights
        log_weights.append(log_weights[-1] + math.log(ratio))
        if log_weights[-1] > log_top:
            mass = mass * math.exp(log_top - log_weights[-1]) + 1.0
            log_top = log_weights[-1]
        else:
            mass += math.exp(log_weights[-1] - log_top)
        # Past the mode the ratios keep falling, so the tail is below term × ratio / (1 − ratio).
        next_ratio = arrival_rate / (all_busy_rate + (i + 1) * abandon_rate)
        if next_ratio < 1.0:
            tail = math.exp(log_weights[-1] - log_top) * next_ratio / (1.0 - next_ratio)
            if tail < NEGLIGIBLE_TAIL * mass:
                return log_weights
        if i >= MAX_QUEUE_STATES:
            raise ValueError(
                "the patience is too long for this overload: the queue would hold millions of callers; "
                "add agents or use a shorter patience"
            )


def _check_load(calls: float, period_s: float, aht_s: float) -> None:
    _check_finite_non_negative("calls", calls)
    _check_positive("period_s", period_s)
    _check_positive("aht_s", aht_s)


def _check_agents(agents: int) -> None:
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 1:
        raise ValueError(f"agents must be a whole number of at least 1, got {agents!r}")


def _check_goal(sl_goal: float) -> None:
    if not (isinstance(sl_goal, int | float) and 0.0 < sl_goal < 1.0):
        raise ValueError(f"sl_goal must be a fraction strictly between 0 and 1 (e.g. 0.8), got {sl_goal!r}")


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number above 0, got {value!r}")


def _check_finite_non_negative(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number of at least 0, got {value!r}")
