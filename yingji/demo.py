"""`yingji demo`: a whole incident against the local Slack sandbox, printed as people would see it."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from sqlmodel import col, select

from bot.db import utcnow
from bot.models import Incident, Step, TimelineEvent
from bot.playbooks import SHIPPED_DIR
from bot.sandbox import people
from bot.slack.text import when
from bot.timeline import times_suffix
from yingji.local import LocalStack
from yingji.textview import html_text, humanize, message_as_text

DEMO_DIR = Path("data") / "demo"
TITLE = "支付宝回调超时，部分订单支付后仍显示待支付"
COMPONENTS = [{"id": "payment", "name": {"zh": "支付", "en": "Payment"}},
              {"id": "checkout", "name": {"zh": "下单", "en": "Checkout"}}]
SERVE_PORT = 8787  # `yingji demo --serve` keeps the status page up here
SHORT_LIMIT_MINUTES = 0.08  # step 1's time limit in the demo (about 5 s), so a reminder fires while you watch


def _demo_playbooks(directory: Path) -> Path:
    """The shipped payment-failure playbook with step 1 due in seconds instead of ten minutes."""
    directory.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load((SHIPPED_DIR / "payment-failure.yaml").read_text(encoding="utf-8"))
    data["steps"][0]["due_minutes"] = SHORT_LIMIT_MINUTES
    data["components"] = [component["id"] for component in COMPONENTS]
    (directory / "payment-failure.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return directory


def _monitoring_facts(stack: LocalStack) -> dict[str, Any]:
    """What 张伟 states while the backlog is being worked off, with the next update half an hour away."""
    next_update = (utcnow() + timedelta(minutes=30)).astimezone(stack.rt.settings.tz).strftime("%Y-%m-%d %H:%M")
    return {
        "stage": "monitoring", "language": "zh",
        "what_happened": "部分用户使用支付宝付款后，订单仍显示待支付",
        "affected": "今天上午用支付宝下单的部分用户",
        "doing": "已切换到备用支付通道，正在逐笔核对已扣款的订单并补单",
        "customer_action": "请勿重复付款；已扣款的订单会在核对后自动更新为已支付",
        "compensation": "受影响订单赠送 10 元无门槛券", "data": "not_applicable", "data_detail": "",
        "next_update": next_update, "components": ["payment"], "component_state": "partial_outage",
    }


# What 王芳 changes in the form, which starts from the last version's facts: what happened and what was done, that
# nothing more is promised (no next update: the last one), and that payment is back to normal — said by her.
RESOLVED_EDITS: dict[str, Any] = {
    "stage": "resolved",
    "what_happened": "部分用户使用支付宝付款后，订单一度显示待支付",
    "doing": "支付宝支付已恢复正常，受影响的订单已全部更新为已支付，没有重复扣款",
    "customer_action": "您无需任何操作；如订单状态仍不正确，请联系客服",
    "next_update": "", "component_state": "operational",
}


class Demo:
    """Plays the people of the incident and prints what each of them would see."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack

    @property
    def names(self) -> dict[str, str]:
        sb = self.stack.sandbox
        names = {user.id: user.real_name or user.name for user in sb.users.values()}
        names.update({channel.id: channel.name for channel in sb.channels.values()})
        return names

    def section(self, title: str) -> None:
        print(f"\n── {title} " + "─" * max(0, 66 - len(title)))

    def show(self, lines: list[str]) -> None:
        for line in lines:
            print(f"  │ {line}")

    async def run(self, person: str, text: str, channel_id: str) -> dict[str, Any]:
        """A person types `/incident <text>`; print it and the private reply."""
        user = self.stack.users[person]
        where = self.names.get(channel_id, channel_id)
        print(f"\n{self.names[user]} in #{where}:  /incident {humanize(text, self.names)}")
        reply = await self.stack.actor.slash("/incident", text, user_id=user, channel_id=channel_id)
        if reply.json and reply.json.get("text"):
            self.show(humanize(reply.json["text"], self.names).splitlines())
        await self.stack.settle()
        assert reply.status == 200, reply.body
        return reply.json or {}

    async def draft_and_approve(self, channel_id: str, facts: dict[str, Any], *, drafter: str, approver: str) -> None:
        """`drafter` types the facts of a statement into the form; `approver` (comms, never the drafter) approves
        it in the draft's thread; 王芳 (comms) marks it published to the status page and the website banner."""
        stack, sb = self.stack, self.stack.sandbox
        await self.run(drafter, f"statement {facts['stage']}", channel_id)
        view_id = [k for k, v in sb.views.items() if v.get("callback_id") == "statement_form"][-1]
        print(f"\n{self.names[stack.users[drafter]]} fills in the facts (not prose) and submits the form")
        await stack.actor.submit_view(view_id, stack.users[drafter], values={k: {"value": v} for k, v in facts.items()})
        await stack.settle()
        draft = [m for m in sb.messages(channel_id) if "statement_approve" in str(m.get("blocks"))][-1]
        value = next(e["value"] for b in draft["blocks"] if b["type"] == "actions" for e in b["elements"])
        print(f"{self.names[stack.users[approver]]} (comms) presses [批准] on the draft")
        await stack.actor.block_action(stack.users[approver], "statement_approve", value=value,
                                       channel_id=channel_id, message_ts=draft["ts"])
        await stack.settle()
        print(f"{self.names[stack.users['wang.fang']]} presses [标记已发布] and ticks the status page and the website banner")
        await stack.actor.block_action(stack.users["wang.fang"], "statement_publish", value=value,
                                       channel_id=channel_id, message_ts=draft["ts"])
        await stack.settle()
        view_id = [k for k, v in sb.views.items() if v.get("callback_id") == "statement_publish_form"][-1]
        await stack.actor.submit_view(view_id, stack.users["wang.fang"], values={"outlets": {"value": ["status_page", "banner"]}})
        await stack.settle()

    def mention(self, person: str) -> str:
        return f"<@{self.stack.users[person]}|{person}>"


