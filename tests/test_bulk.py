"""insert_rows stores exactly what the ORM would, on each database, while binding each distinct value once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.bulk import insert_rows
from bot.db import make_engine, make_sessionmaker, upgrade
from bot.models import Delivery, Incident, TimelineEvent
from tests.helpers import Database

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _incident(n: int, now: datetime, impact: datetime | None) -> dict[str, object]:
    return {"id": n, "key": f"INC-{n}", "channel_name": f"inc-{n}", "title": f"支付失败 {n}", "summary": "",
            "playbook": "payment-failure", "severity": "sev2", "status": "investigating", "private": n == 2,
            "drill": False, "language": "zh", "declared_by": "U1", "declared_at": now, "resolution": "",
            "origin_channel_id": None, "response_url": None, "impact_started_at": impact, "alert_key": None}


async def test_rows_read_back_as_the_orm_wrote_them(tmp_path: Path, database: Database) -> None:
    url = database.url_for(tmp_path)
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    now = datetime(2026, 11, 28, 12, 30, 15, 123456, tzinfo=SHANGHAI)  # stored as the same instant in UTC
    try:
        async with make_sessionmaker(engine)() as session:
            connection = await session.connection()
            await insert_rows(connection, Incident.__table__, [  # type: ignore[attr-defined]
                _incident(1, now, None), _incident(2, now, now - timedelta(minutes=5)), _incident(3, now, None)])
            await insert_rows(connection, TimelineEvent.__table__, [  # type: ignore[attr-defined]
                {"incident_id": n, "kind": "declared", "actor": "U1", "text": "", "at": now,
                 "data": {"severity": "sev2", "private": n == 2, "summary": f"第 {n} 起"}} for n in (1, 2, 3)])
            await session.commit()
        async with make_sessionmaker(engine)() as session:
            stored = (await session.exec(select(Incident).order_by(Incident.id))).all()
            events = (await session.exec(select(TimelineEvent).order_by(TimelineEvent.incident_id))).all()
    finally:
        await engine.dispose()
    assert [(i.key, i.private, i.impact_started_at) for i in stored] == [
        ("INC-1", False, None), ("INC-2", True, now - timedelta(minutes=5)), ("INC-3", False, None)]
    assert all(i.declared_at == now and i.declared_at.tzinfo == UTC for i in stored)
    assert [e.data for e in events] == [{"severity": "sev2", "private": n == 2, "summary": f"第 {n} 起"} for n in (1, 2, 3)]
    assert all(e.at == now for e in events)


async def test_a_column_with_a_default_must_be_given(tmp_path: Path, database: Database) -> None:
    """The ORM's Python-side defaults are not applied here, so leaving one out is refused, not stored as NULL."""
    url = database.url_for(tmp_path)
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    row = _incident(1, datetime.now(UTC), None)
    del row["declared_at"]
    try:
        async with make_sessionmaker(engine)() as session:
            with pytest.raises(ValueError, match="declared_at"):
                await insert_rows(await session.connection(), Incident.__table__, [row])  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_a_taken_key_fails_as_sqlalchemy_reports_it(tmp_path: Path, database: Database) -> None:
    """Callers catch SQLAlchemy's IntegrityError on every database, whichever way the rows were sent."""
    url = database.url_for(tmp_path)
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    row = {"key": "slash:trigger-1", "at": datetime.now(UTC), "result": "INC-1"}
    try:
        async with make_sessionmaker(engine)() as session:
            await insert_rows(await session.connection(), Delivery.__table__, [row])  # type: ignore[attr-defined]
            with pytest.raises(IntegrityError):
                await insert_rows(await session.connection(), Delivery.__table__, [row])  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
