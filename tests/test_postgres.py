"""Several web replicas on one database: what one replica did, the other sees, and nothing races.

Each test starts two bots on one sandbox and one database (two engines, two connection pools, so
their transactions really overlap on PostgreSQL), sends Slack's requests to both at the same moment,
and reads what the database and the sandbox then hold. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from sqlmodel import col, select

from bot import roles
from bot.config import load_settings
from bot.models import Incident, RoleAssignment, Statement, StatementReview, Step, TimelineEvent
from bot.sandbox.actor import sign
from bot.statements import service as statements
from bot.vocabulary import Role
from tests.helpers import (
    Database,
    StackFactory,
    declare,
    draft_statement,
    in_channel,
    incidents_in_db,
    statement_config,
    timeline_kinds,
)
from yingji.local import LocalStack

Replicas = tuple[LocalStack, LocalStack]


@pytest.fixture
async def replicas(make_stack: StackFactory, tmp_path: Path, database: Database) -> AsyncIterator[Replicas]:
    """Two web replicas behind one load balancer: one sandbox, one database; the second fires no jobs."""
    first = await make_stack(config=statement_config)
    second = await LocalStack.start(tmp_path / "replica", sandbox=first.sandbox, config=statement_config,
                                    database_url=first.rt.settings.database_url, scheduler=False)
    try:
        yield first, second
    finally:
        await second.stop(keep_sandbox=True)


async def settle(*stacks: LocalStack) -> None:
    """Wait until every replica's background work is done (one replica's work may queue the other's)."""
    for _ in range(2):
        for stack in stacks:
            await stack.settle()


def slash_body(stack: LocalStack, text: str, user: str, channel: str) -> bytes:
    """One slash command exactly as Slack sends it; the same bytes can be delivered twice."""
    sb = stack.sandbox
    return urlencode({
        "token": "x", "team_id": sb.team_id, "team_domain": "sandbox", "channel_id": channel,
        "channel_name": "general", "user_id": user, "user_name": "tester", "command": "/incident", "text": text,
        "api_app_id": sb.app_id, "is_enterprise_install": "false", "response_url": sb.new_response_url(channel, user),
        "trigger_id": sb.new_trigger_id(),
    }).encode()


async def deliver(http: aiohttp.ClientSession, stack: LocalStack, body: bytes, retry: int | None = None) -> str:
    """Post signed bytes to one replica (with Slack's retry header when it is a retry); the ack's body."""
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
               "X-Slack-Signature": sign(stack.sandbox.signing_secret, ts, body)}
    if retry is not None:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    async with http.post(f"{stack.server.url}/slack/events", data=body, headers=headers) as response:
        assert response.status == 200
        return await response.text()


async def test_a_retry_delivered_to_the_other_replica_is_recognised(replicas: Replicas) -> None:
    first, second = replicas
    bodies = [slash_body(first, f"declare sev2 payment-failure 回调超时 {n}", first.users["zhang.wei"],
                         first.channels["general"]) for n in range(12)]
    async with aiohttp.ClientSession() as http:
        # Each declaration reaches one replica, and Slack's retry of it reaches the other at the same moment.
        answers = await asyncio.gather(*(deliver(http, replicas[(n + retry) % 2], body, retry=retry or None)
                                         for n, body in enumerate(bodies) for retry in (0, 1)))
    await settle(first, second)
    stored = await incidents_in_db(first)
    assert len(stored) == len(bodies)
    assert len({i.key for i in stored}) == len(bodies) and all(i.key == f"INC-{i.id}" for i in stored)
    channels = [c for c in first.sandbox.channels.values() if c.name.startswith("inc-")]
    assert sorted(c.id for c in channels) == sorted(i.channel_id or "" for i in stored)
    # Each pair was stored once (by whichever replica came first) before empty acks, and answered once after.
    assert answers == [""] * (2 * len(bodies))
    told = [str(entry["body"].get("text")) for entry in first.sandbox.responses]
    assert sum(text.startswith(":rotating_light: 已记录 *INC-") for text in told) == len(bodies)
    assert not any("已经处理过" in text or "出错" in text for text in told)


