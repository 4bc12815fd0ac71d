"""The settings an admin changes while the service runs (/admin): the pause reasons agents choose from and the
hours callbacks are placed in. Each is a row of `site_setting` overriding the environment's value; every change
is validated, audited (who, when, what) and read by every process within REFRESH_S."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hotline.domain.callbacks import OpeningHours
from hotline.services.unit_of_work import unit_of_work
from hotline.storage import repository
from hotline.storage.models import SiteSetting, utc_now

PAUSE_REASONS = "pause_reasons"
CALLBACK_HOURS = "callback_hours"
REFRESH_S = 2.0  # another process's change is seen this fast
REASON_MAX = 40
REASONS_MAX = 20


@dataclass(frozen=True)
class Defaults:
    pause_reasons: tuple[str, ...]
    callback_hours: str


def clean_reasons(reasons: Sequence[str]) -> tuple[str, ...]:
    """The reasons as given, trimmed, without blanks or repeats; ValueError (in French) when unusable."""
    kept: list[str] = []
    for reason in (r.strip() for r in reasons):
        if reason and reason not in kept:
            if len(reason) > REASON_MAX:
                raise ValueError(f"motif trop long (plus de {REASON_MAX} caractères) : {reason}")
            kept.append(reason)
    if not kept:
        raise ValueError("il faut au moins un motif de pause")
    if len(kept) > REASONS_MAX:
        raise ValueError(f"{REASONS_MAX} motifs au plus")
    return tuple(kept)


class SiteSettings:
    def __init__(self, engine: Engine, defaults: Defaults) -> None:
        self.engine = engine
        self.defaults = defaults
        self._cache: dict[str, Any] = {}
        self._read_at = float("-inf")

    def _values(self) -> dict[str, Any]:
        if time.monotonic() - self._read_at > REFRESH_S:
            with Session(self.engine) as session:
                self._cache = {row.key: row.value for row in session.exec(select(SiteSetting))}
            self._read_at = time.monotonic()
        return self._cache

    def pause_reasons(self) -> tuple[str, ...]:
        stored = self._values().get(PAUSE_REASONS)
        return tuple(stored) if stored else self.defaults.pause_reasons

    def callback_hours_text(self) -> str:
        return str(self._values().get(CALLBACK_HOURS) or self.defaults.callback_hours)

    def callback_hours(self) -> OpeningHours:
        return OpeningHours.parse(self.callback_hours_text())

    def set_pause_reasons(self, reasons: Sequence[str], *, by: str) -> tuple[str, ...]:
        kept = clean_reasons(reasons)
        self._write(PAUSE_REASONS, list(kept), by, {"from": list(self.pause_reasons()), "to": list(kept)})
        return kept

    def set_callback_hours(self, spec: str, *, by: str) -> str:
        OpeningHours.parse(spec)  # HoursError, in French, says what is wrong
        text = spec.strip()
        self._write(CALLBACK_HOURS, text, by, {"from": self.callback_hours_text(), "to": text})
        return text

    def _write(self, key: str, value: Any, by: str, details: dict[str, Any]) -> None:
        with unit_of_work(self.engine, None) as uow:
            row = uow.session.get(SiteSetting, key) or SiteSetting(key=key, value=value, changed_by=by)
            row.value, row.changed_by, row.changed_at = value, by, utc_now()
            uow.session.add(row)
            repository.audit(uow.session, by, f"settings.{key}", key, details)
        self._read_at = float("-inf")  # this process sees it at once
