"""Open311 GeoReport v2 over the tickets: the request types a city system may file, requests created with an API
key, and requests listed and read back. The tickets are the same ones the phone makes: a request's
`service_request_id` is its dossier number, which the citizen can follow on the hotline.

Errors are `Open311Error(code, description)`: 400 for bad input, 403 for a missing or wrong key, 404 for an
unknown service or request; the web layer writes them in the spec's form, in JSON or XML.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hotline.bus import EventBus
from hotline.domain import dossier
from hotline.domain.enums import DONE_TICKET_STATUSES, TicketStatus
from hotline.domain.topics import topic
from hotline.services.tickets import TicketService
from hotline.services.unit_of_work import unit_of_work
from hotline.storage import repository
from hotline.storage.models import Open311Key, Ticket, TicketCreate, utc_now
from kb.loader import KnowledgeBase
from kb.schema import Action, Entry

PARIS = ZoneInfo("Europe/Paris")
SERVICE_ACTIONS = (Action.REPORT, Action.CALLBACK)  # the entries a city system may file a request under
DESCRIPTION_MAX = 4000
LIST_DEFAULT_DAYS = 90  # the spec's default window, and the widest one a query may ask for
LIST_MAX = 1000
ORIGIN = "open311"
KEY_BYTES = 24

# The one attribute every request type takes: how urgent the reporter says it is (it sets the ticket's priority).
URGENCY = "urgence"
URGENCY_PRIORITY = {"faible": 20, "normale": None, "urgente": 90}  # None: the entry's own priority
URGENCY_NAMES = {"faible": "Faible", "normale": "Normale", "urgente": "Urgente (danger, bien public menacé)"}
CONTACT_FIELDS = ("email", "device_id", "account_id", "first_name", "last_name", "phone", "media_url")


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass(frozen=True)
class Service:
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


@dataclass(frozen=True)
class AttributeValue:
    key: str
    name: str


@dataclass(frozen=True)
class Attribute:
    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[AttributeValue] = field(default_factory=list)


@dataclass(frozen=True)
class Created:
    service_request_id: str
    service_notice: str
    account_id: str | None


def _first_sentence(text: str) -> str:
    head, dot, _ = text.strip().partition(". ")
    return head + (dot.strip() if dot else "")


def service_entries(kb: KnowledgeBase) -> list[Entry]:
    return sorted((e for e in kb.entries if e.action in SERVICE_ACTIONS), key=lambda e: (e.topic, e.id))


def services(kb: KnowledgeBase) -> list[Service]:
    return [
        Service(
            service_code=e.id,
            service_name=e.title,
            description=_first_sentence(e.web_answer),
            metadata=True,
            type="realtime",  # the dossier number is given at once
            keywords=", ".join(e.keywords),
            group=topic(e.topic),
        )
        for e in service_entries(kb)
    ]


def attributes() -> list[Attribute]:
    return [
        Attribute(
            variable=True, code=URGENCY, datatype="singlevaluelist", required=False,
            datatype_description="Une des valeurs : faible, normale, urgente.", order=1,
            description="Degré d'urgence signalé par le demandeur",
            values=[AttributeValue(k, URGENCY_NAMES[k]) for k in URGENCY_PRIORITY],
        )
    ]  # fmt: skip


def service(kb: KnowledgeBase, code: str) -> Entry:
    for entry in service_entries(kb):
        if entry.id == code:
            return entry
    raise Open311Error(404, f"service_code inconnu : {code}")


# ---- keys


def _hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class KeyNameTakenError(ValueError):
    pass


def add_key(engine: Engine, name: str) -> str:
    """A new API key for the city system `name`: returned once, only its hash is kept."""
    if not name.strip() or len(name) > 64:
        raise ValueError("a key's name is 1 to 64 characters")
    api_key = secrets.token_urlsafe(KEY_BYTES)
    with unit_of_work(engine, None) as uow:
        if uow.session.exec(select(Open311Key).where(Open311Key.name == name)).first() is not None:
            raise KeyNameTakenError(f"a key named {name!r} exists already")
        uow.session.add(Open311Key(name=name, key_hash=_hash(api_key)))
        repository.audit(uow.session, "cli", "open311.key_added", name, {})
    return api_key


def key_owner(engine: Engine, api_key: str) -> str | None:
    """The name of the system this key belongs to (None: unknown or revoked)."""
    if not api_key:
        return None
    with Session(engine) as session:
        found = session.exec(select(Open311Key).where(Open311Key.key_hash == _hash(api_key))).first()
    return found.name if found is not None and found.revoked_at is None else None


# ---- requests


def _text(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def _coordinate(form: Mapping[str, str], name: str, limit: float) -> float | None:
    raw = _text(form, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} n'est pas un nombre : {raw}") from None
    if not -limit <= value <= limit:
        raise Open311Error(400, f"{name} hors limites : {raw}")
    return value


def _attributes(form: Mapping[str, str]) -> dict[str, str]:
    given = {k[len("attribute[") : -1]: v for k, v in form.items() if k.startswith("attribute[") and k.endswith("]")}
    known = {a.code: a for a in attributes()}
    for code, value in given.items():
        if code not in known:
            raise Open311Error(400, f"attribut inconnu : {code}")
        allowed = {v.key for v in known[code].values}
        if allowed and value not in allowed:
            raise Open311Error(400, f"valeur inconnue pour l'attribut {code} : {value}")
    return given


def create_request(
    engine: Engine, bus: EventBus | None, kb: KnowledgeBase, form: Mapping[str, str], *, key_name: str,
    hotline_number: str,
) -> Created:  # fmt: skip
    code = _text(form, "service_code")
    if code is None:
        raise Open311Error(400, "service_code manquant")
    entry = service(kb, code)
    lat, lon = _coordinate(form, "lat", 90), _coordinate(form, "long", 180)
    address = _text(form, "address_string") or _text(form, "address_id")
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat et long vont ensemble")
    if lat is None and address is None:
        raise Open311Error(400, "un lieu est requis : lat et long, ou address_string")
    if address is not None and len(address) > 500:
        raise Open311Error(400, "address_string dépasse 500 caractères")
    description = _text(form, "description")
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise Open311Error(400, f"description dépasse {DESCRIPTION_MAX} caractères")
    given = _attributes(form)
    requester = {f: v for f in CONTACT_FIELDS if (v := _text(form, f)) is not None}
    for name, value in requester.items():
        if len(value) > 500:
            raise Open311Error(400, f"{name} dépasse 500 caractères")
    urgency = URGENCY_PRIORITY.get(given.get(URGENCY, "normale"))
    phone = "".join(c for c in requester.get("phone", "") if c.isdigit() or c == "+") or None
    tickets = TicketService(engine, bus, kb)
    with unit_of_work(engine, bus) as uow:
        ticket = tickets.create_in(
            uow,
            TicketCreate(subject=entry.title, faq_id=entry.id, service=entry.service, caller_phone=phone,
                         priority=urgency if urgency is not None else entry.priority),
        )  # fmt: skip
        ticket.origin, ticket.category, ticket.description = ORIGIN, entry.topic, description
        ticket.address, ticket.lat, ticket.lon = address, lat, lon
        ticket.requester, ticket.attributes = requester, given
        uow.session.add(ticket)
        repository.add_ticket_note(uow.session, ticket, f"Demande reçue par Open311 ({key_name}).")
        number = ticket.dossier_number
    spoken = " ".join(number[i : i + 2] for i in range(0, len(number), 2))
    notice = (f"Demande enregistrée sous le numéro de dossier {number}. Suivez-la au {hotline_number} "
              f"(numéro de dossier : {spoken}).")  # fmt: skip
    return Created(number, notice, requester.get("account_id"))


def _when(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise Open311Error(400, f"{name} n'est pas une date ISO 8601 : {raw}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=PARIS)


def list_requests(engine: Engine, kb: KnowledgeBase, query: Mapping[str, str]) -> list[dict[str, Any]]:
    codes = {e.id for e in service_entries(kb)}
    select_rows = select(Ticket).where(col(Ticket.faq_id).in_(codes))
    ids = _text(query, "service_request_id")
    if ids is not None:  # the spec: this overrides every other filter
        numbers = [n.strip() for n in ids.split(",") if n.strip()]
        select_rows = select_rows.where(col(Ticket.dossier_number).in_(numbers))
    else:
        wanted_codes = _text(query, "service_code")
        if wanted_codes is not None:
            unknown = [c for c in wanted_codes.split(",") if c.strip() not in codes]
            if unknown:
                raise Open311Error(404, f"service_code inconnu : {', '.join(unknown)}")
            select_rows = select_rows.where(col(Ticket.faq_id).in_([c.strip() for c in wanted_codes.split(",")]))
        end = _when(_text(query, "end_date"), "end_date") or utc_now()
        start = _when(_text(query, "start_date"), "start_date") or end - timedelta(days=LIST_DEFAULT_DAYS)
        if start > end:
            raise Open311Error(400, "start_date est après end_date")
        if end - start > timedelta(days=LIST_DEFAULT_DAYS):
            raise Open311Error(400, f"l'intervalle ne peut dépasser {LIST_DEFAULT_DAYS} jours")
        select_rows = select_rows.where(col(Ticket.created_at) >= start, col(Ticket.created_at) <= end)
        statuses = _text(query, "status")
        if statuses is not None:
            asked = {s.strip() for s in statuses.split(",")}
            if not asked <= {"open", "closed"}:
                raise Open311Error(400, f"status : open ou closed, pas {statuses}")
            done = [s.value for s in DONE_TICKET_STATUSES]
            if asked == {"open"}:
                select_rows = select_rows.where(col(Ticket.status).not_in(done))
            elif asked == {"closed"}:
                select_rows = select_rows.where(col(Ticket.status).in_(done))
    with Session(engine) as session:
        found = session.exec(select_rows.order_by(col(Ticket.created_at).desc()).limit(LIST_MAX)).all()
        return [as_request(kb, t) for t in found]


def get_request(engine: Engine, kb: KnowledgeBase, number: str) -> dict[str, Any]:
    canonical = dossier.parse(number)
    codes = {e.id for e in service_entries(kb)}
    with Session(engine) as session:
        ticket = repository.find_ticket_by_dossier(session, canonical) if canonical else None
        if ticket is None or ticket.faq_id not in codes:
            raise Open311Error(404, f"service_request_id inconnu : {number}")
        return as_request(kb, ticket)


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    aware = when if when.tzinfo is not None else when.replace(tzinfo=ZoneInfo("UTC"))
    return aware.astimezone(PARIS).isoformat(timespec="seconds")


def as_request(kb: KnowledgeBase, t: Ticket) -> dict[str, Any]:
    """A ticket in the spec's fields. Never the caller's number or words: only what an Open311 client sent."""
    entry = kb.get(t.faq_id) if t.faq_id else None
    closed = t.status in DONE_TICKET_STATUSES
    return {
        "service_request_id": t.dossier_number,
        "status": "closed" if closed else "open",
        "status_notes": t.resolution if closed else _STATUS_NOTES.get(t.status),
        "service_name": entry.title if entry else t.subject,
        "service_code": t.faq_id,
        "description": t.description if t.origin == ORIGIN else None,
        "agency_responsible": t.service,
        "service_notice": None,
        "requested_datetime": _iso(t.created_at),
        "updated_datetime": _iso(t.updated_at),
        "expected_datetime": None,
        "address": t.address,
        "address_id": None,
        "zipcode": None,
        "lat": t.lat,
        "long": t.lon,
        "media_url": (t.requester or {}).get("media_url") if t.origin == ORIGIN else None,
    }


_STATUS_NOTES = {
    TicketStatus.OPEN: "Demande reçue.",
    TicketStatus.IN_PROGRESS: "Demande en cours de traitement.",
    TicketStatus.WAITING_CALLBACK: "Un conseiller va rappeler le demandeur.",
    TicketStatus.ESCALATED: "Demande transmise au service compétent.",
}
