"""Engine, sessions and schema migrations for SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, create_engine, event, text
from sqlalchemy.engine import URL, Dialect, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession

# FOR NO KEY UPDATE: excludes other writers of the row, but not inserts of rows that refer to it (their
# foreign-key check takes a KEY SHARE lock), so adding timeline events under the lock never deadlocks.
ROW_LOCK: dict[str, Any] = {"key_share": True}

Row = TypeVar("Row")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK_KEY = 0x79696E676A6A  # PostgreSQL advisory lock held while one process upgrades the schema


def utcnow() -> datetime:
    """The current instant, timezone-aware, so stored times never lose their zone."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp column that only accepts aware datetimes and always returns them in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: timeline times must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _prepare_sqlite(url: str) -> None:
    """Create the folder of a SQLite file so a fresh checkout just works, and put the file in WAL mode once,
    before any process migrates it: switching needs the file to itself, and two replicas starting together
    on a fresh file would otherwise race for it on their first connection (journal modes stick to the file)."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    give_up = time.monotonic() + 30
    while True:
        try:
            with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > give_up:
                raise
            time.sleep(0.05)


def configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, foreign keys, and transactions that take the write lock up front."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, so a read-then-write transaction
        # waits for its turn instead of failing with SQLITE_BUSY halfway through.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "reset")
    def _on_reset(dbapi_connection: Any, _record: Any, state: Any) -> None:
        # Instead of the pool's rollback on every return (a trip to aiosqlite's thread after each commit):
        # roll back only a connection still inside a transaction.
        driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
        if state.asyncio_safe and not state.terminate_only and driver.in_transaction:
            dbapi_connection.rollback()


def make_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and write-locking transactions."""
    if url.startswith("sqlite"):
        _prepare_sqlite(url)
        # One connection: SQLite takes one writer at a time anyway, and waiting in the pool's FIFO queue
        # is fair and prompt, where many connections would poll the file lock with growing sleeps.
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0, pool_timeout=120,
                                     pool_reset_on_return=None)  # configure_sqlite resets instead
        configure_sqlite(engine.sync_engine)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


READERS = 4  # read-only SQLite connections beside the one writer (WAL lets them read while it writes)


def make_read_engine(url: str, writer: AsyncEngine) -> AsyncEngine:
    """Where requests that only read go: on SQLite a few read-only connections that never take the write lock,
    so a `list` or a `/metrics` scrape never queues behind an alert storm's write; on PostgreSQL the writer's
    own pool, whose connections already read in parallel."""
    if not url.startswith("sqlite"):
        return writer
    reader = create_async_engine(url, connect_args={"timeout": 30}, pool_size=READERS, max_overflow=0,
                                 pool_timeout=120)

    @event.listens_for(reader.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return reader


def make_sync_engine(url: str) -> Engine:
    """The same database through a synchronous driver (APScheduler's job store needs one)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite(url)
        engine = create_engine(parsed.set(drivername="sqlite"), connect_args={"timeout": 30}, pool_reset_on_return=None)
        configure_sqlite(engine)
        return engine
    return create_engine(parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True)


async def lock_row(session: AsyncSession, model: type[Row], row_id: Any) -> Row | None:
    """Read a row afresh and hold it until commit, so two concurrent changes to it take turns and the later
    one sees what the earlier did (PostgreSQL; SQLite's write transactions already take turns)."""
    return await session.get(model, row_id, with_for_update=ROW_LOCK, populate_existing=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (values are handed to Slack renderers)."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """Alembic configured in code, so `yingji db upgrade` needs no alembic.ini on disk."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision` (blocking; call before the event loop serves requests)."""
    if url.startswith("sqlite"):
        _prepare_sqlite(url)
    command.upgrade(alembic_config(url), revision)


def is_postgres(url: str) -> bool:
    """Whether the URL names a PostgreSQL database (else SQLite)."""
    return make_url(url).get_backend_name() == "postgresql"


DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _admin(url: URL) -> Engine:
    """A one-connection engine on the server's maintenance database, outside any transaction."""
    return create_engine(url.set(drivername="postgresql+psycopg", database="postgres"),
                         isolation_level="AUTOCOMMIT", poolclass=NullPool)


def create_database(server_url: str, name: str, *, template: str | None = None) -> str:
    """Create a database on the server of `server_url` (for tests and benchmarks); returns its URL."""
    for each in (name, template):
        if each is not None and not DATABASE_NAME.match(each):
            raise ValueError(f"not a plain database name: {each!r}")
    url = make_url(server_url)
    engine = _admin(url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    finally:
        engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a database made by create_database, closing any connection left open on it."""
    parsed = make_url(url)
    name = parsed.database or ""
    if not DATABASE_NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    engine = _admin(parsed)
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()