async def test_one_role_claimed_on_both_replicas_at_once_has_one_holder(replicas: Replicas) -> None:
    first, second = replicas
    u = first.users
    incident = await declare(first, "declare sev2 order-anomaly 订单状态不同步")
    theirs = first.rt.context.roles_of("order-anomaly")  # the core five and the playbook's finance
    assert Role.FINANCE in theirs
    claims = [(first, "zhang.wei", role, "chen.jie") for role in theirs] + \
             [(second, "li.na", role, "liu.yang") for role in theirs]
    await in_channel(first, incident, f"role support <@{u['li.na']}>")  # li.na is inside the channel too
    await asyncio.gather(*(stack.actor.slash("/incident", f"role {role} <@{u[whom]}>", user_id=u[by],
                                             channel_id=incident.channel_id) for stack, by, role, whom in claims))
    await settle(first, second)
    async with first.rt.sessions() as session:
        open_rows = (await session.exec(select(RoleAssignment).where(
            RoleAssignment.incident_id == incident.id, col(RoleAssignment.ended_at).is_(None)))).all()
        events = (await session.exec(select(TimelineEvent).where(
            TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "role_assigned").order_by(col(TimelineEvent.id)))).all()
    assert sorted(row.role for row in open_rows) == sorted(theirs)  # one holder per role
    for role in theirs:
        chain = [e.data for e in events if e.data["role"] == role]
        # Each handover ended the turn of the holder before it: the chain never forks.
        assert all(later["previous"] == earlier["user"] for earlier, later in itertools.pairwise(chain))
        assert chain[-1]["user"] == next(r.user_id for r in open_rows if r.role == role)


async def test_concurrent_handovers_of_one_role_form_one_chain(replicas: Replicas) -> None:
    first, _second = replicas
    incident = await declare(first)
    people = [f"U{n:08d}" for n in range(16)]

    async def hand_to(stack: LocalStack, user: str) -> str | None:
        async with stack.rt.sessions() as session:
            previous = await roles.assign(session, incident.id or 0, "tech", user, by=user)
            await session.commit()
            return previous

    previous = await asyncio.gather(*(hand_to(replicas[n % 2], user) for n, user in enumerate(people)))
    async with first.rt.sessions() as session:
        rows = (await session.exec(select(RoleAssignment).where(
            RoleAssignment.incident_id == incident.id, RoleAssignment.role == "tech").order_by(col(RoleAssignment.id)))).all()
    assert [r.user_id for r in rows if r.ended_at is None] == [rows[-1].user_id]
    assert sorted(p for p in previous if p) == sorted(r.user_id for r in rows[:-1])  # each turn ended exactly once
    assert all(r.ended_at is not None for r in rows[:-1])


async def test_comms_and_legal_approving_at_once_freeze_the_statement(replicas: Replicas) -> None:
    first, second = replicas
    u = first.users
    incident = await declare(first, "declare sev1 data-breach 会员手机号外泄")
    await in_channel(first, incident, f"role comms <@{u['chen.jie']}>")
    draft = await draft_statement(first, incident, data="confirmed", data_harms=["leaked"], data_detail="手机号和收货地址")
    await first.actor.join(incident.channel_id, u["li.na"])  # legal, inside the private incident
    presses = [(first, "chen.jie"), (second, "li.na"), (second, "chen.jie"), (first, "li.na")]  # with double clicks
    await asyncio.gather(*(stack.actor.block_action(u[who], "statement_approve", value=str(draft.id),
                                                    channel_id=incident.channel_id, message_ts=draft.message_ts)
                           for stack, who in presses))
    await settle(first, second)
    async with first.rt.sessions() as session:
        statement = await session.get(Statement, draft.id)
        reviews = (await session.exec(select(StatementReview).where(StatementReview.statement_id == draft.id))).all()
    assert statement is not None and statement.status == "approved" and statement.approved_at is not None
    assert sorted((r.as_role, r.reviewer) for r in reviews) == [("comms", u["chen.jie"]), ("legal", u["li.na"])]
    kinds = await timeline_kinds(first, incident.id)
    assert kinds.count("statement_approval") == 1 and kinds.count("statement_approved") == 1


