"""One deployment snapshot, read (never copied) by the flows and the Slack operations; where a declaration is
announced is decided once, when it is recorded."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import select

from bot.models import SlackOp
from tests.helpers import declare
from yingji.local import LocalStack


async def _ops(stack: LocalStack, incident_id: int, kind: str) -> list[SlackOp]:
    async with stack.rt.sessions() as session:
        return list((await session.exec(select(SlackOp).where(
            SlackOp.incident_id == incident_id, SlackOp.kind == kind))).all())


async def test_the_flows_and_the_slack_operations_read_the_one_snapshot(stack: LocalStack) -> None:
    rt = stack.rt
    assert rt.deployment.bot_user_id == stack.sandbox.bot_user_id
    assert rt.env.bot_user_id == rt.context.bot_user_id == rt.deployment.bot_user_id
    assert rt.env.announce_channel_id == rt.deployment.announce_channel_id == stack.channels["incidents"]
    rt.deployment = replace(rt.deployment, announce_channel_id=None, bot_user_id="U0ANOTHER")
    assert (rt.env.announce_channel_id, rt.env.bot_user_id, rt.context.bot_user_id) == (None, "U0ANOTHER", "U0ANOTHER")


async def test_the_declaration_records_where_it_is_announced_and_provisioning_follows_it(stack: LocalStack) -> None:
    incident = await declare(stack)
    assert incident.id is not None
    [provision] = await _ops(stack, incident.id, "provision")
    [announce] = await _ops(stack, incident.id, "announce")
    assert provision.args["announce_channel"] == announce.args["channel"] == stack.channels["incidents"]
    assert any("INC-1" in m["text"] for m in stack.sandbox.messages(stack.channels["incidents"]))


async def test_a_declaration_made_with_no_announce_channel_is_never_announced(stack: LocalStack) -> None:
    stack.rt.deployment = replace(stack.rt.deployment, announce_channel_id=None)
    incident = await declare(stack)
    assert incident.id is not None
    [provision] = await _ops(stack, incident.id, "provision")
    assert provision.args["announce_channel"] is None and await _ops(stack, incident.id, "announce") == []
    assert not any("INC-1" in m["text"] for m in stack.sandbox.messages(stack.channels["incidents"]))
