"""SQLite writes made on the event loop itself, never waiting there for the file's lock.

A trip to aiosqlite's thread comes back only when the event loop next gets round to it, and under a
storm of requests a loop turn lasts 30–50 ms: a declaration written that way is acked after the whole
storm has arrived. The write itself takes 0.4 ms for one declaration and 2 ms for twenty, so it is
cheaper to do it here, as long as it never blocks: the write lock is tried without waiting, and when
another connection holds it, the loop goes on serving and the write is tried again a moment later.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from bot.batchwrite import OnConnection

P = ParamSpec("P")
R = TypeVar("R")

LOCK_TAKEN = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
FIRST_PAUSE = 0.001  # seconds; doubled after each refusal, up to LONGEST_PAUSE
LONGEST_PAUSE = 0.005  # a failed try costs microseconds; a bulk writer's gap between transactions is short
PATIENCE = 30.0  # as long as the pooled connections' busy timeout


class LoopWriter:
    """One SQLite connection used only from the event loop's thread, for writes that cannot wait a turn."""

    def __init__(self, path: str, dialect: Dialect, *, patience: float = PATIENCE) -> None:
        if not path or path == ":memory:":
            raise ValueError("the loop writer needs a database file, which other connections also open")
        self._path = path
        self._dialect = dialect
        self._patience = patience
        self._db: sqlite3.Connection | None = None
        self._waiting = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(self._path, isolation_level=None, timeout=0)  # timeout 0: busy means busy, at once
            try:
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA foreign_keys=ON")
                # Checkpoints copy the log into the file and sync it (milliseconds to tens of them); the pooled
                # connections, which commit after every declaration's Slack work, do them off the loop.
                db.execute("PRAGMA wal_autocheckpoint=0")
            except sqlite3.Error:
                db.close()
                raise
            self._db = db
        return self._db

    async def run(self, work: Callable[Concatenate[OnConnection, P], Coroutine[Any, Any, R]], *args: P.args,
                  **kwargs: P.kwargs) -> R:
        """`work(executor, ...)` in one BEGIN IMMEDIATE … COMMIT (rolled back on error), once the lock is free.

        The work must never wait (OnConnection's methods do not): it runs to its end in one go, so nothing
        else on the loop runs inside the transaction. sqlite3's errors come out as SQLAlchemy's (as through
        a session), so callers handle one kind.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._patience
        pause = FIRST_PAUSE
        self._waiting += 1
        self._idle.clear()
        try:
            while True:
                try:
                    return self._transaction(work, *args, **kwargs)
                except sqlite3.Error as exc:
                    # Extended codes (BUSY_RECOVERY after a crash, BUSY_SNAPSHOT) keep the primary code's low byte.
                    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
                    if code not in LOCK_TAKEN or loop.time() >= give_up:
                        raise DBAPIError.instance("loop write", None, exc, sqlite3.Error) from exc
                await asyncio.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE)
        finally:
            self._waiting -= 1
            if not self._waiting:
                self._idle.set()

    def _transaction(self, work: Callable[Concatenate[OnConnection, P], Coroutine[Any, Any, R]], *args: P.args,
                     **kwargs: P.kwargs) -> R:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")  # the one write lock: SQLITE_BUSY at once when another connection holds it
        try:
            result = _at_once(work(OnConnection(db, self._dialect), *args, **kwargs))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return result

    async def idle(self, patience: float = 1.0) -> None:
        """Wait until no write an ack waits for is pending (at most `patience` seconds): bulk writers, which hold
        the one write lock transaction after transaction, let those go first between two of theirs."""
        if self._waiting:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(patience):
                    await self._idle.wait()

    def close(self) -> None:
        """Close the connection (a later run opens it again)."""
        if self._db is not None:
            self._db.close()
            self._db = None


def _at_once(coroutine: Coroutine[Any, Any, R]) -> R:
    """Run a coroutine that never waits to its end, synchronously; one that would wait is a bug, said plainly."""
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return cast(R, finished.value)
    coroutine.close()
    raise RuntimeError("a loop write waited for something; it must run in one go")
