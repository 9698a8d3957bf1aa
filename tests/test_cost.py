"""What one incident costs the database: transactions per declaration, bulk timeline appends, and exports that
read the timeline as plain rows — checked by behaviour and by counting, never by the clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import incidents, outbox, review, summary, timeline
from bot.db import make_engine, make_sessionmaker, upgrade, utcnow
from bot.incidents import DeclareRequest, Workspace
from bot.loopwrite import LoopWriter
from bot.models import Incident, SlackOp, Step, TimelineEvent
from bot.playbooks import SHIPPED_DIR, load_playbooks
from bot.scheduler import Scheduler, deferred, write_jobs
from bot.vocabulary import OpStatus
from tests.helpers import Database, StackFactory, incidents_in_db, wait_for
from yingji.local import LocalStack

MAX_TRANSACTIONS = 12  # per declaration on SQLite, from the request to its last Slack operation recorded
TZ = ZoneInfo("Asia/Shanghai")
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(database: Database, tmp_path: Path) -> AsyncIterator[Sessions]:
    """A migrated database of the backend under test, without the bot."""
    url = database.url_for(tmp_path / "db")
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _incident(sessions: Sessions, title: str = "支付宝回调超时") -> int:
    playbook = load_playbooks([SHIPPED_DIR])["payment-failure"]
    where = Workspace(channel_prefix="inc", tz=TZ, announce_channel_id=None)
    async with sessions() as session:
        declared = await incidents.declare(session, DeclareRequest(title=title, playbook="payment-failure",
                                                                   severity="sev2", declared_by="U0ZHANG"), where, playbook)
    return declared.id


class Transactions:
    """Every transaction begun on any engine in this process, and every one the loop writer runs on SQLite's own
    connection (bot/loopwrite.py: declarations, stored commands), which SQLAlchemy does not see."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        transaction = LoopWriter._transaction

        def counted(writer: LoopWriter, *args: Any, **kwargs: Any) -> Any:
            result = transaction(writer, *args, **kwargs)  # one BEGIN IMMEDIATE … COMMIT
            self.count += 1
            return result

        monkeypatch.setattr(LoopWriter, "_transaction", counted)
        event.listen(Engine, "begin", self._begun)

    def _begun(self, connection: Any) -> None:
        self.count += 1

    def stop(self) -> int:
        """Stop counting; how many there were."""
        event.remove(Engine, "begin", self._begun)
        return self.count


