"""The residents' alert register (Aurevault Alerte): who may be called when an alert goes out, with their consent.

- A number is kept once, in E.164 (`normalise_phone`): registering it again updates its row (name, commune,
  hamlet) and keeps the earliest consent.
- A resident who opted out keeps their row, so that the opt-out is remembered, and is never targeted again. The
  same number may register again with a new consent, given on or after the day of the opt-out: that consent
  replaces the old one and the opt-out is cleared (the audit log keeps both). An older consent is refused.
- `import_csv` checks every row before writing anything: one bad row and nothing is written; the bad rows are
  reported with their line numbers. A number twice in a file is merged, as a second registration would be.
- Every change is in the audit log. Its target is "résident n° <id>", never the number nor the name: the audit
  log is read by every admin and kept for good, while the register's own row can be looked up by those allowed to.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import and_, func, or_
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from hotline.bus import EventBus
from hotline.domain.enums import ResidentChannel
from hotline.services.unit_of_work import unit_of_work
from hotline.storage import repository
from hotline.storage.models import DISPLAY_NAME_LENGTH, Resident, utc_now
from kb.territory import Territory, UnknownZoneError, Zone, default_territory

REGION = "FR"  # a number written without its country code is French
CSV_COLUMNS = ("phone", "name", "commune", "hamlet", "consent_date", "consent_channel")
CHANNELS = ", ".join(c.value for c in ResidentChannel)
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
PARIS = ZoneInfo("Europe/Paris")


class ResidentError(ValueError):
    """A registration refused; the message is the French reason."""


class InvalidPhoneError(ResidentError):
    pass


class UnknownResidentError(LookupError):
    pass


@dataclass(frozen=True)
class RowError:
    line: int  # in the file, the header being line 1
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class ResidentImportError(ValueError):
    """A file with bad rows: nothing was written."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__("\n".join(map(str, errors)))
        self.errors = list(errors)


@dataclass(frozen=True)
class ImportCounts:
    added: int  # numbers new to the register
    updated: int  # numbers already registered
    merged: int = 0  # rows of a number already seen in the same file


@dataclass(frozen=True)
class Registration:
    resident: Resident
    change: str  # "added", "updated", or "renewed" (a new consent after an opt-out)


@dataclass(frozen=True)
class ZoneCount:
    zone: Zone
    residents: int  # registered and not opted out


@dataclass(frozen=True)
class RegisterCounts:
    zones: list[ZoneCount]  # every commune, then its hamlets, in the territory's order
    total: int  # who "tout" reaches
    opted_out: int


@dataclass
class _Consent:
    """One checked registration (a form, or the rows of one number in a file)."""

    phone: str
    name: str
    commune: str
    hamlet: str | None
    consents: list[tuple[date, ResidentChannel]]
    line: int = 0  # the file's first row for this number


