"""Call-centre KPIs: their definitions, computed from counts and sums (the service gathers them in SQL).

Every rate is None when its denominator is zero: "no call yet" is not 0 % nor 100 %.

Definitions (a queue stay counts in the window it was queued in; transfers between agents are not new stays):
- service level (SL) = answered within T / answered;
- SL with abandons = answered within T / (answered + abandoned), short abandons left out of both;
- ASA (average speed of answer) = total wait of answered callers / answered;
- AHT (average handle time) = (talk + wrap-up) / answered calls whose wrap-up ended;
- abandonment rate = abandoned / (queued − short abandons); a callback request is not an abandon, and a
  caller who hung up within the short-abandon threshold (a misdial, a changed mind) counts in neither;
- occupancy = time agents spent ringing, on a call or in wrap-up / time they were signed in and not paused;
- self-service rate = calls the knowledge base served to their end / calls ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


@dataclass(frozen=True)
class QueueTotals:
    """What the queue stays of a window add up to."""

    queued: int = 0  # stays that ended: answered, abandoned (short or not) or left for a callback
    waiting: int = 0  # still waiting or offered now
    answered: int = 0
    answered_within_target: int = 0
    answered_wait_s: float = 0.0  # total wait of the answered
    abandoned: int = 0  # after the short-abandon threshold
    short_abandons: int = 0
    abandoned_wait_s: float = 0.0  # total wait of every abandon, short ones included (the callers' patience)
    callbacks: int = 0
    handled: int = 0  # answered stays whose wrap-up ended
    talk_s: float = 0.0  # total over `handled`
    wrap_up_s: float = 0.0  # total over `handled`


@dataclass(frozen=True)
class AgentTimes:
    """Seconds all agents spent in each state within the window."""

    seconds: dict[str, float] = field(default_factory=dict)

    def total(self, *states: str) -> float:
        return sum(self.seconds.get(s, 0.0) for s in states)


BUSY_STATES = ("ringing", "on_call", "wrap_up")
SIGNED_IN_STATES = ("available", *BUSY_STATES)  # paused and offline time is not work offered


@dataclass(frozen=True)
class Kpis:
    start: datetime
    end: datetime
    target_s: float
    short_abandon_s: float
    calls: int  # calls that started in the window and have ended
    calls_in_progress: int
    self_served: int
    by_outcome: dict[str, int]
    by_topic: dict[str, int]  # topic -> calls ("" when the IVR could not tell)
    by_commune: dict[str, int]  # only calls whose commune is known
    by_hour: list[tuple[datetime, int]]  # local start of each hour of the window -> calls started in it
    queue: QueueTotals
    agent_times: AgentTimes

    @property
    def service_level(self) -> float | None:
        return ratio(self.queue.answered_within_target, self.queue.answered)

    @property
    def service_level_with_abandons(self) -> float | None:
        return ratio(self.queue.answered_within_target, self.queue.answered + self.queue.abandoned)

    @property
    def asa_s(self) -> float | None:
        return ratio(self.queue.answered_wait_s, self.queue.answered)

    @property
    def aht_s(self) -> float | None:
        return ratio(self.queue.talk_s + self.queue.wrap_up_s, self.queue.handled)

    @property
    def average_talk_s(self) -> float | None:
        return ratio(self.queue.talk_s, self.queue.handled)

    @property
    def average_wrap_up_s(self) -> float | None:
        return ratio(self.queue.wrap_up_s, self.queue.handled)

    @property
    def abandonment_rate(self) -> float | None:
        return ratio(self.queue.abandoned, self.queue.queued - self.queue.short_abandons)

    @property
    def patience_s(self) -> float | None:
        """Mean patience, the exponential estimate on censored waits: every caller's wait (the answered ones only
        show they would have waited that long) over the number who gave up; None before anyone gave up."""
        q = self.queue
        return ratio(q.answered_wait_s + q.abandoned_wait_s, q.abandoned + q.short_abandons)

    @property
    def occupancy(self) -> float | None:
        return ratio(self.agent_times.total(*BUSY_STATES), self.agent_times.total(*SIGNED_IN_STATES))

    @property
    def self_service_rate(self) -> float | None:
        return ratio(self.self_served, self.calls)

    def as_dict(self) -> dict[str, object]:
        """The JSON form (the API and the wallboard)."""
        q = self.queue
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "target_s": self.target_s,
            "short_abandon_s": self.short_abandon_s,
            "calls": self.calls,
            "calls_in_progress": self.calls_in_progress,
            "self_served": self.self_served,
            "self_service_rate": self.self_service_rate,
            "queued": q.queued,
            "waiting": q.waiting,
            "answered": q.answered,
            "answered_within_target": q.answered_within_target,
            "abandoned": q.abandoned,
            "short_abandons": q.short_abandons,
            "callbacks": q.callbacks,
            "service_level": self.service_level,
            "service_level_with_abandons": self.service_level_with_abandons,
            "asa_s": self.asa_s,
            "aht_s": self.aht_s,
            "average_talk_s": self.average_talk_s,
            "average_wrap_up_s": self.average_wrap_up_s,
            "abandonment_rate": self.abandonment_rate,
            "occupancy": self.occupancy,
            "patience_s": self.patience_s,
            "agent_seconds": dict(sorted(self.agent_times.seconds.items())),
            "by_outcome": dict(sorted(self.by_outcome.items())),
            "by_topic": dict(sorted(self.by_topic.items(), key=lambda kv: (-kv[1], kv[0]))),
            "by_commune": dict(sorted(self.by_commune.items(), key=lambda kv: (-kv[1], kv[0]))),
            "by_hour": [{"hour": h.isoformat(), "calls": n} for h, n in self.by_hour],
        }
