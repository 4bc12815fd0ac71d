"""`hotline db ...`: database migrations."""

from __future__ import annotations

import typer

from hotline.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="The database.")


@app.command()
def upgrade() -> None:
    """Apply Alembic migrations up to the latest (creates the SQLite file if needed)."""
    from hotline.storage.db import upgrade_database

    url = get_settings().effective_database_url()
    upgrade_database(url)
    typer.echo(f"database at the latest revision: {url.split('@')[-1]}")
