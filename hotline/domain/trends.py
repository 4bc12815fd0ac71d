"""Topics trending now against their usual level: the "sujet en hausse" banner.

The rule is a rate over a baseline, not a fixed count: a topic (or a topic in one commune) surges when, over
the last RECENT_S, it came in at least SURGE_FACTOR times its usual hourly rate (its rate over the
BASELINE_S before), and at least SURGE_MIN_CALLS times. A topic with no history counts as BASELINE_FLOOR_PER_H
calls an hour, so a quiet topic's first two calls are no surge, while ten water calls in half an hour are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

RECENT_S = 30 * 60.0
BASELINE_S = 7 * 24 * 3600.0  # the week before: weekdays and weekends both in it
SURGE_FACTOR = 3.0
SURGE_MIN_CALLS = 5
BASELINE_FLOOR_PER_H = 1.0
COMMUNE_SHARE = 0.5  # a surge is named for a commune when at least half of its calls came from there

Key = tuple[str, str | None]  # (topic, commune); commune None: the caller named none


@dataclass(frozen=True)
class SurgeRule:
    recent_s: float = RECENT_S
    baseline_s: float = BASELINE_S
    factor: float = SURGE_FACTOR
    min_calls: int = SURGE_MIN_CALLS
    floor_per_h: float = BASELINE_FLOOR_PER_H

    def describe(self) -> str:
        """The rule in French, as the wallboard states it."""
        return (
            f"Un sujet est « en hausse » quand, sur les {self.recent_s / 60:.0f} dernières minutes, il arrive au "
            f"moins {self.factor:g} fois plus vite que d'habitude (sa moyenne horaire des "
            f"{self.baseline_s / 86400:.0f} jours précédents, au moins {self.floor_per_h:g} appel par heure) "
            f"et au moins {self.min_calls} fois."
        )


@dataclass(frozen=True)
class Surge:
    topic: str
    commune: str | None  # where most of its calls came from, when one commune stands out
    recent_calls: int
    recent_per_h: float
    usual_per_h: float  # the baseline rate (before the floor)

    @property
    def factor(self) -> float:
        return self.recent_per_h / max(self.usual_per_h, 1e-9)


def _per_h(count: int, seconds: float) -> float:
    return count * 3600.0 / seconds


def _surging(recent: int, usual_per_h: float, rule: SurgeRule) -> bool:
    rate = _per_h(recent, rule.recent_s)
    return recent >= rule.min_calls and rate >= rule.factor * max(usual_per_h, rule.floor_per_h)


def surges(recent: Mapping[Key, int], baseline: Mapping[Key, int], rule: SurgeRule = SurgeRule()) -> list[Surge]:
    """Surging topics, strongest first. `recent` and `baseline` count calls by (topic, commune), commune None
    for the calls that named none."""

    def topic_total(counts: Mapping[Key, int], topic: str) -> int:
        return sum(n for (t, _), n in counts.items() if t == topic)

    found: list[Surge] = []
    for topic in sorted({t for t, _ in recent}):
        now = topic_total(recent, topic)
        usual = _per_h(topic_total(baseline, topic), rule.baseline_s)
        by_commune = {c: n for (t, c), n in recent.items() if t == topic and c is not None}
        local = [
            (n, c)
            for c, n in by_commune.items()
            if _surging(n, _per_h(baseline.get((topic, c), 0), rule.baseline_s), rule)
        ]
        if _surging(now, usual, rule):
            top = max(by_commune.items(), key=lambda cn: (cn[1], cn[0]), default=None)
            commune = top[0] if top and top[1] >= COMMUNE_SHARE * now else None
            found.append(Surge(topic, commune, now, _per_h(now, rule.recent_s), usual))
        elif local:  # the topic overall is usual, but one commune's calls are not (a cut in one hamlet)
            n, commune = max(local)
            usual_there = _per_h(baseline.get((topic, commune), 0), rule.baseline_s)
            found.append(Surge(topic, commune, n, _per_h(n, rule.recent_s), usual_there))
    return sorted(found, key=lambda s: (-s.recent_per_h / max(s.usual_per_h, rule.floor_per_h), s.topic))
