"""The alert register on SQLite and PostgreSQL: registration and merging by E.164, opt-out and a new consent,
who a zone reaches, the CSV import (all or nothing, bad rows with their lines), the audit, and the commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from hotline.cli.main import app as cli
from hotline.domain.enums import ResidentChannel
from hotline.services.residents import (
    CSV_COLUMNS,
    ImportCounts,
    ResidentError,
    ResidentImportError,
    Residents,
    UnknownResidentError,
)
from hotline.settings import get_settings
from hotline.storage.models import AuditLog, Resident
from kb.territory import UnknownZoneError

TODAY = date(2026, 3, 10)
HEADER = ",".join(CSV_COLUMNS)


@pytest.fixture
def register(engine: Engine) -> Residents:
    return Residents(engine, today=lambda: TODAY)


def rows(engine: Engine) -> list[Resident]:
    with Session(engine) as s:
        return list(s.exec(select(Resident).order_by(col(Resident.id))))


def audit(engine: Engine) -> list[tuple[str, str, str]]:
    with Session(engine) as s:
        return [(a.actor, a.action, a.target) for a in s.exec(select(AuditLog).order_by(col(AuditLog.id)))]


def phones(found: list[Resident]) -> list[str]:
    return [r.phone_e164 for r in found]


def test_a_number_registered_twice_is_one_row_with_the_earliest_consent(register: Residents, engine: Engine) -> None:
    first = register.register("06 12 34 56 78", "Jeanne Roux", "villeroux", "granges basses", "2026-02-01",
                              "phone", actor="alice")  # fmt: skip
    assert first.change == "added"
    r = first.resident
    assert (r.phone_e164, r.name, r.commune, r.hamlet) == ("+33612345678", "Jeanne Roux", "Villeroux",
                                                           "Les Granges-Basses")  # fmt: skip
    assert (r.consent_date, r.consent_channel, r.opted_out_at) == (date(2026, 2, 1), ResidentChannel.PHONE, None)

    later = register.register("+33 6 12 34 56 78", "Jeanne Roux-Petit", "Villeroux", None, "2026-03-01", "agent",
                              actor="bruno")  # fmt: skip
    assert later.change == "updated" and later.resident.id == r.id
    assert (later.resident.name, later.resident.hamlet) == ("Jeanne Roux-Petit", None), "the latest details"
    assert (later.resident.consent_date, later.resident.consent_channel) == (date(2026, 2, 1), ResidentChannel.PHONE)

    earlier = register.register("0612345678", "Jeanne Roux-Petit", "Villeroux", None, "15/01/2026", "web")
    assert (earlier.resident.consent_date, earlier.resident.consent_channel) == (date(2026, 1, 15),
                                                                                 ResidentChannel.WEB)  # fmt: skip
    assert len(rows(engine)) == 1
    target = f"résident n° {r.id}"
    assert audit(engine) == [("alice", "resident.register", target), ("bruno", "resident.register", target),
                             ("cli", "resident.register", target)]  # fmt: skip
    assert all("12 34" not in t and "Jeanne" not in t for _, _, t in audit(engine)), "no number nor name audited"


def test_a_refused_registration_says_why_and_writes_nothing(register: Residents, engine: Engine) -> None:
    with pytest.raises(ResidentError, match=r"^Numéro de téléphone invalide : « 06 12 »$"):
        register.register("06 12", "Jeanne", "Villeroux", None, TODAY, "agent")
    with pytest.raises(ResidentError) as refused:
        register.register("0612345678", " ", "Paris", None, "2026-03-11", "sms")
    assert str(refused.value) == (
        "nom manquant ; commune inconnue « Paris » ; date d'accord dans le futur (11/03/2026) ; "
        "canal d'accord inconnu « sms » (phone, agent, import, web)"
    )
    with pytest.raises(ResidentError, match="le hameau « Les Essarts » n'est pas dans la commune Villeroux"):
        register.register("0612345678", "Jeanne", "Villeroux", "Les Essarts", TODAY, "agent")
    assert rows(engine) == [] and audit(engine) == []


def test_an_opted_out_resident_is_never_targeted_until_a_new_consent(register: Residents, engine: Engine) -> None:
    register.register("0612345678", "Jeanne", "Villeroux", None, "2026-01-01", "phone")
    register.register("0698765432", "Paul", "Chaumières", "Le Pré-Fleuri", "2026-01-01", "web")
    gone = register.opt_out("06.12.34.56.78", "phone", actor="alice")
    assert gone.opted_out_at is not None and gone.opt_out_channel is ResidentChannel.PHONE
    assert phones(register.targets(["tout"])) == ["+33698765432"]
    assert register.targets(["Villeroux"]) == []
    again = register.opt_out("0612345678", "agent")
    assert again.opted_out_at == gone.opted_out_at and again.opt_out_channel is ResidentChannel.PHONE, "first kept"

    with pytest.raises(ResidentError, match=r"s'est désinscrit des alertes le .* il faut un nouvel accord"):
        register.register("0612345678", "Jeanne", "Villeroux", None, "2026-01-02", "import")  # an old consent
    assert register.targets(["Villeroux"]) == []

    renewed = Residents(engine).register("0612345678", "Jeanne", "Villeroux", None, date.today(), "agent")
    assert renewed.change == "renewed"
    r = renewed.resident
    assert (r.opted_out_at, r.opt_out_channel, r.consent_date, r.consent_channel) == (
        None, None, date.today(), ResidentChannel.AGENT)  # fmt: skip
    assert phones(register.targets(["Villeroux"])) == ["+33612345678"]
    actions = [a for _, a, _ in audit(engine)]
    assert actions == ["resident.register", "resident.register", "resident.opt_out", "resident.register"]
    with pytest.raises(UnknownResidentError):
        register.opt_out("0611111111", "agent")


def test_targets_by_commune_hamlet_and_everyone(register: Residents) -> None:
    register.register("0611111111", "A", "Villeroux", None, TODAY, "agent")
    register.register("0622222222", "B", "Villeroux", "Les Granges-Basses", TODAY, "agent")
    register.register("0633333333", "C", "Chaumières", None, TODAY, "agent")
    register.register("0644444444", "D", "Saint-Médard-sur-Orvanne", "Le Moulin-Rouget", TODAY, "agent")
    assert phones(register.targets(["Villeroux"])) == ["+33611111111", "+33622222222"], "a commune and its hamlets"
    assert phones(register.targets(["Les Granges-Basses"])) == ["+33622222222"]
    assert phones(register.targets(["Granges-Basses", "Chaumières"])) == ["+33622222222", "+33633333333"]
    assert phones(register.targets(["Saint-Médard"])) == ["+33644444444"]
    assert len(register.targets(["tout"])) == 4 and len(register.targets(["Chaumières", "tout"])) == 4
    assert register.targets(["Fontclaire"]) == [] and register.targets([]) == []
    with pytest.raises(UnknownZoneError, match="zones valides : tout, Aurevault"):
        register.targets(["Villeroux", "Atlantide"])
    counts = register.counts()
    by_name = {z.zone.name: z.residents for z in counts.zones}
    assert by_name["Villeroux"] == 2 and by_name["Les Granges-Basses"] == 1 and by_name["Fontclaire"] == 0
    assert (counts.total, counts.opted_out) == (4, 0)


GOOD_FILE = f"""{HEADER}
06 11 11 11 11,Anne Martin,Villeroux,Les Granges-Basses,2026-01-05,import
0622222222,Bruno Petit,chaumières,,05/01/2026,web