async def test_a_declaration_costs_at_most_twelve_transactions(make_stack: StackFactory, database: Database,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    # A replica that stores jobs and never fires them: the firing process also polls its job store, two reads a
    # second whatever happens, which would make the count depend on the clock.
    stack = await make_stack(scheduler=False)
    await stack.settle()
    counting = Transactions(monkeypatch)
    try:
        await stack.actor.slash("/incident", "declare sev2 payment-failure 支付宝回调超时",
                                user_id=stack.users["zhang.wei"], channel_id=stack.channels["general"])
        await stack.settle()
    finally:
        spent = counting.stop()
    with capsys.disabled():
        print(f"\n[{database.backend}] transactions for one declaration, request to last Slack operation: {spent}")

    [incident] = await incidents_in_db(stack)  # and all of it was done
    assert incident.channel_id and incident.header_ts
    assert stack.sandbox.channels[incident.channel_id].pins == [incident.header_ts]
    async with stack.rt.sessions() as session:
        steps = (await session.exec(select(Step).where(Step.incident_id == incident.id))).all()
        open_ops = (await session.exec(select(SlackOp).where(col(SlackOp.status) != OpStatus.DONE))).all()
    assert steps and all(step.message_ts for step in steps) and open_ops == []
    jobs = set(await stack.rt.scheduler.job_ids())
    assert {f"step:{step.id}" for step in steps} | {f"cadence:{incident.id}", f"escalate:{incident.id}"} <= jobs
    if database.backend == "sqlite":
        assert spent <= MAX_TRANSACTIONS


async def test_append_many_writes_exactly_the_rows_given(sessions: Sessions) -> None:
    incident_id = await _incident(sessions)
    shanghai = datetime(2024, 11, 11, 0, 30, tzinfo=TZ)  # 2024-11-10 16:30 UTC
    given = [
        timeline.NewEvent("alert_firing", text="支付回调 5xx > 5%", data={"fingerprint": "a1", "labels": {"sev": "2"}},
                          at=shanghai, source_key="alert:a1"),
        timeline.NewEvent("note", actor="U0LINA", text="切换备用通道 <@U0ZHANG>", at=shanghai + timedelta(seconds=1)),
        timeline.NewEvent("alert_resolved", data={"fingerprint": "a1"}),
    ]
    async with sessions() as session:
        before = await timeline.count(session, incident_id)
        await timeline.append_many(session, incident_id, given)
        await session.commit()
    async with sessions() as session:
        rows = (await session.exec(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
                                   .order_by(col(TimelineEvent.id)))).all()
    written = rows[before:]
    assert len(written) == len(given)
    assert [(e.kind, e.actor, e.text, e.data, e.source_key) for e in written] == [
        (g.kind, g.actor, g.text, g.data, g.source_key) for g in given]
    assert all(e.at.tzinfo is not None and e.at.utcoffset() == timedelta(0) for e in written)
    assert written[0].at == shanghai and written[1].at == shanghai + timedelta(seconds=1)
    assert abs(written[2].at - utcnow()) < timedelta(minutes=1)  # no time given: the batch's instant


async def test_append_many_refuses_naive_times_and_taken_keys(sessions: Sessions) -> None:
    incident_id = await _incident(sessions)
    async with sessions() as session:
        with pytest.raises(ValueError, match="timezone-aware"):
            await timeline.append_many(session, incident_id, [timeline.NewEvent("note", at=datetime(2024, 1, 1))])
    async with sessions() as session:
        await timeline.append_many(session, incident_id, [timeline.NewEvent("note", source_key="k")])
        await session.commit()
    async with sessions() as session:
        with pytest.raises(IntegrityError):
            await timeline.append_many(session, incident_id, [timeline.NewEvent("note", source_key="k")])
    async with sessions() as session:
        assert await timeline.count(session, incident_id) == 2  # the declaration and the one keyed note


async def _fill_per_event(session: AsyncSession, incident_id: int, start: datetime) -> None:
    """A small timeline with everything an export shows: mentions, a permalink, a deleted message, an action
    item, a status change, and a refusal counted three times."""
    timeline.record(session, incident_id, "status_changed", actor="U0ZHANG", text="identified",
                    data={"from": "investigating", "to": "identified"}, at=start)
    timeline.record(session, incident_id, "note", actor="U0LINA", text="<@U0ZHANG> 回调积压 12 万条", at=start)
    timeline.record(session, incident_id, "message", actor="U0CHEN", text="见截图",
                    data={"permalink": "https://example.slack.com/archives/C1/p1"}, at=start + timedelta(minutes=1))
    timeline.record(session, incident_id, "message", actor="U0CHEN", text="删掉了", data={"deleted": True},
                    at=start + timedelta(minutes=2))
    timeline.record(session, incident_id, "action_item", actor="U0ZHANG", text="告警阈值改为 30 秒",
                    at=start + timedelta(hours=9))  # the next day in Shanghai
    for _ in range(3):
        await timeline.refusal(session, incident_id, actor="U0GUEST", action="resolve", text="resolve refused")
    await session.commit()


def _exports(facts: summary.Facts) -> tuple[str, str, str]:
    return (review.markdown(facts, TZ, playbook_name="支付故障", names={"U0ZHANG": "张伟"}),
            json.dumps(review.as_dict(facts, TZ), ensure_ascii=False, indent=2), review.timeline_csv(facts, TZ))


async def test_exports_from_plain_rows_match_the_per_event_path(sessions: Sessions) -> None:
    incident_id = await _incident(sessions)
    async with sessions() as session:
        await _fill_per_event(session, incident_id, datetime(2024, 11, 11, 15, 0, tzinfo=UTC))
    async with sessions() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        per_event = _exports(await summary.gather(session, incident, full=True))  # one ORM object per event
        from_rows = _exports(await review.gather(session, incident))
    assert from_rows == per_event
    assert "(×3)" in from_rows[0] and "（已删除）" in from_rows[0] and "@张伟" in from_rows[0]


async def test_an_appended_timeline_exports_like_one_recorded_event_by_event(sessions: Sessions) -> None:
    start = datetime(2024, 11, 11, 15, 0, tzinfo=UTC)
    recorded, appended = await _incident(sessions, "recorded"), await _incident(sessions, "appended")
    async with sessions() as session:
        await _fill_per_event(session, recorded, start)
    async with sessions() as session:
        events = await timeline.events(session, recorded)
        await timeline.append_many(session, appended, [
            timeline.NewEvent(e.kind, e.actor, e.text, e.data, e.at) for e in events if e.kind != "declared"])
        await session.commit()
    async with sessions() as session:
        csvs = []
        for incident_id in (recorded, appended):
            incident = await session.get(Incident, incident_id)
            assert incident is not None
            lines = review.timeline_csv(await review.gather(session, incident), TZ).splitlines()[1:]
            csvs.append([line for line in lines if ",declared," not in line])  # each incident's own
    assert csvs[0] == csvs[1] and len(csvs[0]) == 6


async def test_jobs_collected_in_deferred_are_written_with_the_callers_transaction(
        database: Database, tmp_path: Path) -> None:
    url = database.url_for(tmp_path / "db")
    await asyncio.to_thread(upgrade, url)
    engine, scheduler = make_engine(url), Scheduler(url)
    await scheduler.start(fire_jobs=False)
    try:
        when = utcnow() + timedelta(hours=1)
        await scheduler.at("step:1", when, "step_due", 1)  # the usual way: APScheduler writes it
        with deferred() as changes:
            await scheduler.at("step:2", when, "step_due", 2)
            await scheduler.cancel("step:1")
        assert sorted(await scheduler.job_ids()) == ["step:1"]  # only collected so far
        async with engine.begin() as connection:
            await write_jobs(connection, changes)
        assert sorted(await scheduler.job_ids()) == ["step:2"]
        assert await scheduler.next_run("step:2") == when
        stored = scheduler.job_row("step:2", when, "step_due", 2)
        async with engine.begin() as connection:  # written again (a re-plan): replaced, never a conflict
            await write_jobs(connection, {"step:2": stored})
        assert sorted(await scheduler.job_ids()) == ["step:2"]
    finally:
        await asyncio.to_thread(scheduler.shutdown)
        await engine.dispose()


async def _claim(sessions: Sessions, op_id: int, lease: timedelta) -> list[SlackOp]:
    async with sessions() as session:
        taken = await outbox.claim_many(session, [op_id], lease)
        await session.commit()
    return taken


async def _finish(sessions: Sessions, op: SlackOp) -> bool:
    async with sessions() as session:
        finished = await outbox.finish(session, op)
        await session.commit()
    return finished


async def test_an_outcome_is_recorded_only_under_the_claim_it_ran_under(sessions: Sessions) -> None:
    incident_id = await _incident(sessions)
    async with sessions() as session:
        op = outbox.enqueue(session, incident_id, "set_topic", wave=2)
        await session.commit()
    op_id = op.id or 0
    [first] = await _claim(sessions, op_id, timedelta(seconds=-1))  # a claim whose lease has already lapsed…
    [second] = await _claim(sessions, op_id, outbox.LEASE)  # …so another process takes the operation over
    assert (first.attempts, second.attempts) == (1, 2)
    assert await _claim(sessions, op_id, outbox.LEASE) == []  # held, and not lapsed: nobody else takes it
    assert not await _finish(sessions, first)  # the first process's result is not recorded over the second's
    assert await _finish(sessions, second)
    assert await _claim(sessions, op_id, outbox.LEASE) == []  # done: nobody claims it again


async def test_a_step_done_while_the_checklist_is_posted_is_shown_done(stack: LocalStack) -> None:
    """The race recording waves together made likelier (the crash test caught it): the checklist is drawn, the step is
    completed before the message's ts is stored (so no redraw is queued for it), and the message showed it open."""
    sb, u = stack.sandbox, stack.users
    sb.latency = 0.4  # every Slack call: the checklist is drawn well before its ts comes back
    await stack.actor.slash("/incident", "declare sev2 payment-failure 支付宝回调超时", user_id=u["zhang.wei"],
                            channel_id=stack.channels["general"])
    assert await wait_for(lambda: any(method == "chat.postMessage" and "step_done" in str(params.get("blocks"))
                                      for method, params in sb.calls))
    [incident] = await incidents_in_db(stack)
    await stack.actor.slash("/incident", "done 1", user_id=u["zhang.wei"], channel_id=incident.channel_id)
    await stack.settle()
    sb.latency = 0.0
    [step_1] = [block for message in sb.messages(incident.channel_id) for block in message.get("blocks") or []
                if block.get("block_id") == "step-1"]
    assert step_1["text"]["text"].startswith(":white_check_mark:")
