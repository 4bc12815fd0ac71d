"""The call timeline is written in batches off the call path, yet each step keeps the time it happened."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from hotline.storage.db import session_scope
from hotline.storage.models import CallEvent, utc_now
from ivr.runtime.store import CallStore
from ivr.runtime.timeline import TimelineWriter
from tests.integration.test_ivr_app import KB

WRITE_DELAY_S = 0.5  # a database busy with other calls' work


class SlowStore(CallStore):
    def record_events(self, steps: list[Any]) -> None:
        time.sleep(WRITE_DELAY_S)
        super().record_events(steps)


async def test_a_step_written_late_keeps_the_time_it_happened(engine: Engine) -> None:
    store = SlowStore(engine, KB)
    call_id = store.start_call("1700000000.9", "0612345678", "0800123456")
    writer = TimelineWriter(store)
    before = utc_now()
    writer.record(call_id, "menu_choice", {"digit": "1"})
    writer.record(call_id, "faq_answered", {"faq_id": "mairie.horaires"})
    await writer.flush()
    written = utc_now()
    with session_scope(engine, write=False) as s:
        steps = s.exec(select(CallEvent).where(CallEvent.kind != "stasis_start").order_by(CallEvent.id)).all()
    assert [e.kind for e in steps] == ["menu_choice", "faq_answered"]
    for step in steps:
        assert before <= step.at < written - timedelta(seconds=WRITE_DELAY_S * 0.8)
