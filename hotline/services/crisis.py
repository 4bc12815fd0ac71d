"""Crisis mode: one row in the database, read by the IVR for each new call without a database round trip.

The state lives in the `crisis_state` table so that every process sees the same; `CrisisService.current()` is an
in-memory copy, updated at once by `set()` in this process and refreshed by `refresh()` (the IVR calls it in the
background every CRISIS_REFRESH_S) for changes made by another process.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from hotline import bus as events
from hotline.bus import EventBus
from hotline.services.unit_of_work import unit_of_work
from hotline.storage import repository
from hotline.storage.models import CrisisState, utc_now

CRISIS_REFRESH_S = 2.0  # a supervisor's switch made in another process reaches new calls this fast


@dataclass(frozen=True)
class Crisis:
    active: bool
    message: str | None  # the pre-announcement played after the greeting (None: none)

    @property
    def announcement(self) -> str | None:
        return self.message if self.active and self.message and self.message.strip() else None


NO_CRISIS = Crisis(False, None)


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
            self._current = Crisis(row.active, row.message) if row else self.default
        return self._current

    def set(self, active: bool, message: str | None, *, by: str) -> Crisis:
        """Switch crisis mode on or off (with its pre-announcement); audited and announced on the bus."""
        with unit_of_work(self.engine, self.bus) as uow:
            row = uow.session.get(CrisisState, repository.CRISIS_ROW_ID) or CrisisState(id=repository.CRISIS_ROW_ID)
            row.active = active
            row.message = message
            row.changed_at = utc_now()
            row.changed_by = by
            uow.session.add(row)
            repository.audit(
                uow.session, by, "crisis_mode.on" if active else "crisis_mode.off", "", {"message": message}
            )
            uow.publish(events.CrisisChanged(active=active, message=message, by=by))
        self._current = Crisis(active, message)
        return self._current
