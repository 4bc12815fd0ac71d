"""The queue's rules, with no I/O: who is served first, which agent gets the caller, how long the wait will be,
and when the caller hears their position again.

- Order: a higher priority first (an entry's crisis flag, a caller the flow marks as vulnerable); within a
  priority, first come first served. A due callback keeps the place its caller had: it is served, and counts
  in the positions of those behind it, as if the caller were still waiting.
- Distribution: the available agent with the caller's topic among their skills who has been idle longest;
  once the caller has waited `skill_overflow_s`, any available agent (app_queue's leastrecent, with skills).
  A caller whose topic no available agent has does not hold up the callers behind them.
- Expected wait: the recent handle times measured (talk and wrap-up), spread over the agents logged in; None
  until one call has been measured (then only the position is said, never an invented figure).
- Announcements: on joining, every `announce_s`, and when the position improves, never closer together than
  MIN_ANNOUNCE_GAP_S (app_queue's min-announce-frequency).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from hotline.domain.enums import AgentState

PRIORITY_NORMAL = 0
PRIORITY_CRISIS = 10  # an entry flagged crisis in the KB (e.g. a water cut during a flood)
PRIORITY_VULNERABLE = 20  # a caller the flow marks as vulnerable goes first of all
DEFAULT_SKILL_OVERFLOW_S = 60.0
DEFAULT_ANNOUNCE_S = 60.0
MIN_ANNOUNCE_GAP_S = 15.0  # a position said twice within seconds is noise, not news
RECENT_HANDLE_TIMES = 20  # the last calls measured: recent enough to follow a crisis, enough to be stable
# Agents who count as staffing the queue for the expected wait: logged in, whatever they are doing.
STAFFED_STATES = frozenset({AgentState.AVAILABLE, AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP})


@dataclass(frozen=True)
class WaitingCaller:
    entry_id: int
    priority: int
    enqueued_at: datetime
    topic: str | None = None
    callback_id: int | None = None  # a callback keeping the caller's place (entry_id 0), not a caller on the line
    only_agent_id: int | None = None  # transferred to this agent: nobody else takes the caller


@dataclass(frozen=True)
class AgentSnapshot:
    agent_id: int
    state: AgentState
    since: datetime  # when the agent entered `state`: for an available agent, the start of their idle time
    skills: frozenset[str] = frozenset()


def queue_order(callers: Iterable[WaitingCaller]) -> list[WaitingCaller]:
    """Callers in the order they are served."""
    return sorted(callers, key=lambda c: (-c.priority, c.enqueued_at, c.entry_id, c.callback_id or 0))


def position_of(entry_id: int, callers: Iterable[WaitingCaller]) -> int | None:
    """1 for the next caller served; None when not waiting."""
    for index, caller in enumerate(queue_order(callers), start=1):
        if caller.entry_id == entry_id and caller.callback_id is None:
            return index
    return None


def may_take(agent: AgentSnapshot, caller: WaitingCaller, now: datetime, skill_overflow_s: float) -> bool:
    """Whether `agent` may be offered `caller` now: available, and skilled for the topic unless it has overflowed."""
    if agent.state is not AgentState.AVAILABLE:
        return False
    if caller.only_agent_id is not None:
        return agent.agent_id == caller.only_agent_id
    if caller.topic is None or caller.topic in agent.skills:
        return True
    return (now - caller.enqueued_at).total_seconds() >= skill_overflow_s


def best_agent(
    caller: WaitingCaller, agents: Iterable[AgentSnapshot], now: datetime, skill_overflow_s: float
) -> AgentSnapshot | None:
    """The eligible agent idle longest; a skilled one before an unskilled one (who is only eligible on overflow)."""
    eligible = [a for a in agents if may_take(a, caller, now, skill_overflow_s)]
    if not eligible:
        return None
    skilled = [a for a in eligible if caller.topic is not None and caller.topic in a.skills]
    return min(skilled or eligible, key=lambda a: (a.since, a.agent_id))


def assignments(
    callers: Iterable[WaitingCaller],
    agents: Iterable[AgentSnapshot],
    now: datetime,
    skill_overflow_s: float = DEFAULT_SKILL_OVERFLOW_S,
) -> list[tuple[WaitingCaller, AgentSnapshot]]:
    """Which agent to offer which caller now: callers in queue order, each the best agent still free."""
    free = list(agents)
    pairs: list[tuple[WaitingCaller, AgentSnapshot]] = []
    for caller in queue_order(callers):
        agent = best_agent(caller, free, now, skill_overflow_s)
        if agent is not None:
            pairs.append((caller, agent))
            free.remove(agent)
    return pairs


def expected_wait_s(position: int, recent_handle_s: Sequence[float], staffed_agents: int) -> float | None:
    """Seconds until the caller at `position` is served: each staffed agent frees up once per mean handle time.
    None when nothing has been measured yet or nobody staffs the queue."""
    if position < 1 or staffed_agents < 1 or not recent_handle_s:
        return None
    handle = sum(recent_handle_s[-RECENT_HANDLE_TIMES:]) / len(recent_handle_s[-RECENT_HANDLE_TIMES:])
    return math.ceil(position / staffed_agents) * handle


def spoken_minutes(wait_s: float) -> int:
    """The wait as a caller hears it: whole minutes, at least one, rounded up (a promise we can keep)."""
    return max(1, math.ceil(wait_s / 60.0))


def announcement_due(
    position: int,
    last_position: int | None,
    last_announced_at: datetime | None,
    now: datetime,
    announce_s: float = DEFAULT_ANNOUNCE_S,
) -> bool:
    """Whether to tell the caller their position now."""
    if last_announced_at is None or last_position is None:
        return True  # on joining
    since = (now - last_announced_at).total_seconds()
    if since >= announce_s:
        return True
    return position < last_position and since >= MIN_ANNOUNCE_GAP_S


def callback_offer_due(
    waited_s: float,
    expected_s: float | None,
    offer_after_s: float,
    max_expected_s: float,
    overflow_s: float | None = None,
) -> bool:
    """Whether a waiting caller is offered the callback now: they have waited `offer_after_s`, or the expected
    wait passes `max_expected_s`; in crisis mode (`overflow_s` set), as soon as the wait, waited or expected,
    passes the overflow (0: every caller, at once)."""
    if waited_s >= offer_after_s or (expected_s is not None and expected_s > max_expected_s):
        return True
    return overflow_s is not None and (waited_s >= overflow_s or (expected_s is not None and expected_s > overflow_s))
