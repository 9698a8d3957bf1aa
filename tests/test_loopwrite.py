"""Declarations written on the event loop wait for SQLite's lock without stopping the loop, and give up cleanly."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError

from bot.batchwrite import OnConnection
from bot.db import make_engine, upgrade
from bot.incidents import DeclareRequest, Workspace, declare_many
from bot.loopwrite import LoopWriter

WHERE = Workspace(channel_prefix="inc", tz=ZoneInfo("Asia/Shanghai"), announce_channel_id=None, regulatory=[])


@pytest.fixture
async def sqlite_file(tmp_path: Path) -> tuple[Path, Dialect]:
    path = tmp_path / "yingji.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    await engine.dispose()
    return path, engine.dialect


def _request(n: int) -> DeclareRequest:
    return DeclareRequest(title=f"支付回调超时 {n}", playbook="payment-failure", severity="sev2", declared_by="U1",
                          default_holders={}, origin_channel_id="C1", response_url="", dedup_key=f"slash:{n}")


def _incidents(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [key for (key,) in db.execute("SELECT key FROM incident ORDER BY id")]


async def test_a_declaration_waits_for_the_lock_while_the_loop_serves_others(sqlite_file: tuple[Path, Dialect]) -> None:
    path, dialect = sqlite_file
    writer = LoopWriter(str(path), dialect)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process (a replica, the scheduler) is writing
    try:
        pending = asyncio.ensure_future(writer.run(declare_many, [_request(1)], WHERE))
        served = 0
        for _ in range(10):
            await asyncio.sleep(0.005)
            served += 1
        assert not pending.done(), "the write went ahead while another connection held the lock"
        assert served == 10
        other.execute("COMMIT")
        (declared,) = await pending
    finally:
        other.close()
        writer.close()
    assert declared.key == "INC-1" and declared.created
    assert _incidents(path) == ["INC-1"]


async def test_the_loop_connection_never_sleeps_in_sqlite_waiting_for_a_lock(sqlite_file: tuple[Path, Dialect]) -> None:
    writer = LoopWriter(str(sqlite_file[0]), sqlite_file[1])

    async def busy_timeout(executor: OnConnection) -> int:
        return int(executor.db.execute("PRAGMA busy_timeout").fetchone()[0])

    try:
        assert await writer.run(busy_timeout) == 0
    finally:
        writer.close()


async def test_a_lock_held_past_patience_refuses_and_writes_nothing(sqlite_file: tuple[Path, Dialect]) -> None:
    path, dialect = sqlite_file
    writer = LoopWriter(str(path), dialect, patience=0.05)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="locked"):
            await writer.run(declare_many, [_request(2)], WHERE)
    finally:
        other.execute("ROLLBACK")
        other.close()
    (declared,) = await writer.run(declare_many, [_request(2)], WHERE)  # the lock is free again
    writer.close()
    assert declared.key == "INC-1"
    assert _incidents(path) == ["INC-1"]


def test_an_in_memory_database_is_refused() -> None:
    with pytest.raises(ValueError, match="database file"):
        LoopWriter(":memory:", sqlite.dialect())


async def test_a_write_that_would_wait_on_the_loop_is_refused_and_rolled_back(sqlite_file: tuple[Path, Dialect]) -> None:
    """Inside the loop's transaction nothing else may run: work that awaits anything real is a bug, said plainly."""
    path, dialect = sqlite_file
    writer = LoopWriter(str(path), dialect)

    async def waits(executor: OnConnection) -> None:
        await executor.insert(*_delivery("slash:waited"))
        await asyncio.sleep(0)  # a real wait: the loop would run other work inside this transaction

    try:
        with pytest.raises(RuntimeError, match="in one go"):
            await writer.run(waits)
        assert await writer.run(declare_many, [_request(3)], WHERE)  # the lock was given back
    finally:
        writer.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM delivery WHERE key = 'slash:waited'").fetchone()[0] == 0


def _delivery(key: str) -> tuple[Any, list[dict[str, Any]]]:
    from bot.db import utcnow
    from bot.models import Delivery

    return Delivery.__table__, [{"key": key, "at": utcnow(), "result": ""}]  # type: ignore[attr-defined]
