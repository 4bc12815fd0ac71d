"""Alembic environment for the hotline's tables, on SQLite (batch mode) and PostgreSQL.

Called two ways:
- by hotline.storage.db.upgrade_database, which passes an open connection in config.attributes;
- by the `alembic` command with the top-level alembic.ini, which opens its own engine.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.operations.ops import MigrationScript
from sqlalchemy import Connection, MetaData
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

from hotline.storage import models  # registers the tables on SQLModel.metadata
from hotline.storage.db import check_sqlite_foreign_keys, make_engine, normalize_database_url

config = context.config
target_metadata: MetaData = SQLModel.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render our column types as plain SQLAlchemy ones, so migrations never import application code."""
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, models.StrEnumType | AutoString):
        length = getattr(obj, "length", None)  # TypeDecorator forwards attribute reads to its impl
        return f"sa.String(length={length})" if length is not None else "sa.String()"
    return False


def _skip_empty_revision(context_: Any, revision: Any, directives: list[MigrationScript]) -> None:
    """`alembic revision --autogenerate` with no model change writes no file."""
    upgrade_ops = directives[0].upgrade_ops
    if getattr(config.cmd_opts, "autogenerate", False) and upgrade_ops is not None and upgrade_ops.is_empty():
        directives[:] = []


CONFIGURE_OPTIONS: dict[str, Any] = {
    "target_metadata": target_metadata,
    "render_as_batch": True,  # ALTER on SQLite means rebuilding the table; batch ops do it, PostgreSQL ALTERs
    "compare_type": True,
    "render_item": render_item,
    "process_revision_directives": _skip_empty_revision,
}


def database_url() -> str:
    """-x url=... first, then sqlalchemy.url set by upgrade_database, then the service settings."""
    x_url = context.get_x_argument(as_dictionary=True).get("url")
    if x_url:
        return x_url
    configured = config.get_main_option("sqlalchemy.url")
    if configured:
        return configured
    from hotline.settings import Settings  # only the alembic command line gets here

    return Settings().effective_database_url()


def run_offline() -> None:
    """`alembic upgrade head --sql`: print the SQL instead of running it."""
    url = normalize_database_url(database_url())
    context.configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, **CONFIGURE_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_with_connection(connection: Connection) -> None:
    context.configure(connection=connection, **CONFIGURE_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            check_sqlite_foreign_keys(connection)


def run_online() -> None:
    shared: Connection | None = config.attributes.get("connection")
    if shared is not None:
        run_with_connection(shared)
        return
    # Foreign keys off on SQLite: batch mode copies tables and must not cascade deletes meanwhile.
    engine = make_engine(database_url(), sqlite_foreign_keys=False)
    try:
        with engine.begin() as connection:
            run_with_connection(connection)
    finally:
        engine.dispose()


if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_offline()
else:
    run_online()
