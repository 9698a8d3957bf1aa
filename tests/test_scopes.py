"""Scopes: slack-manifest.yml grants the bot scope of every Web API call the bot makes.

Which calls the bot makes is read off a whole incident played on the local stack (public and private, the declare
form, roles, a note, a step, a captured thread reply, a statement, status, the summary chart, resolve, close and the
archive), with the first post and upload in each conversation failing once, so the retries' look-backs (reading a
channel's or a DM's history for what an earlier attempt posted) run too. What each call needs comes from the
sandbox's table of Slack's reference (bot/sandbox/scopes.py), per type of conversation it acts on.
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select

from bot.db import utcnow
from bot.models import Incident, SlackOp
from bot.sandbox import people
from bot.sandbox.faults import Fault, Faults
from bot.sandbox.params import Params
from bot.sandbox.scopes import KNOWN, AnyOf, manifest_scopes, needed
from bot.sandbox.server import Sandbox
from bot.scheduler import fire
from tests.helpers import StackFactory, declare, in_channel
from yingji.local import LocalStack

UPLOADS = ("chat.postMessage", "files.completeUploadExternal")


class FirstInEachConversation(Faults):
    """The first post and the first upload in each conversation answer 503; their retries go through."""

    def __init__(self, sb: Sandbox) -> None:
        super().__init__()
        self.sb = sb
        self.seen: set[tuple[str, str]] = set()

    def take(self, method: str, channel: str | None = None) -> Fault | None:
        """A 503 for the first such call in a conversation (the call being answered is the last one recorded)."""
        if method not in UPLOADS:
            return super().take(method, channel)
        params = self.sb.calls[-1][1]
        where = (method, str(params.get("channel") or params.get("channel_id") or params.get("channels")))
        if where in self.seen:
            return None
        self.seen.add(where)
        return Fault(method, "5xx")


def _statement_facts(stack: LocalStack) -> dict[str, dict[str, Any]]:
    """What 张伟 types into the statement form."""
    next_update = (utcnow() + timedelta(minutes=30)).astimezone(stack.rt.settings.tz).strftime("%Y-%m-%d %H:%M")
    facts = {"stage": "monitoring", "language": "zh", "what_happened": "部分用户用支付宝付款后订单仍显示待支付",
             "affected": "今天上午用支付宝下单的部分用户", "doing": "已切换备用通道，正在逐笔核对并补单",
             "customer_action": "请勿重复付款", "compensation": "", "data": "unknown", "data_detail": "",
             "next_update": next_update}
    return {name: {"value": value} for name, value in facts.items()}


async def _statement(stack: LocalStack, incident: Incident) -> None:
    """Draft the public statement with the form, and have comms approve it."""
    sb, u = stack.sandbox, stack.users
    await in_channel(stack, incident, "statement monitoring")
    view_id = [k for k, v in sb.views.items() if v.get("callback_id") == "statement_form"][-1]
    await stack.actor.submit_view(view_id, u["zhang.wei"], values=_statement_facts(stack))
    await stack.settle()
    draft = [m for m in sb.messages(incident.channel_id) if "statement_approve" in str(m.get("blocks"))][-1]
    value = next(e["value"] for b in draft["blocks"] if b["type"] == "actions" for e in b["elements"])
    await stack.actor.block_action(u["wang.fang"], "statement_approve", value=value,
                                   channel_id=incident.channel_id, message_ts=draft["ts"])
    await stack.settle()


async def play_whole_incident(stack: LocalStack) -> None:
    """A whole public incident from the declare form to the archived channel, and a private one declared."""
    u, general = stack.users, stack.channels["general"]
    await stack.actor.slash("/incident", "declare", user_id=u["zhang.wei"], channel_id=general)  # the form
    incident = await declare(stack)
    for role, person in (("commander", "zhang.wei"), ("tech", "li.na"), ("comms", "wang.fang"), ("tech", "chen.jie")):
        await in_channel(stack, incident, f"role {role} <@{u[person]}>")
    await in_channel(stack, incident, "note action: 回调延迟告警阈值改为 30 秒")
    await in_channel(stack, incident, "done 1")
    said = people.say(stack.actor, u["li.na"], incident.channel_id, "支付宝回调恢复")
    reply = people.say(stack.actor, u["li.na"], incident.channel_id, "积压回调补单中", thread_ts=said["ts"])
    await people.react(stack.actor, u["li.na"], incident.channel_id, reply["ts"], "pushpin")
    await people.pin(stack.actor, u["li.na"], incident.channel_id, said["ts"])
    await stack.settle()
    await _statement(stack, incident)
    await in_channel(stack, incident, "status monitoring 已切换备用通道")
    await stack.actor.slash("/incident", f"summary {incident.key}", user_id=u["li.na"], channel_id=general)
    await in_channel(stack, incident, "resolve 通道恢复，已全部补单")
    await in_channel(stack, incident, "close 复盘会已开")
    await asyncio.to_thread(fire, "archive", incident.id)
    await stack.settle()
    await declare(stack, "declare sev1 data-breach 客户数据导出异常")


def required(sb: Sandbox) -> dict[str, set[AnyOf]]:
    """The scopes each method needed, as recorded calls show it: one scope of each group."""
    needs: dict[str, set[AnyOf]] = {}
    for method, params in sb.calls:
        needs.setdefault(method, set()).update(needed(sb, method, Params(params)))
    return needs


def missing(needs: dict[str, set[AnyOf]], granted: frozenset[str]) -> list[str]:
    """Each method whose call needs a scope the manifest does not grant, with the scope."""
    return sorted(f"{method} needs {' or '.join(anyof)}" for method, groups in needs.items() for anyof in groups
                  if not granted.intersection(anyof))


async def _derive(data_dir: Path) -> dict[str, set[AnyOf]]:
    stack = await LocalStack.start(data_dir, rate_limits=False)
    stack.sandbox.bot_scopes = KNOWN  # granting everything, so no missing scope changes what the bot goes on to do
    stack.sandbox.faults = FirstInEachConversation(stack.sandbox)
    try:
        await play_whole_incident(stack)
        return required(stack.sandbox)
    finally:
        await stack.stop()


@functools.cache
def whole_incident_needs() -> dict[str, set[AnyOf]]:
    """What the whole incident's calls needed (run once per session)."""
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_derive(Path(tmp)))


