"""How the staff pages write numbers, dates and durations: as a French city writes them, in Europe/Paris."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from hotline.domain.callbacks import FRENCH_RESULTS, AttemptResult

PARIS = ZoneInfo("Europe/Paris")
_FRENCH_E164 = re.compile(r"\+33(\d{9})")
_NATIONAL = re.compile(r"0\d{9}")
INTERRUPTED = "interrupted"  # an attempt cut by a restart of the service


def phone(number: str | None) -> str:
    """+33612345678 → "06 12 34 56 78"; a free number 0800… → "0 800 123 456"; anything else as it came."""
    if not number:
        return "numéro masqué"
    compact = re.sub(r"[\s.-]", "", number)
    french = _FRENCH_E164.fullmatch(compact)
    national = "0" + french.group(1) if french else compact
    if not _NATIONAL.fullmatch(national):
        return number
    if national.startswith("08"):  # numéros spéciaux: the way they are printed on the city's leaflets
        return f"{national[0]} {national[1:4]} {national[4:7]} {national[7:]}"
    return " ".join(national[i : i + 2] for i in range(0, 10, 2))


def local(when: datetime) -> datetime:
    """A stored time (UTC; naive ones are UTC too, as SQLite gives them back) in Paris time."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return aware.astimezone(PARIS)


def date_time(when: datetime | None) -> str:
    """ "03/12/2026 à 14 h 05"."""
    if when is None:
        return ""
    at = local(when)
    return f"{at:%d/%m/%Y} à {at.hour} h {at:%M}"


def clock(when: datetime | None) -> str:
    """ "14 h 05"."""
    if when is None:
        return ""
    at = local(when)
    return f"{at.hour} h {at:%M}"


WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")  # fmt: skip


def long_date(day: date) -> str:
    """ "jeudi 3 décembre 2026" ("1er" for the first of the month)."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{WEEKDAYS[day.weekday()]} {number} {MONTHS[day.month - 1]} {day.year}"


def duration(seconds: float) -> str:
    """ "45 s", "2 min 05 s", "1 h 02 min"."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


# Why the IVR handed the caller to a person (the queue entry's reason).
HANDOFF_LABELS: dict[str, str] = {
    "caller_asked": "a demandé un conseiller",
    "transfer": "sujet traité par un conseiller",
    "report": "signalement à enregistrer",
    "callback": "demande de rappel",
    "not_helped": "la réponse du serveur vocal ne l'a pas aidé",
    "retries_exhausted": "le serveur vocal ne l'a pas compris",
    "lookup_failed": "suivi de dossier impossible",
    "transferred": "transféré par un collègue",
}

CALLBACK_STATE_LABELS: dict[str, str] = {
    "pending": "à rappeler",
    "in_progress": "appel en cours",
    "done": "fait",
    "failed": "abandonné après plusieurs essais",
    "cancelled": "annulé",
}


def handoff(reason: str | None) -> str:
    return HANDOFF_LABELS.get(reason or "", reason or "")


def callback_result(result: str | None) -> str:
    if result is None:
        return "en cours"
    if result == INTERRUPTED:
        return "interrompu (redémarrage du service)"
    known = {r.value: FRENCH_RESULTS[r] for r in AttemptResult}
    return known.get(result, result)


def callback_state(state: str) -> str:
    return CALLBACK_STATE_LABELS.get(str(state), str(state))
