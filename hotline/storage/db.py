"""Engines, sessions and migrations for the two supported databases.

SQLite (the embedded default, one process) runs in WAL mode so the wallboard can read while the IVR writes.
PostgreSQL (several processes or hosts) goes through psycopg 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool
from sqlmodel import Session, create_engine

MIGRATIONS_PATH = Path(__file__).resolve().parent / "migrations"

PSYCOPG_DRIVER = "postgresql+psycopg"
PLAIN_POSTGRES_DRIVERS = frozenset({"postgresql", "postgres"})  # "postgres://" is what Heroku-style hosts hand out
SQLITE_MEMORY_NAMES = frozenset({"", ":memory:"})

# A writer waits this long for another writer's lock before SQLite raises "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5000
# In WAL mode NORMAL is still crash-safe (a power cut may lose the last commits, never corrupt the file).
SQLITE_SYNCHRONOUS = "NORMAL"
SQLITE_WRITE_OPTION = "hotline_sqlite_write"  # execution option: begin the transaction IMMEDIATE


def normalize_database_url(url: str | URL) -> URL:
    """`url` as SQLAlchemy will use it: plain postgresql:// and postgres:// are sent to psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in PLAIN_POSTGRES_DRIVERS:
        parsed = parsed.set(drivername=PSYCOPG_DRIVER)
    return parsed


def make_engine(url: str | URL, *, sqlite_foreign_keys: bool = True, echo: bool = False) -> Engine:
    """An engine for `url`, SQLite tuned for the hotline (WAL, foreign keys, busy timeout) or PostgreSQL.

    `sqlite_foreign_keys=False` is for migrations only: batch mode rebuilds tables, which must not
    cascade deletes into the rows that point at them.
    """
    parsed = normalize_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _make_sqlite_engine(parsed, foreign_keys=sqlite_foreign_keys, echo=echo)
    # pre-ping: a PostgreSQL restart must not hand the IVR a dead connection mid-call.
    return create_engine(parsed, echo=echo, pool_pre_ping=True)


def _make_sqlite_engine(url: URL, *, foreign_keys: bool, echo: bool) -> Engine:
    database = url.database or ""
    in_memory = database in SQLITE_MEMORY_NAMES or url.query.get("mode") == "memory"
    kwargs: dict[str, Any] = {"echo": echo, "connect_args": {"check_same_thread": False}}
    if in_memory:
        kwargs["poolclass"] = StaticPool  # every connection to :memory: is a new, empty database
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (pysqlite's own handling breaks
        # SAVEPOINT and delays BEGIN past the first SELECT); see the "begin" listener below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    # A unit of work that writes begins IMMEDIATE: it takes the write lock up front and waits for it
    # (busy_timeout). A deferred transaction that reads, then writes after another writer committed fails at
    # once with "database is locked" (WAL snapshot rule) — under load the IVR hit exactly that. Read-only
    # units stay deferred, so readers never block.
    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(SQLITE_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def new_session(engine: Engine) -> Session:
    """A session whose objects stay readable after commit (the console renders them afterwards)."""
    return Session(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """One unit of work: commits when the block ends, rolls back if it raises. `write=False` for read-only
    work (on SQLite it then does not take the write lock)."""
    bind = engine.execution_options(**{SQLITE_WRITE_OPTION: True}) if write else engine
    session = new_session(bind)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str | URL) -> Config:
    """An Alembic configuration for `url` that does not depend on the current directory or alembic.ini."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_PATH.as_posix())
    config.set_main_option("path_separator", "os")
    # Stored for env.py; '%' doubled because Config values go through ConfigParser interpolation.
    rendered = normalize_database_url(url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def upgrade_database(url: str | URL, revision: str = "head") -> None:
    """Run the Alembic migrations on `url` up to `revision` (creating the SQLite file if needed)."""
    engine = make_engine(url, sqlite_foreign_keys=False)
    try:
        # One transaction for the whole upgrade: SQLite and PostgreSQL both roll DDL back on failure.
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def check_sqlite_foreign_keys(connection: Connection) -> None:
    """Foreign keys are off during migrations (see make_engine): check no rebuilt table left a dangling one."""
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if violations:
        raise RuntimeError(f"migration left foreign key violations: {violations[:10]}")
