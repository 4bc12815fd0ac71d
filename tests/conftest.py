"""Shared fixtures: the two databases the hotline supports.

`database_url` runs a test once on SQLite (a fresh file) and once on PostgreSQL (an empty schema in a
database created for this test session and dropped at its end). A missing PostgreSQL server makes the
PostgreSQL runs fail, never skip: CI must not go green without having tested the production database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from hotline.storage.db import make_engine, normalize_database_url, upgrade_database

POSTGRES_ADMIN_URL_ENV = "HOTLINE_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_ADMIN_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"
POSTGRES_CONNECT_TIMEOUT_S = 5  # fail fast with a clear message instead of hanging on a dead host
TEST_DATABASE_PREFIX = "hotline_test_"


def _admin_engine(url: URL) -> Engine:
    # AUTOCOMMIT: CREATE/DROP DATABASE and DROP SCHEMA cannot run inside a transaction block.
    return create_engine(
        url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
    )


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[URL]:
    """A PostgreSQL database created for this test session (hotline_test_<random>), dropped afterwards."""
    admin_url = normalize_database_url(os.environ.get(POSTGRES_ADMIN_URL_ENV, DEFAULT_POSTGRES_ADMIN_URL))
    admin = _admin_engine(admin_url)
    unreachable: str | None = None
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except OperationalError as exc:
        unreachable = str(exc.orig).strip()
    if unreachable is not None:  # failed outside the except block: no chained traceback, just the message
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is unreachable at {admin_url.render_as_string(hide_password=True)}: {unreachable}\n"
            f"The storage tests run on PostgreSQL as well as SQLite and never skip. Start the server, "
            f"or point {POSTGRES_ADMIN_URL_ENV} at a role allowed to CREATE DATABASE.",
            pytrace=False,
        )
    name = TEST_DATABASE_PREFIX + secrets.token_hex(6)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name)
    finally:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        admin.dispose()


def _empty_postgres_schema(url: URL) -> None:
    """Give the next test an empty database: drop every table, type and sequence of the last one."""
    engine = _admin_engine(url)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database, on each supported engine in turn."""
    if request.param == "sqlite":
        # A folder that does not exist yet: make_engine must create it, as on a fresh install.
        return f"sqlite:///{(tmp_path / 'var' / 'hotline.db').as_posix()}"
    url: URL = request.getfixturevalue("postgres_database")
    _empty_postgres_schema(url)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to the latest revision."""
    upgrade_database(database_url)
    migrated = make_engine(database_url)
    try:
        yield migrated
    finally:
        migrated.dispose()  # PostgreSQL: no connection may outlive the test (the next one drops the schema)