def normalise_phone(text: str | None) -> str:
    """The number in E.164 ("06 12 34 56 78" → "+33612345678"); a number without its country code is French."""
    shown = (text or "").strip()
    try:
        number = phonenumbers.parse(shown, REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneError(f"Numéro de téléphone invalide : « {shown} »") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneError(f"Numéro de téléphone invalide : « {shown} »")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def audit_target(resident: Resident) -> str:
    """Who an audit row is about: the register's row, never the number nor the name."""
    return f"résident n° {resident.id}"


def paris_today() -> date:
    return datetime.now(PARIS).date()


def parse_consent_date(text: str | date | None, today: date) -> date:
    if isinstance(text, date):
        day = text
    else:
        shown = (text or "").strip()
        if not shown:
            raise ResidentError("date d'accord manquante")
        for pattern in DATE_FORMATS:
            try:
                day = datetime.strptime(shown, pattern).date()
                break
            except ValueError:
                continue
        else:
            raise ResidentError(f"date d'accord invalide « {shown} » (AAAA-MM-JJ ou JJ/MM/AAAA)")
    if day > today:
        raise ResidentError(f"date d'accord dans le futur ({day:%d/%m/%Y})")
    return day


def parse_channel(text: str | ResidentChannel | None) -> ResidentChannel:
    shown = str(text or "").strip().lower()
    if not shown:
        raise ResidentError("canal d'accord manquant")
    try:
        return ResidentChannel(shown)
    except ValueError:
        raise ResidentError(f"canal d'accord inconnu « {shown} » ({CHANNELS})") from None


def _opt_out_day(resident: Resident) -> date | None:
    if resident.opted_out_at is None:
        return None
    at = resident.opted_out_at
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(PARIS).date()


class Residents:
    def __init__(
        self,
        engine: Engine,
        territory: Territory | None = None,
        bus: EventBus | None = None,
        today: Callable[[], date] = paris_today,
    ) -> None:
        self.engine = engine
        self.territory = territory or default_territory()
        self.bus = bus
        self.today = today

    # ------------------------------------------------------------------------------------------ checks

    def place(self, commune: str | None, hamlet: str | None) -> tuple[str, str | None]:
        """The commune's and hamlet's names as the territory writes them; ResidentError when they are not of it."""
        said = (commune or "").strip()
        if not said:
            raise ResidentError("commune manquante")
        found = self.territory.commune(said)
        if found is None:
            raise ResidentError(f"commune inconnue « {said} »")
        small = (hamlet or "").strip()
        if not small:
            return found.name, None
        try:
            zone = self.territory.zone(small)
        except UnknownZoneError:
            zone = None
        if zone is None or zone.hamlet is None or zone.commune != found.name:
            raise ResidentError(f"le hameau « {small} » n'est pas dans la commune {found.name}")
        return found.name, zone.hamlet

    def _checked(
        self,
        phone: str | None,
        name: str | None,
        commune: str | None,
        hamlet: str | None,
        consent_date: str | date | None,
        channel: str | ResidentChannel | None,
    ) -> _Consent:
        """Every reason the registration is refused, at once (a CSV row is told all of them)."""
        reasons: list[str] = []
        number = place = day = how = None
        try:
            number = normalise_phone(phone)
        except InvalidPhoneError as exc:
            reasons.append(str(exc))
        person = (name or "").strip()
        if not person:
            reasons.append("nom manquant")
        elif len(person) > DISPLAY_NAME_LENGTH:
            reasons.append(f"nom trop long ({DISPLAY_NAME_LENGTH} caractères au plus)")
        for check in (
            lambda: self.place(commune, hamlet),
            lambda: parse_consent_date(consent_date, self.today()),
            lambda: parse_channel(channel),
        ):
            try:
                value = check()
            except ResidentError as exc:
                reasons.append(str(exc))
                continue
            if isinstance(value, tuple):
                place = value
            elif isinstance(value, ResidentChannel):
                how = value
            else:
                day = value
        if reasons or number is None or place is None or day is None or how is None:
            raise ResidentError(" ; ".join(reasons))
        return _Consent(number, person, place[0], place[1], [(day, how)])

    # ------------------------------------------------------------------------------------------ writes

    def _apply(self, session: Session, consent: _Consent) -> tuple[Resident, str]:
        """Write one checked registration; ResidentError (nothing changed) for a consent older than an opt-out."""
        row = session.exec(select(Resident).where(Resident.phone_e164 == consent.phone)).first()
        if row is None:
            day, how = min(consent.consents, key=lambda c: c[0])
            row = Resident(phone_e164=consent.phone, name=consent.name, commune=consent.commune,
                           hamlet=consent.hamlet, consent_date=day, consent_channel=how)  # fmt: skip
            change = "added"
        else:
            opted_out_on = _opt_out_day(row)
            if opted_out_on is not None:
                fresh = [c for c in consent.consents if c[0] >= opted_out_on]
                if not fresh:
                    raise ResidentError(
                        f"ce numéro s'est désinscrit des alertes le {opted_out_on:%d/%m/%Y} : il faut un nouvel "
                        "accord, donné depuis"
                    )
                row.consent_date, row.consent_channel = min(fresh, key=lambda c: c[0])
                row.opted_out_at = None
                row.opt_out_channel = None
                change = "renewed"
            else:
                earliest = min([*consent.consents, (row.consent_date, row.consent_channel)], key=lambda c: c[0])
                row.consent_date, row.consent_channel = earliest
                change = "updated"
            row.name, row.commune, row.hamlet = consent.name, consent.commune, consent.hamlet
        session.add(row)
        session.flush()
        return row, change

    def register(
        self,
        phone: str,
        name: str,
        commune: str,
        hamlet: str | None,
        consent_date: str | date,
        channel: str | ResidentChannel,
        *,
        actor: str = "cli",
    ) -> Registration:
        """Register a number for the alerts, or update its row (see the module's rules). ResidentError (French
        reasons) or InvalidPhoneError when refused; nothing is written then."""
        consent = self._checked(phone, name, commune, hamlet, consent_date, channel)
        with unit_of_work(self.engine, self.bus) as uow:
            row, change = self._apply(uow.session, consent)
            repository.audit(uow.session, actor, "resident.register", audit_target(row),
                             {"change": change, "channel": row.consent_channel.value})  # fmt: skip
            uow.session.refresh(row)
            uow.session.expunge(row)
        return Registration(row, change)

    def opt_out(self, phone: str, channel: str | ResidentChannel, *, actor: str = "cli") -> Resident:
        """The number is no longer alerted. Saying it again changes nothing (the first opt-out is kept)."""
        number = normalise_phone(phone)
        return self._opt_out(lambda s: s.exec(select(Resident).where(Resident.phone_e164 == number)).first(),
                             channel, actor, f"aucun résident inscrit au {number}")  # fmt: skip

    def opt_out_by_id(self, resident_id: int, channel: str | ResidentChannel, *, actor: str) -> Resident:
        return self._opt_out(lambda s: s.get(Resident, resident_id), channel, actor,
                             f"aucun résident n° {resident_id}")  # fmt: skip

    def _opt_out(
        self, find: Callable[[Session], Resident | None], channel: str | ResidentChannel, actor: str, missing: str
    ) -> Resident:
        how = parse_channel(channel)
        with unit_of_work(self.engine, self.bus) as uow:
            row = find(uow.session)
            if row is None:
                raise UnknownResidentError(missing)
            if row.opted_out_at is None:
                row.opted_out_at = utc_now()
                row.opt_out_channel = how
                uow.session.add(row)
                repository.audit(uow.session, actor, "resident.opt_out", audit_target(row), {"channel": how.value})
                uow.session.flush()
                uow.session.refresh(row)
            uow.session.expunge(row)
            return row

    def import_csv(self, source: Path | str, *, actor: str = "cli") -> ImportCounts:
        """Register every row of a CSV file (a Path) or text (a str) with the columns of CSV_COLUMNS, in one
        transaction. ResidentImportError, listing each bad row with its line, and nothing written, if any is bad."""
        text = source.read_text(encoding="utf-8-sig") if isinstance(source, Path) else source.lstrip("\ufeff")
        label = source.name if isinstance(source, Path) else "texte"
        entries, merged = self._parse(text)
        added = updated = 0
        errors: list[RowError] = []
        with unit_of_work(self.engine, self.bus) as uow:
            for entry in entries:
                try:
                    _, change = self._apply(uow.session, entry)
                except ResidentError as exc:
                    errors.append(RowError(entry.line, str(exc)))
                    continue
                added += change == "added"
                updated += change != "added"
            if errors:
                raise ResidentImportError(sorted(errors, key=lambda e: e.line))  # rolls the whole file back
            counts = ImportCounts(added, updated, merged)
            repository.audit(uow.session, actor, "resident.import", label,
                             {"added": added, "updated": updated, "merged": merged})  # fmt: skip
        return counts

    def _parse(self, text: str) -> tuple[list[_Consent], int]:
        """The file's registrations, one per number (its rows merged), or ResidentImportError with every bad row."""
        sample = text.split("\n", 1)[0]
        delimiter = ";" if ";" in sample and "," not in sample else ","  # a French spreadsheet's CSV
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise ResidentImportError([RowError(1, "fichier vide : il faut la ligne d'en-tête")]) from None
        except csv.Error as exc:
            raise ResidentImportError([RowError(1, f"CSV illisible ({exc})")]) from None
        columns = [h.strip().lower() for h in header]
        missing = [c for c in CSV_COLUMNS if c not in columns]
        unknown = [c for c in columns if c not in CSV_COLUMNS]
        if missing or unknown or len(set(columns)) != len(columns):
            said = [f"colonnes manquantes : {', '.join(missing)}"] if missing else []
            said += [f"colonnes inconnues : {', '.join(unknown)}"] if unknown else []
            said += [] if missing or unknown else ["une colonne apparaît deux fois"]
            raise ResidentImportError([RowError(1, " ; ".join(said) + f" (attendu : {','.join(CSV_COLUMNS)})")])
        errors: list[RowError] = []
        by_phone: dict[str, _Consent] = {}
        merged = 0
        line = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                errors.append(RowError(reader.line_num, f"CSV illisible ({exc})"))
                break
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                errors.append(RowError(start, f"{len(cells)} champs au lieu de {len(columns)}"))
                continue
            row = dict(zip(columns, cells, strict=True))
            try:
                entry = self._checked(row["phone"], row["name"], row["commune"], row["hamlet"],
                                      row["consent_date"], row["consent_channel"])  # fmt: skip
            except ResidentError as exc:
                errors.append(RowError(start, str(exc)))
                continue
            entry.line = start
            seen = by_phone.get(entry.phone)
            if seen is None:
                by_phone[entry.phone] = entry
                continue
            merged += 1  # the later row's name and place, every row's consents
            seen.name, seen.commune, seen.hamlet = entry.name, entry.commune, entry.hamlet
            seen.consents += entry.consents
        if errors:
            raise ResidentImportError(errors)
        return list(by_phone.values()), merged

    # ------------------------------------------------------------------------------------------- reads

    def targets(self, zones: Sequence[str | Zone]) -> list[Resident]:
        """Who an alert to `zones` calls: the residents of any of them ("tout": everyone) who have not opted out.
        UnknownZoneError (listing the valid zones) for a name that is no zone."""
        resolved = [z if isinstance(z, Zone) else self.territory.zone(z) for z in zones]
        if not resolved:
            return []
        query = select(Resident).where(col(Resident.opted_out_at).is_(None))
        if not any(z.everyone for z in resolved):
            query = query.where(or_(*(self._in(z) for z in resolved)))
        return self._rows(query.order_by(col(Resident.id)))

    @staticmethod
    def _in(zone: Zone) -> ColumnElement[bool]:
        if zone.hamlet is None:
            return col(Resident.commune) == zone.commune
        return and_(col(Resident.commune) == zone.commune, col(Resident.hamlet) == zone.hamlet)

    def find(self, phone: str) -> Resident | None:
        """The number's row (opted out or not); InvalidPhoneError for a bad number."""
        number = normalise_phone(phone)
        found = self._rows(select(Resident).where(Resident.phone_e164 == number))
        return found[0] if found else None

    def latest(self, limit: int = 20) -> list[Resident]:
        return self._rows(select(Resident).order_by(col(Resident.id).desc()).limit(limit))

    def counts(self) -> RegisterCounts:
        """How many residents each zone reaches (one GROUP BY), and how many opted out."""
        with unit_of_work(self.engine, None, write=False) as uow:
            grouped = uow.session.exec(
                select(Resident.commune, Resident.hamlet, func.count())
                .where(col(Resident.opted_out_at).is_(None))
                .group_by(col(Resident.commune), col(Resident.hamlet))
            ).all()
            opted_out = uow.session.exec(
                select(func.count()).select_from(Resident).where(col(Resident.opted_out_at).is_not(None))
            ).one()
        zones = [
            ZoneCount(z, sum(n for commune, hamlet, n in grouped if z.contains(commune, hamlet)))
            for z in self.territory.zones()
        ]
        return RegisterCounts(zones, sum(n for _, _, n in grouped), int(opted_out))

    def _rows(self, query: object) -> list[Resident]:
        with unit_of_work(self.engine, None, write=False) as uow:
            rows = list(uow.session.exec(query))  # type: ignore[call-overload]
            for row in rows:
                uow.session.expunge(row)
            return rows