async def _status_page(stack: LocalStack) -> None:
    """What a customer reads on the status page now: its address, the page as text, and the widget JSON a shop's
    banner reads (on one line)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack.server.url}/status?lang=zh") as response:
            page, status = await response.text(), response.status
        async with http.get(f"{stack.server.url}/status.json") as response:
            widget = await response.text()
    print(f"  {stack.server.url}/status  (HTTP {status}; also /status.json, /status/feed.atom, /status/banner.js)")
    for line in html_text(page):
        print(f"  │ {line}")
    print(f"\n  {stack.server.url}/status.json  (HTTP {response.status}):")
    print(f"  {widget}")


async def run_demo(serve: bool = False) -> int:
    """Declare, staff, work, resolve and tell customers about one incident; then print the channel, checklist,
    timeline and status page; with `serve`, keep the status page up until interrupted."""
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    playbooks = _demo_playbooks(DEMO_DIR / "playbooks")
    stack = await LocalStack.start(DEMO_DIR, config=lambda people: {
        "default_roles": {"comms": people["wang.fang"]},
        "comms_approvers": [people["zhang.wei"]],  # approves what 王芳 drafts: nobody approves their own words
        "playbooks_dir": str(playbooks.resolve()),
        "brand": "示例商城",
        "status_page": {"components": COMPONENTS},
    }, port=SERVE_PORT if serve else 0)
    demo = Demo(stack)
    sb = stack.sandbox
    try:
        await demo.run("zhang.wei", f"declare sev2 payment-failure {TITLE}", stack.channels["general"])
        async with stack.rt.sessions() as session:
            incident = (await session.exec(select(Incident))).one()
        channel_id = incident.channel_id
        assert channel_id is not None
        for role, person in (("commander", "zhang.wei"), ("tech", "chen.jie"), ("legal", "li.na"), ("support", "liu.yang")):
            await demo.run("zhang.wei", f"role {role} {demo.mention(person)}", channel_id)
        await demo.run("zhang.wei", "roles", channel_id)
        await demo.run("zhang.wei", "done 2 已联系支付宝技术支持，工单 #8812", channel_id)
        async with stack.rt.sessions() as session:
            step3 = (await session.exec(select(Step).where(Step.incident_id == incident.id, Step.number == 3))).one()
        print(f"\n{demo.names[stack.users['chen.jie']]} presses [完成] on step 3 of the checklist")
        await stack.actor.block_action(stack.users["chen.jie"], "step_done", value=str(step3.id),
                                       channel_id=channel_id, message_ts=step3.message_ts)
        await stack.settle()
        print(f"\n… waiting for step 1's time limit ({SHORT_LIMIT_MINUTES * 60:.0f} s in this demo) to pass …")
        for _ in range(150):
            if any(":alarm_clock:" in str(m.get("text")) for m in sb.messages(channel_id)):
                break
            await asyncio.sleep(0.1)
        await stack.settle()

        said = people.say(stack.actor, stack.users["chen.jie"], channel_id, "回调队列积压 12 万条，已切到备用通道 B，积压开始下降")
        print(f"\n{demo.names[stack.users['chen.jie']]} in #{demo.names[channel_id]}: {said['text']}")
        print(f"{demo.names[stack.users['zhang.wei']]} pins that message (pins go on the timeline)")
        await people.pin(stack.actor, stack.users["zhang.wei"], channel_id, said["ts"])
        await stack.settle()
        await demo.run("zhang.wei", "note action: 回调延迟告警阈值改为 30 秒，并按渠道拆分", channel_id)
        await demo.run("zhang.wei", "status monitoring 已切换备用通道，积压回调补单中", channel_id)
        await demo.draft_and_approve(channel_id, _monitoring_facts(stack), drafter="zhang.wei", approver="wang.fang")
        await demo.run("li.na", f"summary {incident.key}", stack.channels["general"])
        await demo.run("zhang.wei", "resolve 支付宝通道恢复，积压回调已全部补单，无重复扣款", channel_id)
        await demo.draft_and_approve(channel_id, {**_monitoring_facts(stack), **RESOLVED_EDITS},
                                     drafter="wang.fang", approver="zhang.wei")

        async with stack.rt.sessions() as session:
            incident = (await session.exec(select(Incident))).one()
            events = list((await session.exec(
                select(TimelineEvent).where(TimelineEvent.incident_id == incident.id).order_by(col(TimelineEvent.id))
            )).all())
        names = demo.names
        channel = sb.channels[channel_id]
        demo.section(f"#{channel.name}")
        print(f"  {'private' if channel.is_private else 'public'} · members: "
              + ", ".join(sorted(names.get(m, m) for m in channel.members)))
        print(f"  topic:   {channel.topic}")
        print(f"  purpose: {channel.purpose}")
        for message in sb.messages(channel_id):
            pinned = " (pinned)" if message["ts"] in channel.pins else ""
            author = names.get(str(message.get("user")), "yingji")
            files = ", ".join(f["name"] for f in message.get("files") or [])
            print(f"\n  {author}{pinned}:" + (f"  [files: {files}]" if files else ""))
            demo.show(message_as_text(message, names))
            for reply in sb.replies(channel_id, message["ts"]):
                print("    ↳ thread: " + humanize(str(reply.get("text", "")), names).replace("\n", " "))
        demo.section("#incidents (announcement)")
        for message in sb.messages(stack.channels["incidents"]):
            demo.show(message_as_text(message, names))
        demo.section(f"Direct message to {names[stack.users['chen.jie']]}")
        for message in sb.dms(stack.users["chen.jie"]):
            demo.show(message_as_text(message, names))
        demo.section("Files the bot shared")
        for file in sb.files.values():
            target = DEMO_DIR / str(file["name"])
            target.write_bytes(bytes(file["bytes"]))
            print(f"  {file['name']:<22} {len(file['bytes']):>7} bytes  → {target}")
        demo.section(f"Timeline of {incident.key} in SQLite ({stack.rt.settings.database_url.split('///')[-1]})")
        tz = stack.rt.settings.tz
        for event in events:
            actor = names.get(event.actor, event.actor)
            detail = humanize(event.text, names).replace("\n", " ")
            print(f"  {when(event.at, tz, seconds=True)}  {actor:<6} {event.kind:<17} {detail[:56]}{times_suffix(event)}")
        print(f"\n{incident.key}: {len(events)} timeline events, {len(sb.calls)} Slack Web API calls, "
              f"{len([m for m in sb.messages(channel_id) if ':alarm_clock:' in str(m.get('text'))])} reminder.")
        demo.section("The status page customers read (only the approved statements published to it)")
        await _status_page(stack)
        if serve:
            print(f"\nServing the status page at {stack.server.url}/status until Ctrl-C.")
            await asyncio.Event().wait()
        return 0
    finally:
        await stack.stop()
