"""The writes an ack waits for (declarations, stored commands) are written once, against a small executor per
database: SQLite's own connection on the event loop (bot/loopwrite.py), or a session (PostgreSQL; SQLite from
inside a larger transaction, as alerts declare)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Table, bindparam, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.bulk import insert_rows, prepare

Rows = Sequence[Mapping[str, Any]]


class Executor(Protocol):
    """What a batched write asks of the database, in one transaction the caller begins and commits."""

    async def take_turns(self, lock: int) -> None:
        """Writers of this kind wait for one another until commit, so what they read stays true."""

    async def select(self, query: str, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        """The rows of `query`, whose one `IN :keys` list is given `keys`."""

    async def next_ids(self, table: str, n: int) -> list[int]:
        """The next n ids of `table`'s serial key, known before the insert, so each row is written once."""

    async def insert(self, table: Table, rows: Rows) -> None:
        """INSERT the rows (all with the same columns) in one executemany; a taken key raises IntegrityError."""

    async def update(self, table: Table, keys: Sequence[str], values: Mapping[str, Any]) -> None:
        """UPDATE the rows whose `key` column is one of `keys`, setting `values`."""


def _bound(table: Table, column: str, value: Any, dialect: Dialect) -> Any:
    """A value as the column's type binds it on this dialect (a datetime as SQLite stores it)."""
    process = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    return value if process is None else process(value)


def _following(highest: int, n: int) -> list[int]:
    """SQLite: under the write lock, a rowid table allocates max + 1."""
    return list(range(highest + 1, highest + n + 1))


class OnConnection:
    """SQLite's own connection, inside BEGIN IMMEDIATE (the one write lock: writers already take turns). Every
    method does its work before returning, so a write run on the event loop never waits there (see LoopWriter)."""

    def __init__(self, db: sqlite3.Connection, dialect: Dialect) -> None:
        self.db = db
        self.dialect = dialect

    async def take_turns(self, lock: int) -> None:
        return None

    async def select(self, query: str, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        return self.db.execute(query.replace(":keys", f"({', '.join('?' * len(keys))})"), list(keys)).fetchall()

    async def next_ids(self, table: str, n: int) -> list[int]:
        return _following(self.db.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0], n) if n else []

    async def insert(self, table: Table, rows: Rows) -> None:
        sql, params = prepare(table, rows, self.dialect)
        try:
            self.db.executemany(sql, params)
        except sqlite3.Error as exc:  # raised as a session would (IntegrityError for a taken key)
            raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc

    async def update(self, table: Table, keys: Sequence[str], values: Mapping[str, Any]) -> None:
        sets = ", ".join(f"{name} = ?" for name in values)
        bound = [_bound(table, name, value, self.dialect) for name, value in values.items()]
        self.db.execute(f"UPDATE {table.name} SET {sets} WHERE key IN ({', '.join('?' * len(keys))})",
                        [*bound, *keys])


class OnSession:
    """A session's transaction; on PostgreSQL writers take turns on an advisory lock until it ends (on SQLite
    the session's BEGIN IMMEDIATE already holds the one write lock)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take_turns(self, lock: int) -> None:
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})

    async def select(self, query: str, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        connection = await self.session.connection()
        statement = text(query).bindparams(bindparam("keys", expanding=True))
        return [tuple(row) for row in await connection.execute(statement, {"keys": list(keys)})]

    async def next_ids(self, table: str, n: int) -> list[int]:
        if n == 0:
            return []
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            drawn = await connection.execute(text(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"), {"n": n})
            return sorted(row[0] for row in drawn)
        return _following((await connection.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}"))).scalar_one(), n)

    async def insert(self, table: Table, rows: Rows) -> None:
        await insert_rows(await self.session.connection(), table, rows)

    async def update(self, table: Table, keys: Sequence[str], values: Mapping[str, Any]) -> None:
        connection = await self.session.connection()
        await connection.execute(update(table).where(table.c.key.in_(list(keys))).values(**values))
