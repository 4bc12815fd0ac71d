"""The rules of the calls' open data: which days are published, how small counts are hidden, and the French
labels of the published codes. Pure rules; the query and the file formats are in hotline.services.opendata.

Only finished reporting days are published (a partial day would change under its readers), and a cell of fewer
than SUPPRESSION_THRESHOLD calls is published without its number, so that nobody can be recognised in it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from hotline.domain import topics
from hotline.domain.enums import CallOutcome
from hotline.domain.report_days import Window, day_window, reporting_day

DATASET = "appels-numero-vert"
SUPPRESSION_THRESHOLD = 5  # a cell of 1 to 4 calls is published as suppressed, never with its number
UNKNOWN_TOPIC = "non_identifie"  # the call's topic was never found
UNKNOWN_COMMUNE = "non_precise"  # the caller named no commune of the territory
UNKNOWN_TOPIC_LABEL = "Non identifié"
DAYS_LISTED = 30  # the open-data page links the last 30 finished days

# The outcomes a published call may have (an in-progress call is never published), by code, in French.
OUTCOME_LABELS: dict[CallOutcome, str] = {
    CallOutcome.SELF_SERVED: "Réponse apportée par le serveur vocal",
    CallOutcome.TO_AGENT: "Mis en relation avec un conseiller",
    CallOutcome.CALLBACK_REQUESTED: "Rappel demandé",
    CallOutcome.ABANDONED: "Raccroché avant d'être servi",
    CallOutcome.FALLBACK: "Reçu pendant une panne (pris en charge par le service de secours)",
}
PUBLISHED_OUTCOMES = tuple(OUTCOME_LABELS)

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class DayNotPublishedError(ValueError):
    """A day the open data does not publish (bad date, future, or not finished); the message is French."""


def published_count(calls: int) -> int | None:
    """The number published for a cell of `calls` calls: None (suppressed) under the threshold."""
    return calls if calls >= SUPPRESSION_THRESHOLD else None


def topic_label(code: str) -> str:
    """The French name of a published topic code."""
    return UNKNOWN_TOPIC_LABEL if code == UNKNOWN_TOPIC else topics.topic(code)


def outcome_label(outcome: CallOutcome) -> str:
    return OUTCOME_LABELS[outcome]


def parse_day(text: str) -> date:
    """'YYYY-MM-DD' → the date; DayNotPublishedError (in French) for anything else."""
    try:
        if not _ISO_DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise DayNotPublishedError(
            f"Date invalide : « {text} ». Le format attendu est AAAA-MM-JJ, par exemple 2026-03-15."
        ) from None


def published_window(day: date, now: datetime, tz: str, day_start: time) -> Window:
    """The UTC bounds of `day` if it is published at `now`: the day must be over (DayNotPublishedError else)."""
    today = reporting_day(now, tz, day_start)
    shown = f"{day_start:%H:%M}"
    if day > today:
        raise DayNotPublishedError(f"Aucune donnée pour le {day.isoformat()} : cette journée n'a pas encore eu lieu.")
    if day == today:
        raise DayNotPublishedError(
            f"La journée du {day.isoformat()} n'est pas terminée : ses données sont publiées après la fin de la "
            f"journée, le lendemain à {shown} (fuseau horaire {tz})."
        )
    try:
        return day_window(day, tz, day_start)
    except OverflowError:
        raise DayNotPublishedError(f"Date hors limites : {day.isoformat()}.") from None


def listed_days(now: datetime, tz: str, day_start: time, count: int = DAYS_LISTED) -> list[date]:
    """The last `count` finished reporting days, the most recent first."""
    today = reporting_day(now, tz, day_start)
    return [today - timedelta(days=back) for back in range(1, count + 1)]
