"""Calls taken by the dialplan fallback become tickets, once each, on both databases."""

from __future__ import annotations

import wave
from pathlib import Path

from sqlmodel import select

from hotline.domain.enums import CallOutcome, TicketStatus
from hotline.services.tickets import TicketService
from hotline.settings import DEFAULT_KB_PATH
from hotline.storage.db import make_engine, session_scope, upgrade_database
from hotline.storage.models import Call, CallEvent, Ticket
from ivr.runtime.fallback import import_fallback_calls, parse_sidecar
from kb.loader import load_kb

KB = load_kb(DEFAULT_KB_PATH)


def _message(spool: Path, base: str, caller: str, seconds: float = 2.0) -> None:
    with wave.open(str(spool / f"{base}.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x10\x00" * int(8000 * seconds))
    (spool / f"{base}.txt").write_text(
        f"caller_id={caller}\nepoch=1763800000\nuniqueid=1763800000.{base[-1]}\ndialled=0800123456\n"
        "queue_status=TIMEOUT\nrecord_status=SILENCE\n",
        encoding="utf-8",
    )


def test_parse_sidecar() -> None:
    assert parse_sidecar("a=1\nb = x=y\n\nnoise") == {"a": "1", "b": "x=y"}


def test_import_once(tmp_path: Path, database_url: str) -> None:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    spool = tmp_path / "spool"
    spool.mkdir()
    _message(spool, "1763800000-0612345678", "0612345678")
    (spool / "1763800001-anonymous.txt").write_text("caller_id=anonymous\nepoch=1763800001\nuniqueid=9\n")
    (spool / "in-progress.wav").write_bytes(b"")  # no sidecar yet: the call is still going on
    (spool / "1763800002-0655555555.txt").write_text(
        "caller_id=0655555555\nepoch=1763800002\nuniqueid=1763800002.7\nanswered_by=PJSIP/agent1\nrecord_status=NONE\n"
    )
    first = import_fallback_calls(spool, engine, "0800123456", TicketService(engine, None, KB))
    assert len(first) == 3
    assert import_fallback_calls(spool, engine, "0800123456", TicketService(engine, None, KB)) == []  # imported once
    with session_scope(engine) as s:
        calls = s.exec(select(Call).order_by(Call.id)).all()
        assert [c.outcome for c in calls] == [CallOutcome.FALLBACK, CallOutcome.FALLBACK, CallOutcome.TO_AGENT]
        assert calls[0].caller_number == "0612345678" and calls[1].caller_number is None
        tickets = s.exec(select(Ticket).order_by(Ticket.id)).all()
        assert tickets[0].status is TicketStatus.WAITING_CALLBACK and tickets[0].needs_callback
        assert tickets[0].subject.startswith("Message laissé")
        assert tickets[1].status is TicketStatus.OPEN and not tickets[1].needs_callback  # nobody to call back
        assert not tickets[2].needs_callback and tickets[2].outcome is CallOutcome.TO_AGENT  # an agent took it
        event = s.exec(select(CallEvent).where(CallEvent.call_id == calls[0].id)).one()
        assert event.data["recording"].endswith("1763800000-0612345678.wav")
    assert sorted(p.name for p in spool.iterdir()) == [
        "1763800000-0612345678.txt.imported",
        "1763800000-0612345678.wav",
        "1763800001-anonymous.txt.imported",
        "1763800002-0655555555.txt.imported",
        "in-progress.wav",
    ]
    engine.dispose()