+33633333333,"Claire Dubois, dite Clo",Aurevault,,2026-02-01,phone
06.11.11.11.11,Anne Martin-Roy,Villeroux,,2025-12-01,import
0644444444,Denis Roux,Saint-Médard,Le Moulin-Rouget,2026-03-10,agent
"""


def test_a_good_file_is_imported_with_its_duplicates_merged(register: Residents, engine: Engine,
                                                             tmp_path: Path) -> None:  # fmt: skip
    register.register("0644444444", "Denis", "Fontclaire", None, "2026-01-01", "phone", actor="alice")
    path = tmp_path / "habitants.csv"
    path.write_text("\ufeff" + GOOD_FILE, encoding="utf-8")  # with the BOM a spreadsheet writes
    assert register.import_csv(path, actor="chef") == ImportCounts(added=3, updated=1, merged=1)
    found = {r.phone_e164: r for r in rows(engine)}
    assert len(found) == 4
    anne = found["+33611111111"]
    assert (anne.name, anne.commune, anne.hamlet) == ("Anne Martin-Roy", "Villeroux", None), "the later row's"
    assert (anne.consent_date, anne.consent_channel) == (date(2025, 12, 1), ResidentChannel.IMPORT), "earliest"
    assert found["+33622222222"].commune == "Chaumières"
    assert found["+33633333333"].name == "Claire Dubois, dite Clo"
    denis = found["+33644444444"]
    assert (denis.commune, denis.hamlet, denis.consent_date) == ("Saint-Médard-sur-Orvanne", "Le Moulin-Rouget",
                                                                 date(2026, 1, 1))  # fmt: skip
    assert audit(engine)[-1] == ("chef", "resident.import", "habitants.csv")
    with Session(engine) as s:
        last = s.exec(select(AuditLog).order_by(col(AuditLog.id).desc())).first()
        assert last is not None and last.details == {"added": 3, "updated": 1, "merged": 1}
    semicolons = f"{HEADER.replace(',', ';')}\n0655555555;Eve;Fontclaire;;2026-01-01;web\n"
    assert register.import_csv(semicolons) == ImportCounts(added=1, updated=0, merged=0)


BAD_FILE = f"""{HEADER}
0611111111,Anne,Villeroux,,2026-01-05,import
06 12 34,Bruno,Villeroux,,2026-01-05,import
0633333333,Claire,Villeroux,Le Pré-Fleuri,2026-01-05,import
0644444444,Denis,Aurevault,,,import
0655555555,Eve,Atlantide,,2026-01-05,fax
0666666666,Fanny,Aurevault,,2026-01-05,web
"""


def test_a_file_with_bad_rows_reports_each_with_its_line_and_writes_nothing(register: Residents,
                                                                             engine: Engine) -> None:  # fmt: skip
    with pytest.raises(ResidentImportError) as refused:
        register.import_csv(BAD_FILE)
    assert [(e.line, e.reason) for e in refused.value.errors] == [
        (3, "Numéro de téléphone invalide : « 06 12 34 »"),
        (4, "le hameau « Le Pré-Fleuri » n'est pas dans la commune Villeroux"),
        (5, "date d'accord manquante"),
        (6, "commune inconnue « Atlantide » ; canal d'accord inconnu « fax » (phone, agent, import, web)"),
    ]
    assert str(refused.value.errors[0]) == "line 3: Numéro de téléphone invalide : « 06 12 34 »"
    assert rows(engine) == [] and audit(engine) == [], "nothing written"


def test_a_stale_consent_in_a_file_rolls_the_whole_file_back(register: Residents, engine: Engine) -> None:
    register.register("0622222222", "Bruno", "Aurevault", None, "2026-01-01", "phone")
    register.opt_out("0622222222", "phone")
    text = f"{HEADER}\n0611111111,Anne,Aurevault,,2026-01-05,import\n0622222222,Bruno,Aurevault,,2026-01-05,import\n"
    with pytest.raises(ResidentImportError) as refused:
        register.import_csv(text)
    assert [e.line for e in refused.value.errors] == [3]
    assert phones(rows(engine)) == ["+33622222222"], "the good row before it is not written either"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "line 1: fichier vide"),
        ("phone,name,commune\n", "line 1: colonnes manquantes : hamlet, consent_date, consent_channel"),
        (f"{HEADER},email\n", "line 1: colonnes inconnues : email"),
        (f"{HEADER}\n0611111111,Anne,Aurevault\n", "line 2: 3 champs au lieu de 6"),
    ],
)
def test_a_file_of_the_wrong_shape_is_refused(register: Residents, text: str, reason: str) -> None:
    with pytest.raises(ResidentImportError) as refused:
        register.import_csv(text)
    assert str(refused.value).startswith(reason)


# ---- the command line -----------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(engine: Engine, database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {"HOTLINE_DATA_DIR": str(tmp_path / "var"), "HOTLINE_DATABASE_URL": database_url}
    get_settings.cache_clear()


def test_the_commands_import_list_and_opt_out(cli_env: dict[str, str], engine: Engine, tmp_path: Path) -> None:
    runner = CliRunner()
    good = tmp_path / "good.csv"
    good.write_text(GOOD_FILE, encoding="utf-8")
    done = runner.invoke(cli, ["residents", "import", str(good), "--json"], env=cli_env)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"added": 4, "updated": 0, "merged": 1}

    done = runner.invoke(cli, ["residents", "list", "--zone", "Villeroux", "--json"], env=cli_env)
    assert done.exit_code == 0, done.output
    anne = {"phone": "+33611111111", "name": "Anne Martin-Roy", "commune": "Villeroux", "hamlet": None,
            "consent_date": "2025-12-01", "consent_channel": "import"}  # fmt: skip
    assert json.loads(done.stdout) == [anne]
    done = runner.invoke(cli, ["residents", "list"], env=cli_env)
    assert done.exit_code == 0 and done.stdout.count("\n") == 4 and "Claire Dubois, dite Clo" in done.stdout

    done = runner.invoke(cli, ["residents", "opt-out", "06 11 11 11 11"], env=cli_env)
    assert done.exit_code == 0, done.output
    assert "+33611111111 opted out" in done.stdout
    done = runner.invoke(cli, ["residents", "list", "--zone", "Villeroux", "--json"], env=cli_env)
    assert json.loads(done.stdout) == []
    assert audit(engine)[-1] == ("cli", "resident.opt_out", f"résident n° {rows(engine)[0].id}")

    done = runner.invoke(cli, ["residents", "list", "--zone", "Atlantide"], env=cli_env)
    assert done.exit_code == 2 and "error: zone inconnue « Atlantide » ; zones valides : tout," in done.stderr
    done = runner.invoke(cli, ["residents", "opt-out", "0699999999"], env=cli_env)
    assert done.exit_code == 2 and "error: aucun résident inscrit au +33699999999" in done.stderr


def test_the_import_command_prints_each_bad_line_and_writes_nothing(cli_env: dict[str, str], engine: Engine,
                                                                    tmp_path: Path) -> None:  # fmt: skip
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_FILE, encoding="utf-8")
    done = CliRunner().invoke(cli, ["residents", "import", str(bad)], env=cli_env)
    assert done.exit_code == 2 and done.stdout == ""
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: line 3: Numéro de téléphone invalide : « 06 12 34 »",
        "error: line 4: le hameau « Le Pré-Fleuri » n'est pas dans la commune Villeroux",
        "error: line 5: date d'accord manquante",
        "error: line 6: commune inconnue « Atlantide » ; canal d'accord inconnu « fax » (phone, agent, import, web)",
    ]
    assert rows(engine) == []
    done = CliRunner().invoke(cli, ["residents", "import", str(tmp_path / "absent.csv")], env=cli_env)
    assert done.exit_code == 2 and "error: no such file" in done.stderr
