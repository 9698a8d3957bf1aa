"""Declarations arriving together are recorded together: batched, deduplicated, each answered on its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest
from sqlmodel import select

from bot.group_commit import GroupCommit
from bot.models import Delivery, Incident, SlackOp, TimelineEvent
from bot.sandbox.actor import sign
from bot.tasks import TaskSet
from tests.helpers import incidents_in_db, slash_body
from yingji.local import LocalStack


async def test_callers_arriving_together_share_one_write() -> None:
    batches: list[list[int]] = []

    async def write(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        await asyncio.sleep(0)
        return [item * 10 for item in items]

    group = GroupCommit(write, TaskSet())
    results = await asyncio.gather(*(group.submit(n) for n in range(20)))
    assert results == [n * 10 for n in range(20)]
    assert sorted(n for batch in batches for n in batch) == list(range(20))
    assert len(batches) < 20
    assert await group.submit(7) == 70  # a lone caller is written at once, by itself
    assert batches[-1] == [7]


async def test_one_bad_write_fails_only_its_caller() -> None:
    async def write(items: Sequence[int]) -> list[int]:
        if 13 in items:
            raise ValueError("thirteen")
        return list(items)

    group = GroupCommit(write, TaskSet())
    results = await asyncio.gather(*(group.submit(n) for n in (11, 12, 13, 14)), return_exceptions=True)
    assert results[:2] == [11, 12] and results[3] == 14
    assert isinstance(results[2], ValueError)


async def test_a_burst_with_retries_declares_each_request_once(stack: LocalStack) -> None:
    alice = stack.users["zhang.wei"]
    bodies = [slash_body(stack, f"declare sev2 payment-failure 并发 {n}", alice) for n in range(30)]
    retried = bodies[:10]  # Slack retries these while the first delivery is still being answered

    async def send(body: bytes, retry: int | None) -> str:
        ts = str(int(time.time()))
        headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(stack.sandbox.signing_secret, ts, body)}
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        response = await stack.actor.raw(body, "application/x-www-form-urlencoded", headers)
        assert response.status == 200
        return response.body

    replies = await asyncio.gather(*(send(b, None) for b in bodies), *(send(b, 1) for b in retried))
    await stack.settle(60)
    incidents = await incidents_in_db(stack)
    assert len(incidents) == 30
    assert len({i.key for i in incidents}) == len({i.channel_name for i in incidents}) == 30
    assert sorted(i.title for i in incidents) == sorted(f"并发 {n}" for n in range(30))
    # Stored before an empty ack, answered after it once, by the first delivery: a retry is acked and never answered.
    assert replies == [""] * 40
    answered = [str(entry["body"].get("text")) for entry in stack.sandbox.responses]
    assert sum(text.startswith(":rotating_light: 已记录 *INC-") for text in answered) == 30
    assert not any("已经处理" in text for text in answered)
    channels = sorted(c.name for c in stack.sandbox.channels.values() if c.name.startswith("inc-"))
    assert channels == sorted(i.channel_name for i in incidents)  # one each, even through Slack's 429s
    async with stack.rt.sessions() as session:
        declared = (await session.exec(select(TimelineEvent).where(TimelineEvent.kind == "declared"))).all()
        provisions = (await session.exec(select(SlackOp).where(SlackOp.kind == "provision"))).all()
        deliveries = (await session.exec(select(Delivery).where(Delivery.key.startswith("slash:")))).all()  # type: ignore[union-attr]
    assert sorted(e.incident_id for e in declared) == sorted(i.id for i in incidents)
    assert all(op.status == "done" for op in provisions) and len(provisions) == 30
    assert {d.result for d in deliveries} == {i.key for i in incidents}


@pytest.mark.parametrize("commander", [False, True])
async def test_a_batch_keeps_each_declarers_choices(stack: LocalStack, commander: bool) -> None:
    """A declarer who takes command in the form is commander; the others in the same batch are not."""
    from bot.incidents import DeclareRequest

    people = [stack.users[name] for name in ("zhang.wei", "li.na", "wang.fang")]
    requests = [
        DeclareRequest(title=f"批次 {n}", playbook="payment-failure", severity="sev3", declared_by=user,
                       declarer_is_commander=commander and n == 1, dedup_key=f"view:test-{n}")
        for n, user in enumerate(people)
    ]
    declared = await asyncio.gather(*(stack.rt.declarations.submit(r) for r in requests))
    assert [d.created for d in declared] == [True, True, True]
    async with stack.rt.sessions() as session:  # each answer names the row its own request created
        rows = [await session.get(Incident, d.id) for d in declared]
    assert [(r.key, r.title, r.declared_by, r.channel_name) for r in rows if r] == [
        (d.key, q.title, q.declared_by, d.channel_name) for d, q in zip(declared, requests, strict=True)]
    await stack.settle(60)
    from bot import roles

    async with stack.rt.sessions() as session:
        holders = [await roles.holders(session, d.id) for d in declared]
    commanders = [h.get("commander") for h in holders]
    assert commanders == [None, people[1] if commander else None, None]
