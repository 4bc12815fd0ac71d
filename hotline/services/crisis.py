"""Crisis mode: one row in the database, read by the IVR for each new call without a database round trip.

The state lives in the `crisis_state` table so that every process sees the same; `CrisisService.current()` is an
in-memory copy, updated at once by `set()` in this process and refreshed by `refresh()` (the IVR calls it in the
background every CRISIS_REFRESH_S) for changes made by another process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.engine import Engine

from hotline import bus as events
from hotline.bus import EventBus
from hotline.services.unit_of_work import unit_of_work
from hotline.storage import repository
from hotline.storage.models import CrisisState, utc_now

CRISIS_REFRESH_S = 0.5  # a switch made in another process reaches new calls within a second (one row read)


@dataclass(frozen=True)
class Crisis:
    active: bool
    message: str | None  # the pre-announcement played after the greeting (None: none)
    recording: str | None = None  # an uploaded pre-announcement (its name in the prompts folder), heard instead
    pinned_faq_id: str | None = None  # the crisis FAQ entry that wins the matching when it is close
    overflow_wait_s: float | None = None  # above this expected wait, callers are offered the callback at once

    @property
    def announcement(self) -> str | None:
        return self.message if self.active and self.message and self.message.strip() else None

    @property
    def announcement_recording(self) -> str | None:
        return self.recording if self.active else None

    @property
    def pinned(self) -> str | None:
        return self.pinned_faq_id if self.active else None

    @property
    def overflow_s(self) -> float | None:
        return self.overflow_wait_s if self.active else None

    def as_dict(self) -> dict[str, object]:
        return {
            "active": self.active,
            "message": self.message,
            "recording": self.recording,
            "pinned_faq_id": self.pinned_faq_id,
            "overflow_wait_s": self.overflow_wait_s,
        }


def _from_row(row: CrisisState) -> Crisis:
    return Crisis(row.active, row.message, row.recording, row.pinned_faq_id, row.overflow_wait_s)


NO_CRISIS = Crisis(False, None)
OVERFLOW_MIN_S, OVERFLOW_MAX_S = 0.0, 3600.0


class ImportedAnnouncement(Protocol):
    @property
    def name(self) -> str: ...  # recorded/<key>
    @property
    def seconds(self) -> float: ...


class Announcements(Protocol):
    """What the supervisor's page does with a pre-announcement; the IVR's prompts implement it (a ValueError
    says in French why a text or a file was refused)."""

    def preview(self, text: str) -> bytes: ...
    def import_recording(self, data: bytes, filename: str) -> ImportedAnnouncement: ...
    def recording(self, name: str) -> bytes | None: ...


class CrisisService:
    def __init__(self, engine: Engine, bus: EventBus | None, default: Crisis = NO_CRISIS) -> None:
        """`default`: the state while no supervisor has set one (e.g. HOTLINE_CRISIS_MESSAGE at start)."""
        self.engine = engine
        self.bus = bus
        self.default = default
        self._current = default

    def current(self) -> Crisis:
        """The crisis state as last read or set (no I/O: the IVR asks for each call on the event loop)."""
        return self._current

    def refresh(self) -> Crisis:
        with unit_of_work(self.engine, None, write=False) as uow:
            row = uow.session.get(CrisisState, repository.CRISIS_ROW_ID)
            self._current = _from_row(row) if row else self.default
        return self._current

    def set(
        self,
        active: bool,
        message: str | None,
        *,
        by: str,
        recording: str | None = None,
        pinned_faq_id: str | None = None,
        overflow_wait_s: float | None = None,
    ) -> Crisis:
        """Switch crisis mode on or off, with its pre-announcement (typed or recorded), its pinned entry and
        its overflow wait; audited (who, when, what) and announced on the bus."""
        new = Crisis(active, message, recording, pinned_faq_id, overflow_wait_s)
        with unit_of_work(self.engine, self.bus) as uow:
            row = uow.session.get(CrisisState, repository.CRISIS_ROW_ID) or CrisisState(id=repository.CRISIS_ROW_ID)
            row.active, row.message, row.recording = active, message, recording
            row.pinned_faq_id, row.overflow_wait_s = pinned_faq_id, overflow_wait_s
            row.changed_at = utc_now()
            row.changed_by = by
            uow.session.add(row)
            details = {k: v for k, v in new.as_dict().items() if k != "active"}
            repository.audit(uow.session, by, "crisis_mode.on" if active else "crisis_mode.off", "", details)
            uow.publish(events.CrisisChanged(active=active, message=message, by=by))
        self._current = new
        return self._current
