"""Callbacks' rules: opening hours, what each attempt's result leads to, and their place in the queue."""

from datetime import UTC, datetime, timedelta

import pytest

from hotline.domain.callbacks import AttemptResult, HoursError, OpeningHours, after_attempt, result_of_hangup
from hotline.domain.enums import CallbackState
from hotline.domain.queue import WaitingCaller, position_of, queue_order

MONDAY = datetime(2026, 11, 30, 9, 0)  # a Monday, local time


def test_opening_hours_by_day_and_time() -> None:
    hours = OpeningHours.parse("mon-fri 08:30-17:30; sat 09:00-12:00")
    assert hours.is_open(MONDAY)
    assert not hours.is_open(MONDAY.replace(hour=8, minute=29))
    assert hours.is_open(MONDAY.replace(hour=8, minute=30))
    assert not hours.is_open(MONDAY.replace(hour=17, minute=30))  # the end is excluded
    assert hours.is_open(MONDAY + timedelta(days=5, hours=2))  # Saturday 11:00
    assert not hours.is_open(MONDAY + timedelta(days=5, hours=4))  # Saturday 13:00
    assert not hours.is_open(MONDAY + timedelta(days=6))  # Sunday


def test_all_day_and_lists_of_days() -> None:
    always = OpeningHours.parse("mon-sun 00:00-24:00")
    assert always.is_open(MONDAY.replace(hour=23, minute=59, second=59))
    assert OpeningHours.parse("mon,wed 10:00-11:00").is_open(MONDAY.replace(hour=10) + timedelta(days=2))
    assert not OpeningHours.parse("mon,wed 10:00-11:00").is_open(MONDAY.replace(hour=10) + timedelta(days=1))


@pytest.mark.parametrize(
    "spec, says",
    [
        ("lundi 08:00-12:00", "attendu"),
        ("mon-fri 18:00-08:00", "pas après le début"),
        ("fri-mon 08:00-12:00", "à rebours"),
        ("mon 25:00-26:00", "pas une heure"),
        ("", "aucun"),
        ("xyz 08:00-09:00", "les jours s'écrivent"),
    ],
)
def test_bad_opening_hours_say_why(spec: str, says: str) -> None:
    with pytest.raises(HoursError, match=says):
        OpeningHours.parse(spec)


NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def test_an_unanswered_citizen_is_retried_then_the_callback_fails() -> None:
    first = after_attempt(AttemptResult.NO_ANSWER, 0, NOW, max_attempts=3, retry_s=300)
    assert (first.state, first.attempts, first.due_at) == (CallbackState.PENDING, 1, NOW + timedelta(seconds=300))
    second = after_attempt(AttemptResult.BUSY, 1, NOW, 3, 300)
    assert (second.state, second.attempts) == (CallbackState.PENDING, 2)
    third = after_attempt(AttemptResult.UNREACHABLE, 2, NOW, 3, 300)
    assert (third.state, third.attempts, third.due_at) == (CallbackState.FAILED, 3, None)


def test_an_answer_is_done_and_a_missed_agent_is_not_an_attempt() -> None:
    assert after_attempt(AttemptResult.ANSWERED, 1, NOW, 3, 300).state is CallbackState.DONE
    missed = after_attempt(AttemptResult.AGENT_MISSED, 1, NOW, 3, 300)
    assert (missed.state, missed.attempts, missed.due_at) == (CallbackState.PENDING, 1, NOW)


def test_hangup_causes() -> None:
    assert result_of_hangup(17) is AttemptResult.BUSY
    assert result_of_hangup(1) is AttemptResult.UNREACHABLE
    assert result_of_hangup(19) is AttemptResult.NO_ANSWER
    assert result_of_hangup(None) is AttemptResult.NO_ANSWER


def test_a_callback_keeps_its_callers_place_in_the_line() -> None:
    early = WaitingCaller(0, 0, NOW - timedelta(minutes=5), "eau", callback_id=7)
    waiting = [WaitingCaller(3, 0, NOW - timedelta(minutes=1)), WaitingCaller(4, 0, NOW)]
    assert queue_order([*waiting, early])[0] is early
    assert position_of(3, [*waiting, early]) == 2  # the callback ahead counts
    assert position_of(0, [*waiting, early]) is None  # a callback is not a caller on the line
    urgent = WaitingCaller(5, 10, NOW)
    assert queue_order([*waiting, early, urgent])[0] is urgent
