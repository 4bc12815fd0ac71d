"""The open data's rules: the suppression threshold, which days are published, the French labels."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from hotline.domain import opendata as rules
from hotline.domain.enums import CallOutcome
from hotline.domain.opendata_dictionary import DICTIONARY
from hotline.services.opendata import COLUMNS

PARIS = "Europe/Paris"
MIDNIGHT = time(0, 0)


@pytest.mark.parametrize(("calls", "published"), [(1, None), (4, None), (5, 5), (6, 6), (20_000, 20_000)])
def test_counts_under_five_are_suppressed(calls: int, published: int | None) -> None:
    assert rules.published_count(calls) == published


def test_every_ended_outcome_has_a_french_label_and_in_progress_none() -> None:
    assert set(rules.OUTCOME_LABELS) == set(CallOutcome) - {CallOutcome.IN_PROGRESS}
    assert rules.topic_label("eau") == "Eau" and rules.topic_label(rules.UNKNOWN_TOPIC) == "Non identifié"


@pytest.mark.parametrize("text", ["2026-02-29", "2026-1-5", "26-01-05", "2026-01-05T00:00", "", "demain"])
def test_a_bad_date_is_refused_in_french(text: str) -> None:
    with pytest.raises(rules.DayNotPublishedError, match="Date invalide"):
        rules.parse_day(text)


def test_only_finished_days_are_published() -> None:
    now = datetime(2026, 3, 15, 23, 30, tzinfo=UTC)  # 00:30 on 16 March in Paris
    window = rules.published_window(date(2026, 3, 15), now, PARIS, MIDNIGHT)
    assert window.start == datetime(2026, 3, 14, 23, 0, tzinfo=UTC)
    with pytest.raises(rules.DayNotPublishedError, match=r"n'est pas terminée.*le lendemain à 00:00"):
        rules.published_window(date(2026, 3, 16), now, PARIS, MIDNIGHT)
    with pytest.raises(rules.DayNotPublishedError, match="pas encore eu lieu"):
        rules.published_window(date(2026, 3, 17), now, PARIS, MIDNIGHT)
    with pytest.raises(rules.DayNotPublishedError, match=r"n'est pas terminée.*à 06:00"):
        rules.published_window(date(2026, 3, 15), now, PARIS, time(6, 0))  # its day ends at 06:00 on the 16th
    with pytest.raises(rules.DayNotPublishedError, match="hors limites"):
        rules.published_window(date(1, 1, 1), now, PARIS, MIDNIGHT)


def test_the_page_lists_the_30_days_before_today() -> None:
    days = rules.listed_days(datetime(2026, 3, 15, 12, 0, tzinfo=UTC), PARIS, MIDNIGHT)
    assert len(days) == 30 and days[0] == date(2026, 3, 14) and days[-1] == date(2026, 2, 13)


def test_the_dictionary_describes_every_published_column() -> None:
    assert [c["name"] for c in DICTIONARY["columns"]] == list(COLUMNS)
    assert DICTIONARY["suppression"]["threshold"] == rules.SUPPRESSION_THRESHOLD
    assert DICTIONARY["licence"]["spdx"] == "etalab-2.0"
