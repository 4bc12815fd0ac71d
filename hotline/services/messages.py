"""The callers' recorded messages: which recording a call left (its `message_kept` event), and where its audio is
fetched from (Asterisk keeps the files; the IVR's ARI client reads them for the web)."""

from __future__ import annotations

import re
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hotline.storage.models import CallEvent

# The names the IVR gives recordings (ivr.runtime.session): nothing else is ever asked of Asterisk.
RECORDING_NAME = re.compile(r"hotline-message-[A-Za-z0-9-]{1,80}")


class RecordingNotFoundError(LookupError):
    """Asterisk no longer has this recording (deleted, or the call's Asterisk was another)."""


class RecordingSource(Protocol):
    async def fetch(self, name: str) -> bytes:
        """The recording's WAV bytes; RecordingNotFoundError when Asterisk has none by that name."""
        ...


def message_of_call(engine: Engine, call_id: int) -> str | None:
    """The name of the message the caller left on this call (None: they left none)."""
    with Session(engine) as session:
        events = session.exec(
            select(CallEvent)
            .where(CallEvent.call_id == call_id, CallEvent.kind == "message_kept")
            .order_by(col(CallEvent.id).desc())
        ).all()
    for event in events:
        name = str(event.data.get("recording", ""))
        if RECORDING_NAME.fullmatch(name):
            return name
    return None
