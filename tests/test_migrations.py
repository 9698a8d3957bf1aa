"""Schema migrations: `yingji db upgrade` builds the schema from empty on SQLite and PostgreSQL, exactly as
the models describe it, can be undone, and is safe when several replicas start at once."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from bot.db import alembic_config, make_engine, upgrade
from bot.models import Incident, RoleAssignment
from tests.helpers import Database
from yingji.cli import main


async def _drift(url: str) -> list[object]:
    """What differs between the models and the database's schema (nothing, when they agree)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), SQLModel.metadata))
    finally:
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


def test_one_line_of_revisions() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite:///unused.db"))
    assert len(script.get_heads()) == 1
    assert all(revision.module.downgrade for revision in script.walk_revisions())


async def test_db_upgrade_builds_the_models_schema_from_empty(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = database.empty(tmp_path / "empty")
    assert await _tables(url) == set()
    monkeypatch.setenv("DATABASE_URL", url)
    assert await asyncio.to_thread(main, ["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert await _tables(url) == set(SQLModel.metadata.tables) | {"alembic_version"}
    assert await _drift(url) == []  # the models and the migrations never drift apart


async def test_migrations_downgrade_to_empty_and_up_again(database: Database, tmp_path: Path) -> None:
    from alembic import command

    url = database.empty(tmp_path / "roundtrip")
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    assert await _tables(url) <= {"alembic_version"}
    await asyncio.to_thread(upgrade, url)
    assert await _drift(url) == []


async def test_replicas_starting_together_upgrade_once(database: Database, tmp_path: Path) -> None:
    url = database.empty(tmp_path / "together")
    env = {**os.environ, "DATABASE_URL": url}
    processes = [await asyncio.create_subprocess_exec(sys.executable, "-m", "yingji.cli", "db", "upgrade", env=env,
                                                      stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
                 for _ in range(3)]
    outputs = await asyncio.gather(*(process.communicate() for process in processes))
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    assert await _drift(url) == []


async def test_the_database_refuses_a_second_current_holder_of_a_role(database: Database, tmp_path: Path) -> None:
    url = database.empty(tmp_path / "roles")
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(Incident.__table__.insert(), [{  # type: ignore[attr-defined]
                "id": 1, "title": "t", "summary": "", "playbook": "payment-failure", "severity": "sev2",
                "status": "investigating", "private": False, "drill": False, "language": "zh",
                "declared_by": "U1", "declared_at": Incident().declared_at, "resolution": ""}])
        table = RoleAssignment.__table__  # type: ignore[attr-defined]
        row = {"incident_id": 1, "role": "tech", "assigned_by": "U1", "assigned_at": Incident().declared_at}
        async with engine.begin() as connection:
            await connection.execute(table.insert(), [{**row, "user_id": "U2", "ended_at": row["assigned_at"]},
                                                      {**row, "user_id": "U3", "ended_at": None}])  # one past, one current: fine
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(table.insert(), [{**row, "user_id": "U4", "ended_at": None}])
    finally:
        await engine.dispose()
