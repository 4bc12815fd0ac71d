"""Calls the dialplan took while the app was down become tickets: nothing is lost.

The dialplan (ivr/asterisk/templates/extensions.conf.j2) records a message as
`<spool>/<epoch>-<caller>.wav` and writes a `key=value` sidecar `.txt` when the call ends. Each sidecar is
imported once: a Call with outcome `fallback` and a ticket waiting for a callback.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import select

from hotline.domain.enums import CallOutcome, TicketStatus
from hotline.services.tickets import TicketService
from hotline.services.unit_of_work import unit_of_work
from hotline.storage import repository
from hotline.storage.models import Call, CallCreate, TicketCreate

log = logging.getLogger(__name__)

IMPORTED_SUFFIX = ".imported"  # a sidecar renamed so is done
SUBJECT_WITH_MESSAGE = "Message laissé pendant une panne du serveur vocal"
SUBJECT_WITHOUT_MESSAGE = "Appel reçu pendant une panne du serveur vocal"
SUBJECT_ANSWERED = "Appel pris par un conseiller pendant une panne du serveur vocal"


def parse_sidecar(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def import_fallback_calls(spool_dir: Path, engine: Engine, called_number: str, tickets: TicketService) -> list[str]:
    """Import every finished fallback call; returns the new tickets' dossier numbers."""
    dossiers: list[str] = []
    if not spool_dir.is_dir():
        return dossiers
    for sidecar in sorted(spool_dir.glob("*.txt")):
        try:
            fields = parse_sidecar(sidecar.read_text(encoding="utf-8", errors="replace"))
            dossier = _import_one(fields, sidecar, engine, called_number, tickets)
        except Exception:
            log.exception("fallback call %s could not be imported; it stays for the next try", sidecar.name)
            continue
        if dossier:
            dossiers.append(dossier)
        sidecar.rename(sidecar.with_name(sidecar.name + IMPORTED_SUFFIX))
    return dossiers


def _import_one(
    fields: dict[str, str], sidecar: Path, engine: Engine, called_number: str, tickets: TicketService
) -> str | None:
    # Asterisk's uniqueid is the channel id: a call the app had already recorded is not imported twice.
    channel_id = fields.get("uniqueid") or f"fallback-{sidecar.stem}"
    answered_by = fields.get("answered_by") or None
    caller = fields.get("caller_id")
    caller = None if caller in (None, "", "anonymous") else caller
    try:
        started = datetime.fromtimestamp(int(fields.get("epoch", "")), tz=UTC)
    except ValueError:
        started = datetime.fromtimestamp(sidecar.stat().st_mtime, tz=UTC)
    recording = sidecar.with_suffix(".wav")
    has_message = recording.exists() and recording.stat().st_size > 44  # more than a bare WAV header
    with unit_of_work(engine, tickets.bus) as uow:
        session = uow.session
        if session.exec(select(Call.id).where(Call.channel_id == channel_id)).first() is not None:
            return None  # imported before (the rename failed)
        call = repository.create_call(
            session,
            CallCreate(
                channel_id=channel_id,
                caller_number=caller,
                called_number=fields.get("dialled") or called_number,
                started_at=started,
            ),
        )
        call.outcome = CallOutcome.TO_AGENT if answered_by else CallOutcome.FALLBACK
        call.ended_at = started
        call_id = call.id
        assert call_id is not None
        repository.record_call_event(
            session,
            call_id,
            "fallback",
            {
                "queue_status": fields.get("queue_status"),
                "record_status": fields.get("record_status"),
                "answered_by": answered_by,
                "recording": str(recording) if has_message else None,
            },
            at=started,
        )
        # An agent who took the call from the fallback queue has served it; otherwise somebody calls back.
        needs_callback = caller is not None and not answered_by
        subject = SUBJECT_ANSWERED if answered_by else SUBJECT_WITH_MESSAGE if has_message else SUBJECT_WITHOUT_MESSAGE
        ticket = tickets.create_in(
            uow, TicketCreate(call_id=call_id, caller_phone=caller, needs_callback=needs_callback, subject=subject)
        )
        ticket.outcome = call.outcome
        session.add(ticket)
        if needs_callback:
            tickets.move_in(uow, ticket, TicketStatus.WAITING_CALLBACK, reason="fallback")
        log.info("fallback call from %s imported as dossier %s", caller or "anonymous", ticket.dossier_number)
        return ticket.dossier_number
