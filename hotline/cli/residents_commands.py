"""`hotline residents ...`: the alert register (Aurevault Alerte): import a list, list who a zone reaches, opt out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hotline.services.residents import (
    InvalidPhoneError,
    ResidentImportError,
    Residents,
    UnknownResidentError,
)
from hotline.settings import get_settings
from hotline.storage.db import make_engine, upgrade_database
from hotline.storage.models import Resident
from kb.territory import UnknownZoneError

app = typer.Typer(no_args_is_help=True, help="The residents' alert register: who is called when an alert goes out.")


def _register() -> Residents:
    url = get_settings().effective_database_url()
    upgrade_database(url)  # a first command on a new machine finds its tables
    return Residents(make_engine(url))


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _public(resident: Resident) -> dict[str, object]:
    return {
        "phone": resident.phone_e164,
        "name": resident.name,
        "commune": resident.commune,
        "hamlet": resident.hamlet,
        "consent_date": resident.consent_date.isoformat(),
        "consent_channel": resident.consent_channel.value,
    }


@app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(help="CSV: phone,name,commune,hamlet,consent_date,consent_channel.")],
    as_json: Annotated[bool, typer.Option("--json", help='Print {"added", "updated", "merged"}.')] = False,
) -> None:
    """Register every row of a CSV file, in one go: one bad row and nothing is written."""
    if not path.is_file():
        raise _fail(f"no such file: {path}")
    register = _register()
    try:
        counts = register.import_csv(path)
    except ResidentImportError as exc:
        for error in exc.errors:
            typer.echo(f"error: {error}", err=True)
        typer.echo(f"nothing imported: {len(exc.errors)} bad row(s)", err=True)
        raise typer.Exit(2) from exc
    except UnicodeDecodeError as exc:
        raise _fail(f"{path} is not UTF-8 text") from exc
    finally:
        register.engine.dispose()
    if as_json:
        typer.echo(json.dumps({"added": counts.added, "updated": counts.updated, "merged": counts.merged}))
    else:
        typer.echo(f"{counts.added} added, {counts.updated} updated, {counts.merged} duplicate row(s) merged")


@app.command("list")
def list_residents(
    zone: Annotated[
        list[str] | None, typer.Option("--zone", help='A commune, a hamlet or "tout" (repeat for several).')
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list of the residents.")] = False,
) -> None:
    """The residents an alert to the zones would call (not opted out); every zone by default."""
    register = _register()
    try:
        found = register.targets(zone or ["tout"])
    except UnknownZoneError as exc:
        raise _fail(str(exc)) from exc
    finally:
        register.engine.dispose()
    if as_json:
        typer.echo(json.dumps([_public(r) for r in found], ensure_ascii=False))
        return
    for r in found:
        where = f"{r.commune} / {r.hamlet}" if r.hamlet else r.commune
        typer.echo(f"{r.phone_e164}\t{r.name}\t{where}\t{r.consent_date.isoformat()} ({r.consent_channel.value})")
    typer.echo(f"{len(found)} resident(s)", err=True)


@app.command("opt-out")
def opt_out(
    phone: Annotated[str, typer.Argument(help="The number, in any form (06…, +33…).")],
    channel: Annotated[str, typer.Option("--channel", help="How they asked: phone, agent, import, web.")] = "agent",
) -> None:
    """The number is never alerted again (until a new consent)."""
    register = _register()
    try:
        resident = register.opt_out(phone, channel)
    except (InvalidPhoneError, UnknownResidentError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    finally:
        register.engine.dispose()
    typer.echo(f"{resident.phone_e164} opted out")
