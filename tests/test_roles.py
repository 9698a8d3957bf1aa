"""Roles: assigning, handing over, the Assign roles form, and every way to get it wrong."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from bot.models import Incident, RoleAssignment, TimelineEvent
from tests.helpers import declare, in_channel, timeline_kinds
from yingji.local import LocalStack


async def _holders(stack: LocalStack, incident: Incident) -> dict[str, str]:
    async with stack.rt.sessions() as session:
        rows = await session.exec(select(RoleAssignment).where(
            RoleAssignment.incident_id == incident.id, RoleAssignment.ended_at.is_(None)))  # type: ignore[union-attr]
        return {row.role: row.user_id for row in rows.all()}


def _header(stack: LocalStack, incident: Incident) -> str:
    [header] = [m for m in stack.sandbox.messages(incident.channel_id) if m["ts"] == incident.header_ts]
    return str(header["blocks"])


async def test_assigning_a_role_invites_briefs_and_updates_in_place(stack: LocalStack) -> None:
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack)
    messages_before = len(sb.messages(incident.channel_id))
    reply = await in_channel(stack, incident, f"role comms <@{u['wang.fang']}|wang.fang>")
    assert reply.status == 200 and f"<@{u['wang.fang']}>" in reply.text
    assert (await _holders(stack, incident)) == {"comms": u["wang.fang"]}
    assert u["wang.fang"] in sb.channels[incident.channel_id].members
    [brief] = sb.dms(u["wang.fang"])
    assert "信息发布" in brief["text"] and f"<#{incident.channel_id}>" in brief["text"]
    assert "对外" in brief["text"] or "公告" in brief["text"]  # the playbook's comms duty, in Chinese
    assert f"<@{u['wang.fang']}>" in str(sb.messages(incident.channel_id))  # checklist mentions the comms holder
    assert len(sb.messages(incident.channel_id)) == messages_before  # header and checklist edited, nothing new
    assert "role_assigned" in await timeline_kinds(stack, incident.id)


async def test_commander_in_header_and_time_to_acknowledge(stack: LocalStack) -> None:
    u = stack.users
    incident = await declare(stack)
    roles_before = (await in_channel(stack, incident, "roles")).text
    assert "尚无应急指挥" in roles_before
    await in_channel(stack, incident, f"role commander <@{u['li.na']}>")
    assert f"<@{u['li.na']}>" in _header(stack, incident)
    roles_after = (await in_channel(stack, incident, "roles")).text
    assert f"<@{u['li.na']}>" in roles_after and "响应用时" in roles_after and "秒" in roles_after


async def test_handover_rules(stack: LocalStack) -> None:
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack)
    await in_channel(stack, incident, f"role commander <@{u['zhang.wei']}>")
    await in_channel(stack, incident, f"role tech <@{u['chen.jie']}>", user="zhang.wei")
    # A bystander may not take a held role away.
    refused = await in_channel(stack, incident, f"role tech <@{u['liu.yang']}>", user="wang.fang")
    assert "只有本人或应急指挥" in refused.text
    assert (await _holders(stack, incident))["tech"] == u["chen.jie"]
    async with stack.rt.sessions() as session:
        refusals = (await session.exec(select(TimelineEvent).where(TimelineEvent.kind == "refused"))).all()
    assert len(refusals) == 1 and refusals[0].actor == u["wang.fang"]
    # The holder hands over; the previous holder is told who took over.
    await in_channel(stack, incident, f"role tech <@{u['liu.yang']}>", user="chen.jie")
    assert (await _holders(stack, incident))["tech"] == u["liu.yang"]
    told = [m["text"] for m in sb.dms(u["chen.jie"]) if "接任" in m["text"]]
    assert told and f"<@{u['liu.yang']}>" in told[0]
    # One person may hold several roles.
    await in_channel(stack, incident, f"role support <@{u['liu.yang']}>", user="zhang.wei")
    holders = await _holders(stack, incident)
    assert holders["tech"] == holders["support"] == u["liu.yang"]
    async with stack.rt.sessions() as session:
        handover = (await session.exec(select(TimelineEvent).where(
            TimelineEvent.kind == "role_assigned", TimelineEvent.data["previous"].as_string() == u["chen.jie"]))).all()
    assert len(handover) == 1 and handover[0].actor == u["chen.jie"]


async def test_wrong_role_commands_change_nothing(stack: LocalStack) -> None:
    sb, u = stack.sandbox, stack.users
    robot = sb.add_user("deploy-bot", is_bot=True)
    incident = await declare(stack)
    cases = {
        f"role janitor <@{u['li.na']}>": "commander",   # unknown role: the roles are listed
        "role comms": "@",                                  # nobody mentioned
        "role comms @li.na": "@li.na",                      # plain text, not a mention
        "role": "/incident role",
    }
    for text, fragment in cases.items():
        reply = await in_channel(stack, incident, text)
        assert fragment in reply.text, (text, reply.text)
    await in_channel(stack, incident, "role comms <@U0NOBODY1>")
    await in_channel(stack, incident, f"role comms <@{robot}>")
    notices = [r["text"] for r in sb.responses]
    assert any("U0NOBODY1" in n and "已撤回" in n for n in notices)  # assigned, then undone once Slack said no
    assert any("机器人" in n for n in notices)
    outside = await stack.actor.slash("/incident", f"role comms <@{u['li.na']}>", user_id=u["zhang.wei"],
                                      channel_id=stack.channels["general"])
    assert "不是事件频道" in outside.text
    await stack.settle()
    assert await _holders(stack, incident) == {}


async def test_role_from_outside_with_the_key(stack: LocalStack) -> None:
    u = stack.users
    incident = await declare(stack)
    for text in (f"role INC-1 comms <@{u['wang.fang']}>", f"INC-1 role legal <@{u['chen.jie']}>"):
        reply = await stack.actor.slash("/incident", text, user_id=u["zhang.wei"], channel_id=stack.channels["general"])
        assert "INC-1" in reply.text
    await stack.settle()
    assert await _holders(stack, incident) == {"comms": u["wang.fang"], "legal": u["chen.jie"]}
    stranger = await stack.actor.slash("/incident", f"role INC-1 tech <@{u['guest']}>", user_id=u["guest"],
                                       channel_id=stack.channels["general"])
    assert "只有事件频道里的人" in stranger.text


async def test_assign_roles_form(stack: LocalStack) -> None:
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack)
    await in_channel(stack, incident, f"role comms <@{u['wang.fang']}>")
    pressed = await stack.actor.block_action(u["zhang.wei"], "open_assign_roles", channel_id=incident.channel_id,
                                             message_ts=incident.header_ts)
    assert pressed.status == 200
    await stack.settle()
    [(view_id, view)] = [(k, v) for k, v in sb.views.items() if v.get("callback_id") == "assign_roles_form"]
    comms_block = next(b for b in view["blocks"] if b["block_id"] == "comms")
    assert comms_block["element"]["initial_user"] == u["wang.fang"]  # prefilled with the current holder
    submitted = await stack.actor.submit_view(view_id, u["zhang.wei"], values={
        "commander": {"user": u["zhang.wei"]}, "tech": {"user": u["chen.jie"]},
        "comms": {"user": u["wang.fang"]}, "legal": {"user": None}, "support": {"user": u["liu.yang"]},
    })
    assert submitted.status == 200 and not (submitted.json or {}).get("errors")
    await stack.settle()
    assert await _holders(stack, incident) == {
        "commander": u["zhang.wei"], "tech": u["chen.jie"], "comms": u["wang.fang"], "support": u["liu.yang"]}


async def test_assign_roles_form_refuses_a_handover_the_person_may_not_make(stack: LocalStack) -> None:
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack)
    await in_channel(stack, incident, f"role comms <@{u['wang.fang']}>")
    await stack.actor.block_action(u["guest"], "open_assign_roles", channel_id=incident.channel_id,
                                   message_ts=incident.header_ts)
    await stack.settle()
    assert not [k for k, v in sb.views.items() if v.get("callback_id") == "assign_roles_form"]  # outside: no form
    assert any("只有事件频道里的人" in str(r.get("text")) for r in sb.responses)
    await stack.actor.join(incident.channel_id, u["liu.yang"])
    await stack.actor.block_action(u["liu.yang"], "open_assign_roles", channel_id=incident.channel_id,
                                   message_ts=incident.header_ts)
    await stack.settle()
    [view_id] = [k for k, v in sb.views.items() if v.get("callback_id") == "assign_roles_form"]
    submitted = await stack.actor.submit_view(view_id, u["liu.yang"], values={"comms": {"user": u["liu.yang"]}})
    assert submitted.json["response_action"] == "errors" and "comms" in submitted.json["errors"]
    await stack.actor.leave(incident.channel_id, u["liu.yang"])  # a form left open outlives being inside
    submitted = await stack.actor.submit_view(view_id, u["liu.yang"], values={"support": {"user": u["liu.yang"]}})
    assert submitted.json["response_action"] == "errors" and "只有事件频道里的人" in str(submitted.json["errors"])
    await stack.settle()
    assert await _holders(stack, incident) == {"comms": u["wang.fang"]}


@pytest.mark.parametrize("role", ["support", "commander"])
async def test_claims_of_an_empty_role_at_the_same_moment_have_one_winner(stack: LocalStack, role: str) -> None:
    """Three people in the channel claim the same empty role at once: one holds it, the others are told who."""
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack)
    claimants = ("li.na", "wang.fang", "liu.yang")
    for name in claimants:
        await stack.actor.join(incident.channel_id, u[name])
    replies = await asyncio.gather(*(
        stack.actor.slash("/incident", f"role {role} <@{u[name]}>", user_id=u[name], channel_id=incident.channel_id)
        for name in claimants))
    await stack.settle()
    texts = [r.text for r in replies]
    winners = [name for name, text in zip(claimants, texts, strict=True) if "已交给" in text]
    assert len(winners) == 1, texts
    winner = u[winners[0]]
    assert (await _holders(stack, incident)).get(role) == winner
    for name, text in zip(claimants, texts, strict=True):
        if name != winners[0]:
            assert f"<@{winner}>" in text and "担任" in text, text  # the loser is told who holds it now
    async with stack.rt.sessions() as session:
        assigned = (await session.exec(select(TimelineEvent).where(
            TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "role_assigned"))).all()
    assert [e.data["user"] for e in assigned if e.data["role"] == role] == [winner]  # never A → B → C
    assert not any("接任" in str(m.get("text")) for name in claimants for m in sb.dms(u[name]))  # nobody "took over"


def _role_fields(stack: LocalStack, incident: Incident) -> dict[str, str]:
    """The header's roles section: each role's name → what it shows for the holder."""
    [header] = [m for m in stack.sandbox.messages(incident.channel_id) if m["ts"] == incident.header_ts]
    [section] = [b for b in header["blocks"] if b.get("block_id") == "header-roles"]
    return dict(field["text"].split("\n", 1) for field in section["fields"])


async def test_the_header_shows_every_role_and_follows_each_change_in_place(stack: LocalStack) -> None:
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack)
    names = {"*应急指挥*", "*技术支持*", "*信息发布*", "*法务*", "*客服*", "*财务*"}  # payment-failure adds finance
    fields = _role_fields(stack, incident)
    assert set(fields) == names and set(fields.values()) == {"待指定"}
    posted = len(sb.messages(incident.channel_id))
    await in_channel(stack, incident, f"role comms <@{u['wang.fang']}>")
    await in_channel(stack, incident, f"role support <@{u['li.na']}>")
    fields = _role_fields(stack, incident)
    assert fields["*信息发布*"] == f"<@{u['wang.fang']}>" and fields["*客服*"] == f"<@{u['li.na']}>"
    assert fields["*应急指挥*"] == fields["*技术支持*"] == fields["*法务*"] == "待指定"
    await in_channel(stack, incident, f"role support <@{u['wang.fang']}>", user="li.na")  # handed over by the holder
    assert _role_fields(stack, incident)["*客服*"] == f"<@{u['wang.fang']}>"
    assert len(sb.messages(incident.channel_id)) == posted  # edited in place, never posted again
