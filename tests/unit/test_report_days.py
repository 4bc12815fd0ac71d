from datetime import UTC, date, datetime, time

import pytest

from hotline.domain.report_days import Window, day_window, parse_day_start, reporting_day, today_window

PARIS = "Europe/Paris"


def test_a_winter_day_in_paris_starts_at_23_utc() -> None:
    w = day_window(date(2026, 12, 4), PARIS)
    assert w.start == datetime(2026, 12, 3, 23, tzinfo=UTC) and w.end == datetime(2026, 12, 4, 23, tzinfo=UTC)
    assert w.seconds == 86_400


def test_the_day_the_clocks_go_back_lasts_25_hours() -> None:
    assert day_window(date(2026, 10, 25), PARIS).seconds == 25 * 3600
    assert day_window(date(2026, 3, 29), PARIS).seconds == 23 * 3600


def test_a_day_starting_at_six_keeps_the_night_in_the_day_before() -> None:
    six = time(6, 0)
    night = datetime(2026, 12, 4, 3, 30, tzinfo=UTC)  # 04:30 in Paris
    assert reporting_day(night, PARIS, six) == date(2026, 12, 3)
    assert reporting_day(night, PARIS) == date(2026, 12, 4)
    w = today_window(night, PARIS, six)
    assert w.start == datetime(2026, 12, 3, 5, tzinfo=UTC) and w.start <= night < w.end


def test_day_start_is_parsed_or_refused() -> None:
    assert parse_day_start("06:30") == time(6, 30)
    with pytest.raises(ValueError, match="HH:MM"):
        parse_day_start("six")
    with pytest.raises(ValueError, match="HH:MM"):
        parse_day_start("25:00")


def test_a_window_must_be_aware_and_ordered() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Window(datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="end after"):
        Window(datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
