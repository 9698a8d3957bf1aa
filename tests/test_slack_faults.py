"""Slack's bad days: rate limits, errors, a Slack that stays down, and a bot that restarts mid-work."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.sandbox.server import Sandbox
from tests.conftest import incidents_in_db, timeline_kinds
from yingji.local import LocalStack

READY = ("channel_created", "header_posted", "header_pinned", "announced")


def _headers(sb: Sandbox, channel_id: str) -> list[dict]:
    """Header messages (the ones with the Assign roles button)."""
    return [m for m in sb.messages(channel_id) if "open_assign_roles" in str(m.get("blocks"))]


def _checklists(sb: Sandbox, channel_id: str) -> list[dict]:
    return [m for m in sb.messages(channel_id) if "step_done" in str(m.get("blocks"))]


def _calls(sb: Sandbox, method: str) -> int:
    return len([c for c in sb.calls if c[0] == method])


async def _declare(stack: LocalStack, text: str = "declare sev2 payment-failure 银联通道超时"):
    return await stack.actor.slash("/incident", text, user_id=stack.users["zhang.wei"],
                                   channel_id=stack.channels["general"])


async def test_two_429s_on_create_still_give_one_channel(stack: LocalStack) -> None:
    sb = stack.sandbox
    sb.faults.add("conversations.create", "429", times=2, retry_after=1)
    assert (await _declare(stack)).status == 200
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    assert incident.channel_id is not None
    assert len([c for c in sb.channels.values() if c.name.startswith("inc-1")]) == 1
    assert set(READY) <= set(await timeline_kinds(stack, incident.id))


async def test_5xx_on_posting_never_posts_twice(stack: LocalStack) -> None:
    sb = stack.sandbox
    sb.faults.add("chat.postMessage", "5xx", times=2)
    sb.faults.add("pins.add", "reset", times=1)
    await _declare(stack)
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    headers = _headers(sb, incident.channel_id)
    assert len(headers) == 1 and sb.channels[incident.channel_id].pins == [headers[0]["ts"]]
    assert len(_checklists(sb, incident.channel_id)) == 1
    assert len(sb.messages(stack.channels["incidents"])) == 1


async def test_slack_down_tells_the_declarer_and_repair_finishes(stack: LocalStack) -> None:
    sb = stack.sandbox
    sb.faults.add("conversations.create", "5xx", times=None)
    ack = await _declare(stack)
    assert "INC-1" in ack.json["text"]
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    assert incident.channel_id is None
    assert (await timeline_kinds(stack, incident.id)) == ["declared"]
    notices = [r["text"] for r in sb.responses if "repair" in str(r.get("text"))]
    assert notices and "/incident repair INC-1" in notices[0] and "HTTP 503" in notices[0]

    sb.faults.clear()
    r = await stack.actor.slash("/incident", "repair INC-1", user_id=stack.users["zhang.wei"],
                                channel_id=stack.channels["general"])
    assert "INC-1" in r.json["text"]
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    assert incident.channel_id and sb.channels[incident.channel_id].pins == [incident.header_ts]
    assert _calls(sb, "chat.postMessage") >= 2
    assert len([c for c in sb.channels.values() if c.name.startswith("inc-1")]) == 1


async def test_repair_with_an_unknown_key_says_so(stack: LocalStack) -> None:
    r = await stack.actor.slash("/incident", "repair INC-99", user_id=stack.users["zhang.wei"],
                                channel_id=stack.channels["general"])
    assert "INC-99" in r.json["text"]


@pytest.mark.parametrize("stop_after", [0.15, 0.5], ids=["create-in-flight", "header-in-flight"])
async def test_restart_finishes_interrupted_work_exactly_once(tmp_path: Path, stop_after: float) -> None:
    stack = await LocalStack.start(tmp_path / "bot")
    sb = stack.sandbox
    sb.latency = 0.3  # every Slack call is slow, so the stop lands in the middle of the work
    try:
        await _declare(stack)
        await asyncio.sleep(stop_after)  # a Slack call has reached Slack; its answer is still on the way
    finally:
        await stack.stop(keep_sandbox=True)  # the process dies with work unfinished
    sb.latency = 0.0
    assert _calls(sb, "conversations.create") == 1
    restarted = await LocalStack.start(tmp_path / "bot", sandbox=sb)
    try:
        await asyncio.sleep(2.1)  # the dead process's claim on its operation expires
        await restarted.rt.runner.resume()
        await restarted.settle()
        [incident] = await incidents_in_db(restarted)
        assert incident.channel_id is not None
        assert [c.name for c in sb.channels.values() if c.name.startswith("inc-1")] == [incident.channel_name]
        assert len(_headers(sb, incident.channel_id)) == 1
        assert len(_checklists(sb, incident.channel_id)) == 1
        assert len(sb.messages(restarted.channels["incidents"])) == 1
    finally:
        await restarted.stop()
