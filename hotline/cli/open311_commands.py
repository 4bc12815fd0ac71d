"""`hotline open311 ...`: the city systems allowed to create requests through Open311."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hotline.services import open311
from hotline.settings import get_settings
from hotline.storage.db import make_engine, upgrade_database

app = typer.Typer(no_args_is_help=True, help="Open311 GeoReport v2: API keys of the city systems.")
key_app = typer.Typer(no_args_is_help=True, help="API keys (shown once, only their hash is kept).")
app.add_typer(key_app, name="key")


@key_app.command("add")
def add_key(
    name: Annotated[str, typer.Argument(help="The city system the key is for, e.g. fixmystreet.")],
    as_json: Annotated[bool, typer.Option("--json", help='Print {"name", "api_key"}.')] = False,
) -> None:
    """A new API key for NAME, printed once."""
    url = get_settings().effective_database_url()
    upgrade_database(url)
    engine = make_engine(url)
    try:
        api_key = open311.add_key(engine, name)
    except (open311.KeyNameTakenError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"name": name, "api_key": api_key}))
    else:
        typer.echo(f"API key for {name} (shown once, keep it): {api_key}")
