"""Refusals recorded, not flooded (issue 19, point 4).

A refusal goes on the timeline once per person, action and clock minute (UTC), with a count of how many
times it happened; the review, the timeline pages and the exports show that one row with "(×N)". Runs
on SQLite and on PostgreSQL (the `database` fixture), against a migrated database and no bot.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import review, summary, timeline
from bot.db import make_engine, make_sessionmaker, upgrade
from bot.models import Incident, TimelineEvent
from bot.slack.timeline_view import sections
from tests.helpers import Database
from yingji.cli import main

Sessions = async_sessionmaker[AsyncSession]

START = datetime(2026, 11, 22, 4, 0, 7, tzinfo=UTC)  # 12:00:07 in Shanghai
TZ = ZoneInfo("Asia/Shanghai")
ZHANG, CHEN = "U0ZHANGWEI", "U0CHENJIE"
TEXT = "只有应急指挥（或配置的事件经理）可以宣布解决或关闭。"


class Clock:
    """The time bot.timeline reads, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock(START)
    monkeypatch.setattr(timeline, "utcnow", fixed)
    return fixed


@pytest.fixture
def database_url(database: Database, tmp_path: Path) -> Iterator[str]:
    """A migrated database of this run's backend (PostgreSQL ones are copies of a migrated template)."""
    url = database.url_for(tmp_path)
    if database.backend == "sqlite":
        upgrade(url)
    yield url


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def _incident(sessions: Sessions, title: str = "支付宝回调超时") -> int:
    async with sessions() as session:
        incident = Incident(title=title, playbook="payment-failure", severity="sev2", declared_by=ZHANG,
                            declared_at=START - timedelta(minutes=30))
        session.add(incident)
        await session.flush()
        assert incident.id is not None
        incident.key = f"INC-{incident.id}"
        timeline.record(session, incident.id, "declared", actor=ZHANG, text=title, at=incident.declared_at)
        await session.commit()
        return incident.id


async def _refuse(sessions: Sessions, incident_id: int, *, actor: str = CHEN, action: str = "resolved",
                  data: dict[str, str] | None = None) -> TimelineEvent:
    """One refusal in its own transaction, as a command handler does it."""
    async with sessions() as session:
        event = await timeline.refusal(session, incident_id, actor=actor, action=action, text=TEXT, data=data)
        await session.commit()
        return event


async def _refused(sessions: Sessions, incident_id: int | None = None) -> list[TimelineEvent]:
    async with sessions() as session:
        query = select(TimelineEvent).where(TimelineEvent.kind == "refused")
        if incident_id is not None:
            query = query.where(TimelineEvent.incident_id == incident_id)
        return list((await session.exec(query.order_by(col(TimelineEvent.id)))).all())


async def test_a_storm_within_one_minute_is_one_row_with_its_count(sessions: Sessions, clock: Clock) -> None:
    incident_id = await _incident(sessions)
    for n in range(300):  # 04:00:07 to 04:00:51.85, one every 0.15 s
        clock.now = START + timedelta(milliseconds=150 * n)
        await _refuse(sessions, incident_id)
    [row] = await _refused(sessions)
    assert row.data == {"action": "resolved", "count": 300}
    assert row.actor == CHEN and row.text == TEXT and row.at == START  # the first one's time and words
    assert timeline.repeats(row) == 300 and timeline.times_suffix(row) == " (×300)"
    async with sessions() as session:
        assert await timeline.count(session, incident_id) == 2  # declared + the one refusal row


async def test_another_person_action_minute_or_incident_is_a_new_row(sessions: Sessions, clock: Clock) -> None:
    first, second = await _incident(sessions), await _incident(sessions, "微信支付失败率升高")
    await _refuse(sessions, first, data={"status": "resolved"})
    await _refuse(sessions, first, actor=ZHANG)                     # another person
    await _refuse(sessions, first, action="closed")                 # another action
    await _refuse(sessions, second)                                 # another incident
    clock.now = START.replace(second=59, microsecond=999_999)       # the same minute, to its last instant
    await _refuse(sessions, first)
    clock.now = START.replace(second=0) + timedelta(minutes=1)      # 53 s after the first, but the next minute
    await _refuse(sessions, first)
    await _refuse(sessions, first)
    rows = await _refused(sessions)
    assert [(r.incident_id, r.actor, r.data.get("action"), r.data.get("count")) for r in rows] == [
        (first, CHEN, "resolved", 2),
        (first, ZHANG, "resolved", 1),
        (first, CHEN, "closed", 1),
        (second, CHEN, "resolved", 1),
        (first, CHEN, "resolved", 2),
    ]
    assert rows[0].data == {"status": "resolved", "action": "resolved", "count": 2}  # the caller's data is kept
    assert rows[-1].at == START.replace(second=0) + timedelta(minutes=1)