def test_the_manifest_grants_every_scope_the_bot_needs() -> None:
    needs = whole_incident_needs()
    assert {"conversations.history", "conversations.open", "conversations.replies", "conversations.archive",
            "files.completeUploadExternal", "views.open", "pins.add", "users.info"} <= set(needs)
    assert {("im:history",), ("groups:history",), ("groups:write",)} <= set().union(*needs.values())
    assert missing(needs, manifest_scopes()) == []


def test_a_scope_the_manifest_lacks_is_named_with_its_method() -> None:
    lacking = manifest_scopes() - {"im:history", "pins:write"}
    assert missing(whole_incident_needs(), lacking) == ["conversations.history needs im:history",
                                                         "pins.add needs pins:write"]


async def _ops(stack: LocalStack) -> list[SlackOp]:
    async with stack.rt.sessions() as session:
        return list((await session.exec(select(SlackOp))).all())


async def test_the_whole_incident_needs_no_scope_beyond_the_manifest(make_stack: StackFactory) -> None:
    """With exactly the manifest's scopes (the sandbox's default), retries and all, every operation gets done."""
    stack = await make_stack(rate_limits=False)
    assert stack.sandbox.bot_scopes == manifest_scopes()
    stack.sandbox.faults = FirstInEachConversation(stack.sandbox)
    await play_whole_incident(stack)
    assert {(op.kind, op.status, op.error) for op in await _ops(stack) if op.status != "done"} == set()
    assert stack.rt.tasks.failures == 0


async def test_a_retried_briefing_dm_finds_the_first_with_the_manifests_scopes(stack: LocalStack) -> None:
    """A 503 on the role briefing DM: the retry reads the DM (im:history) for the first attempt, then sends once."""
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack)
    sb.faults = FirstInEachConversation(sb)
    await in_channel(stack, incident, f"role comms <@{u['wang.fang']}>")
    [brief] = [op for op in await _ops(stack) if op.kind == "brief_role_holder"]
    assert (brief.status, brief.attempts) == ("done", 2)
    assert len(sb.dms(u["wang.fang"])) == 1
    im = sb.im_with(u["wang.fang"]).id
    assert any(m == "conversations.history" and p.get("channel") == im for m, p in sb.calls)
