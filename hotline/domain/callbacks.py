"""Callbacks' rules, with no I/O: when one may be placed (opening hours), and what an attempt's result leads to.

- Opening hours: a setting such as "mon-fri 08:30-17:30; sat 09:00-12:00", in the city's time zone. A callback
  is only placed inside them: nobody is rung at 22:00.
- A callback keeps the caller's place: it is ordered with the waiting callers by its priority and the time the
  caller first joined the queue (hotline.domain.queue).
- An attempt: the agent's phone first (an agent who does not answer is a missed call for the agent, not an
  attempt on the citizen), then the citizen's. Citizen unanswered, busy or unreachable: retried
  `attempts` times in all, `retry_s` apart, then failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from hotline.domain.enums import CallbackState

DEFAULT_HOURS = "mon-fri 08:30-17:30"
DEFAULT_ATTEMPTS = 3
DEFAULT_RETRY_S = 300.0
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_RANGE = r"[a-z]{3}(?:-[a-z]{3})?"
_RULE = re.compile(rf"^(?P<days>{_DAY_RANGE}(?:,{_DAY_RANGE})*)\s+(?P<from>\d{{2}}:\d{{2}})-(?P<to>\d{{2}}:\d{{2}})$")


class AttemptResult(StrEnum):
    """How one attempt ended (kept on the attempt and said on the ticket)."""

    ANSWERED = "answered"  # the citizen answered and was bridged with the agent
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    UNREACHABLE = "unreachable"  # the number or the trunk failed
    AGENT_MISSED = "agent_missed"  # the agent's phone was not answered: the citizen was not called


FRENCH_RESULTS = {
    AttemptResult.ANSWERED: "l'appelant a répondu",
    AttemptResult.NO_ANSWER: "pas de réponse",
    AttemptResult.BUSY: "occupé",
    AttemptResult.UNREACHABLE: "numéro injoignable",
    AttemptResult.AGENT_MISSED: "le conseiller n'a pas décroché",
}


class HoursError(ValueError):
    """An opening-hours setting that does not parse."""


@dataclass(frozen=True)
class OpeningHours:
    """Per weekday (0 = Monday), the open intervals."""

    intervals: tuple[tuple[int, time, time], ...]

    @classmethod
    def parse(cls, spec: str) -> OpeningHours:
        """'mon-fri 08:30-17:30; sat 09:00-12:00' (24:00 allowed as an end)."""
        intervals: list[tuple[int, time, time]] = []
        for rule in (r.strip().lower() for r in spec.split(";")):
            if not rule:
                continue
            match = _RULE.match(rule)
            if match is None:
                raise HoursError(f"horaires « {rule} » : attendu par exemple « mon-fri 08:30-17:30 »")
            start, end = _clock(match["from"], rule), _clock(match["to"], rule)
            if end <= start and end != time.max:
                raise HoursError(f"horaires « {rule} » : la fin n'est pas après le début")
            for day in _days(match["days"], rule):
                intervals.append((day, start, end))
        if not intervals:
            raise HoursError("horaires : aucun n'est donné")
        return cls(tuple(intervals))

    def is_open(self, local: datetime) -> bool:
        now = local.time()
        return any(day == local.weekday() and start <= now < end for day, start, end in self.intervals)


def _clock(text: str, rule: str) -> time:
    hours, minutes = int(text[:2]), int(text[3:])
    if (hours, minutes) == (24, 0):
        return time.max
    if hours > 23 or minutes > 59:
        raise HoursError(f"horaires « {rule} » : {text} n'est pas une heure")
    return time(hours, minutes)


def _days(text: str, rule: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise HoursError(f"horaires « {rule} » : les jours s'écrivent {', '.join(DAYS)}")
        a, b = DAYS.index(first), DAYS.index(last or first)
        if b < a:
            raise HoursError(f"horaires « {rule} » : {part} va à rebours")
        days.extend(range(a, b + 1))
    return days


@dataclass(frozen=True)
class AfterAttempt:
    state: CallbackState
    attempts: int  # attempts on the citizen so far
    due_at: datetime | None  # when to try again (None: not again)


def after_attempt(
    result: AttemptResult, attempts_before: int, now: datetime, max_attempts: int, retry_s: float
) -> AfterAttempt:
    """What an attempt's result does to its callback."""
    if result is AttemptResult.ANSWERED:
        return AfterAttempt(CallbackState.DONE, attempts_before + 1, None)
    if result is AttemptResult.AGENT_MISSED:
        return AfterAttempt(CallbackState.PENDING, attempts_before, now)  # the next agent tries at once
    attempts = attempts_before + 1
    if attempts >= max_attempts:
        return AfterAttempt(CallbackState.FAILED, attempts, None)
    return AfterAttempt(CallbackState.PENDING, attempts, now + timedelta(seconds=retry_s))


def result_of_hangup(cause: int | None) -> AttemptResult:
    """An unanswered citizen leg's ARI hang-up cause (Q.850) as an attempt result."""
    if cause == 17:  # user busy
        return AttemptResult.BUSY
    if cause in (1, 3, 27, 28, 34, 38, 41, 42, 47):  # unallocated number, no route, out of order, congestion…
        return AttemptResult.UNREACHABLE
    return AttemptResult.NO_ANSWER