async def test_a_row_written_before_without_a_count_counts_as_one(sessions: Sessions, clock: Clock) -> None:
    incident_id = await _incident(sessions)
    async with sessions() as session:  # as the call sites still being rewritten write it
        timeline.record(session, incident_id, "refused", actor=CHEN, text=TEXT, data={"action": "resolved"}, at=START)
        await session.commit()
    clock.now = START + timedelta(seconds=5)
    await _refuse(sessions, incident_id)
    [row] = await _refused(sessions)
    assert row.data == {"action": "resolved", "count": 2}


async def test_refusal_leaves_the_commit_to_the_caller(sessions: Sessions, clock: Clock) -> None:
    incident_id = await _incident(sessions)
    async with sessions() as session:
        await timeline.refusal(session, incident_id, actor=CHEN, action="resolved", text=TEXT)
        await session.rollback()
    assert await _refused(sessions) == []
    await _refuse(sessions, incident_id)
    async with sessions() as session:
        event = await timeline.refusal(session, incident_id, actor=CHEN, action="resolved", text=TEXT)
        assert event.data["count"] == 2
        await session.rollback()
    [row] = await _refused(sessions)
    assert row.data["count"] == 1


async def test_concurrent_refusals_are_one_row_with_the_exact_count(sessions: Sessions, clock: Clock) -> None:
    incident_id = await _incident(sessions)
    for burst in (1, 2, 3):  # the first burst finds no row yet: only one of the twenty may add it
        await asyncio.gather(*(_refuse(sessions, incident_id) for _ in range(20)))
        [row] = await _refused(sessions)
        assert row.data == {"action": "resolved", "count": 20 * burst}


async def test_a_long_lived_session_counts_on_what_others_committed(sessions: Sessions, clock: Clock) -> None:
    """Sessions keep their objects after commit; the count is read afresh, not taken from a stale copy."""
    incident_id = await _incident(sessions)
    async with sessions() as mine:
        first = await timeline.refusal(mine, incident_id, actor=CHEN, action="resolved", text=TEXT)
        await mine.commit()
        await _refuse(sessions, incident_id)
        await _refuse(sessions, incident_id)
        event = await timeline.refusal(mine, incident_id, actor=CHEN, action="resolved", text=TEXT)
        await mine.commit()
    assert event is first and event.data["count"] == 4
    [row] = await _refused(sessions)
    assert row.data["count"] == 4


async def _storm(sessions: Sessions, clock: Clock) -> int:
    """INC-1 with 300 refusals of 陈杰 in one minute and one of 张伟 in the next."""
    incident_id = await _incident(sessions)
    async with sessions() as session:  # one transaction is enough here; the counting is tested above
        for n in range(300):
            clock.now = START + timedelta(milliseconds=100 * n)
            await timeline.refusal(session, incident_id, actor=CHEN, action="resolved", text=TEXT)
        clock.now = START + timedelta(minutes=1)
        await timeline.refusal(session, incident_id, actor=ZHANG, action="closed", text="请先解决")
        await session.commit()
    return incident_id


async def test_review_and_timeline_pages_show_it_once_with_its_count(sessions: Sessions, clock: Clock) -> None:
    incident_id = await _storm(sessions, clock)
    async with sessions() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        facts = await summary.gather(session, incident, full=True)
    md = review.markdown(facts, TZ, playbook_name="支付失败", names={CHEN: "chen.jie", ZHANG: "zhang.wei"})
    refused = [line for line in md.splitlines() if "· refused ·" in line]
    assert refused == [
        f"- 2026-11-22 12:00:07 (UTC+8) · @chen.jie · refused · {TEXT} (×300)",
        "- 2026-11-22 12:01:07 (UTC+8) · @zhang.wei · refused · 请先解决",
    ]
    text = "\n".join(sections(facts.events, TZ, "zh"))
    assert text.count("*已拒绝*") == 2 and text.count("(×300)") == 1 and "×1" not in text


@pytest.mark.parametrize("fmt", ["md", "json", "csv"])
async def test_exports_show_it_once_with_its_count(sessions: Sessions, clock: Clock, database_url: str, fmt: str,
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await _storm(sessions, clock)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("YINGJI_CONFIG", raising=False)
    out = tmp_path / f"INC-1.{fmt}"
    assert await asyncio.to_thread(main, ["export", "INC-1", "--format", fmt, "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    if fmt == "md":
        refused = [line for line in text.splitlines() if "· refused ·" in line]
        assert len(refused) == 2 and refused[0].endswith(f"{TEXT} (×300)") and "×" not in refused[1]
    elif fmt == "json":
        rows = [e for e in json.loads(text)["timeline"] if e["kind"] == "refused"]
        assert [(e["actor"], e["data"]["action"], e["data"]["count"]) for e in rows] == [
            (CHEN, "resolved", 300), (ZHANG, "closed", 1)]
    else:
        rows = [r for r in csv.DictReader(io.StringIO(text)) if r["kind"] == "refused"]
        assert [(r["actor"], r["text"], r["count"]) for r in rows] == [(CHEN, TEXT, "300"), (ZHANG, "请先解决", "1")]
