"""The reporting day: when "today" starts and ends for the KPIs, the wallboard and the open data.

A day runs from `day_start` (local time in the city's time zone) to the same time the next day, so a centre
that counts its day from 06:00 sees a night call in the day before. Bounds are returned in UTC, half-open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Window:
    """A half-open interval [start, end) in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a window's bounds must carry a time zone")
        if self.end <= self.start:
            raise ValueError(f"a window must end after it starts ({self.start} to {self.end})")

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def parse_day_start(value: str) -> time:
    """'HH:MM' → a time; a clear ValueError otherwise."""
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise ValueError(f"day start {value!r}: expected HH:MM, e.g. 00:00 or 06:00") from exc


def day_window(day: date, tz: str, day_start: time = time(0, 0)) -> Window:
    """The reporting day `day` in the zone `tz` (a day is 23 or 25 hours when the clocks change)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, day_start, zone)
    end = datetime.combine(day + timedelta(days=1), day_start, zone)
    return Window(start.astimezone(UTC), end.astimezone(UTC))


def reporting_day(at: datetime, tz: str, day_start: time = time(0, 0)) -> date:
    """The reporting day the instant `at` belongs to."""
    local = at.astimezone(ZoneInfo(tz))
    return local.date() if local.time() >= day_start else local.date() - timedelta(days=1)


def today_window(now: datetime, tz: str, day_start: time = time(0, 0)) -> Window:
    return day_window(reporting_day(now, tz, day_start), tz, day_start)