async def test_edits_and_an_approval_at_once_never_both_win(replicas: Replicas) -> None:
    first, second = replicas
    u = first.users
    incident = await declare(first)
    draft = await draft_statement(first, incident)

    async def edit(stack: LocalStack) -> int:
        async with stack.rt.sessions() as session:
            row = await session.get(Incident, incident.id)
            base = await session.get(Statement, draft.id)
            assert row is not None and base is not None
            made = await statements.create_draft(session, row, stage="identified", language="zh", facts=base.facts,
                                                 text=base.text, outlets=base.outlets, by=u["zhang.wei"], edit_of=base)
            await session.commit()
            return made.version

    async def approve(stack: LocalStack) -> str:
        async with stack.rt.sessions() as session:
            base = await session.get(Statement, draft.id)
            assert base is not None
            approvers = statements.Approvers(holders={}, configured={"comms": [u["wang.fang"]]})
            decision = await statements.approve(session, base, by=u["wang.fang"], approvers=approvers, legal_review=False)
            await session.commit()
            return decision.outcome

    outcome, *versions = await asyncio.gather(approve(second), edit(first), edit(second), edit(first))
    assert sorted(versions) == [2, 3, 4]
    async with first.rt.sessions() as session:
        base = await session.get(Statement, draft.id)
    assert base is not None
    if outcome == "approved":  # the approval came first: the version stays approved (frozen), merely superseded
        assert base.status == "approved" and base.superseded_by is not None
    else:  # an edit came first: the version was superseded and the approval refused
        assert outcome == "refused" and base.status == "superseded" and base.approved_at is None


async def test_done_pressed_on_both_replicas_completes_the_step_once(replicas: Replicas) -> None:
    first, second = replicas
    incident = await declare(first)
    async with first.rt.sessions() as session:
        rows = (await session.exec(select(Step).where(Step.incident_id == incident.id).order_by(col(Step.number)))).all()
    answered = {s.id for s in first.rt.playbooks[incident.playbook].steps if s.asks}  # done by legal's grade, not Done
    steps = [row for row in rows if row.step_key not in answered][:3]
    presses = [(stack, step) for step in steps for stack in (first, second, first, second)]
    await asyncio.gather(*(stack.actor.block_action(stack.users[who], "step_done", value=str(step.id),
                                                    channel_id=incident.channel_id)
                           for (stack, step), who in zip(presses, ["zhang.wei", "li.na"] * len(presses), strict=False)))
    await settle(first, second)
    events = await _events(first, incident.id, "step_done")
    assert sorted(e.data["step"] for e in events) == [step.number for step in steps]  # each once


async def test_resolving_on_both_replicas_at_once_resolves_once(replicas: Replicas) -> None:
    first, second = replicas
    u = first.users
    incident = await declare(first)
    await in_channel(first, incident, f"role commander <@{u['zhang.wei']}>")
    await asyncio.gather(*(stack.actor.slash("/incident", "resolve 已切回主通道", user_id=u["zhang.wei"],
                                             channel_id=incident.channel_id) for stack in (first, second, first)),
                         *(stack.actor.slash("/incident", "severity sev1 影响扩大", user_id=u["zhang.wei"],
                                             channel_id=incident.channel_id) for stack in (second, first)))
    await settle(first, second)
    changes = await _events(first, incident.id, "status_changed")
    assert [(e.data["from"], e.data["to"]) for e in changes] == [("investigating", "resolved")]
    assert len(await _events(first, incident.id, "severity_changed")) == 1
    reviews = [m for m in first.sandbox.messages(incident.channel_id) if "复盘" in str(m.get("text", ""))]
    assert len(reviews) == 1


async def _events(stack: LocalStack, incident_id: int | None, kind: str) -> Sequence[TimelineEvent]:
    async with stack.rt.sessions() as session:
        return (await session.exec(select(TimelineEvent).where(
            TimelineEvent.incident_id == incident_id, TimelineEvent.kind == kind).order_by(col(TimelineEvent.id)))).all()


def test_platform_database_urls_are_used_through_asyncpg() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    for given in ("postgres://u:p@db:5432/yingji", "postgresql://u:p@db:5432/yingji"):
        assert load_settings({**env, "DATABASE_URL": given}).database_url == "postgresql+asyncpg://u:p@db:5432/yingji"
    assert load_settings({**env, "DATABASE_URL": "sqlite+aiosqlite:///x.db"}).database_url == "sqlite+aiosqlite:///x.db"
