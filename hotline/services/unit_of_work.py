"""One unit of work: a database transaction whose domain events are published once it has committed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine
from sqlmodel import Session

from hotline.bus import DomainEvent, EventBus
from hotline.storage.db import session_scope


class UnitOfWork:
    """The session of one transaction and the events it will publish if (and only if) it commits."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.events: list[DomainEvent] = []

    def publish(self, event: DomainEvent) -> None:
        """Publish `event` after the commit; dropped if the transaction rolls back."""
        self.events.append(event)


@contextmanager
def unit_of_work(engine: Engine, bus: EventBus | None, *, write: bool = True) -> Iterator[UnitOfWork]:
    with session_scope(engine, write=write) as session:
        uow = UnitOfWork(session)
        yield uow
    # session_scope has committed: the changes are visible to anyone the events wake up.
    if bus is not None:
        for event in uow.events:
            bus.publish(event)
