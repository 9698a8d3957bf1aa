"""The world the gate matrix runs in: one stack, its people, incidents made to order, and what to compare.

The cast: 张伟 commander (a default role) and drafter, 王芳 comms (a default role, and the configured comms approver
who approves maintenance windows, which belong to no incident), 刘洋 in the channel without a role, Guest outside
every incident channel. A "scene" is an incident with what its entry points need: a checklist, a statement draft
(and its forms opened once by the right person), a pinned message; and, when asked, a maintenance window 张伟
drafted from #general.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from bot.db import utcnow
from bot.models import (
    Incident,
    Maintenance,
    MaintenanceEvent,
    Membership,
    RoleAssignment,
    SlackOp,
    Statement,
    StatementReview,
    Step,
    TimelineEvent,
)
from bot.sandbox import people
from yingji.local import LocalStack

SECRET = "ZQXGATE"  # every private incident's title carries it; an outsider must never read it
RIGHT = {"manager": "zhang.wei", "handover": "zhang.wei", "approver": "wang.fang", "publisher": "wang.fang",
         "legal": "zhang.wei",  # the commander may set the legal grade (as may legal and a legal approver)
         "comms_reviewer": "wang.fang", "comms_approver": "wang.fang"}  # a window's canceller: its drafter, 张伟
TIMED = re.compile(r"remind|overdue|escalat|clock|digest|archive")  # timers may fire while the matrix runs


def config(users: dict[str, str]) -> dict[str, Any]:
    """Commander and comms come with every incident; beyond incidents only 王芳 has standing, as the comms approver
    (who reviews maintenance windows: nobody holds a role in those)."""
    return {"default_roles": {"commander": users["zhang.wei"], "comms": users["wang.fang"]},
            "comms_approvers": [users["wang.fang"]],
            "status_page": {"components": [{"id": "payment", "name": {"zh": "支付", "en": "Payment"}}]}}


@dataclass
class Scene:
    """One incident and the ids its buttons and forms carry."""

    incident: Incident
    step_id: int = 0
    statement_id: int = 0
    message_ts: str = ""  # a message in the channel (for the shortcut, the pin and the reaction)
    views: dict[str, str] = field(default_factory=dict)  # callback_id → a view the right person opened
    window: Maintenance | None = None  # a maintenance window 张伟 drafted, when the scene asked for one
    seen: dict[str, int] = field(default_factory=dict)  # how many views of each kind were open before a request

    @property
    def channel(self) -> str:
        return self.incident.channel_id or ""


@dataclass
class Told:
    """Everything one person was told after one request: the ack, response_url posts, DMs, form errors."""

    texts: list[str]

    def joined(self) -> str:
        return "\n".join(self.texts)


@dataclass
class World:
    """The stack and the moves every matrix row is made of."""

    stack: LocalStack
    count: int = 0

    def user(self, name: str) -> str:
        return self.stack.users[name]

    async def scene(self, *, private: bool = False, draft: bool = True, approved: bool = False,
                    published: bool = False, resolved: bool = False, maintenance: bool = False) -> Scene:
        """A fresh incident (private: a breach) with 刘洋 in its channel, a draft by 张伟 and the forms opened;
        `published`: the draft approved and marked published to the status page."""
        stack, self.count = self.stack, self.count + 1
        title = f"{SECRET}{self.count} 会员数据外泄" if private else f"公开事件 {self.count} 支付宝回调超时"
        playbook = "data-breach" if private else "payment-failure"
        await stack.actor.slash("/incident", f"declare sev3 {playbook} {title}", user_id=self.user("zhang.wei"),
                                channel_id=stack.channels["general"])
        await stack.settle()
        async with stack.rt.sessions() as session:
            incident = (await session.exec(select(Incident).order_by(col(Incident.id).desc()))).first()
            assert incident is not None and incident.channel_id, "the declaration should make a channel"
            step = (await session.exec(select(Step).where(Step.incident_id == incident.id, Step.number == 1))).one()
        scene = Scene(incident, step_id=step.id or 0)
        await stack.actor.join(scene.channel, self.user("liu.yang"))
        said = people.say(stack.actor, self.user("liu.yang"), scene.channel, "回调队列积压 12 万条")
        scene.message_ts = said["ts"]
        if draft:
            scene.statement_id = await self._draft(scene)
            await self._open(scene, "zhang.wei", "open_statement_form", str(incident.id))  # one left open
        if approved or published:
            await self.press(scene, "wang.fang", "statement_approve", str(scene.statement_id))
        if published:
            await self._open(scene, "wang.fang", "statement_publish", str(scene.statement_id))
            await self.submit(scene.views["statement_publish_form"], "wang.fang", {"outlets": {"value": ["status_page"]}})
        if resolved:
            await self.slash(scene, "zhang.wei", "resolve 已切换备用通道")
        for opener, action, value in (("zhang.wei", "open_assign_roles", incident.id),
                                      ("zhang.wei", "open_status_form", incident.id),
                                      ("zhang.wei", "statement_changes", scene.statement_id),
                                      ("wang.fang", "statement_publish", scene.statement_id)):
            if value:
                await self._open(scene, opener, action, str(value))
        if maintenance:
            await self.maintain(scene)
        return scene

    async def maintain(self, scene: Scene) -> None:
        """张伟 drafts a window from #general and opens its edit form; 王芳 opens its change-request form (both left
        open)."""
        await self.slash(None, "zhang.wei", "maintenance", inside=False)
        submitted = await self.submit(self.newest_view("maintenance_form"), "zhang.wei", maintenance_values())
        assert submitted.status == 200 and not (submitted.json or {}).get("errors"), submitted.body
        async with self.stack.rt.sessions() as session:
            scene.window = (await session.exec(select(Maintenance).order_by(col(Maintenance.id).desc()))).first()
        assert scene.window is not None and scene.window.message_ts, "the window's review message should be posted"
        before = set(self.stack.sandbox.views)
        await self.press_window(scene, "wang.fang", "maintenance_changes", str(scene.window.id))
        await self.press_window(scene, "zhang.wei", "maintenance_edit", str(scene.window.id))
        for view_id in set(self.stack.sandbox.views) - before:
            scene.views[self.stack.sandbox.views[view_id]["callback_id"]] = view_id

    async def _draft(self, scene: Scene) -> int:
        await self.slash(scene, "zhang.wei", "statement")
        view_id = self.newest_view("statement_form")
        scene.views["statement_form"] = view_id
        submitted = await self.stack.actor.submit_view(view_id, self.user("zhang.wei"), values=statement_values(self.stack))
        assert submitted.status == 200 and not (submitted.json or {}).get("errors"), submitted.body
        await self.stack.settle()
        async with self.stack.rt.sessions() as session:
            statement = (await session.exec(select(Statement).where(Statement.incident_id == scene.incident.id)
                                            .order_by(col(Statement.id).desc()))).first()
        assert statement is not None
        return statement.id or 0

    async def _open(self, scene: Scene, user: str, action: str, value: str) -> None:
        before = set(self.stack.sandbox.views)
        await self.press(scene, user, action, value)
        for view_id in set(self.stack.sandbox.views) - before:
            scene.views[self.stack.sandbox.views[view_id]["callback_id"]] = view_id

    def view_counts(self) -> dict[str, int]:
        """How many views of each callback_id the sandbox has seen opened."""
        counts: dict[str, int] = {}
        for view in self.stack.sandbox.views.values():
            counts[view.get("callback_id", "")] = counts.get(view.get("callback_id", ""), 0) + 1
        return counts

    def newest_view(self, callback_id: str) -> str:
        return [k for k, v in self.stack.sandbox.views.items() if v.get("callback_id") == callback_id][-1]

    async def slash(self, scene: Scene | None, name: str, text: str, *, inside: bool = True) -> Any:
        """`/incident <text>` typed in the incident's channel (inside) or in #general."""
        channel = scene.channel if scene is not None and inside else self.stack.channels["general"]
        reply = await self.stack.actor.slash("/incident", text, user_id=self.user(name), channel_id=channel)
        await self.stack.settle()
        return reply

    async def press(self, scene: Scene, name: str, action: str, value: str) -> Any:
        """A button pressed on a message in the incident's channel."""
        reply = await self.stack.actor.block_action(self.user(name), action, value=value, channel_id=scene.channel,
                                                    message_ts=scene.incident.header_ts)
        await self.stack.settle()
        return reply

    async def press_window(self, scene: Scene, name: str, action: str, value: str) -> Any:
        """A button pressed on the scene's maintenance review message."""
        assert scene.window is not None
        reply = await self.stack.actor.block_action(self.user(name), action, value=value,
                                                    channel_id=scene.window.channel_id,
                                                    message_ts=scene.window.message_ts)
        await self.stack.settle()
        return reply

    async def submit(self, view_id: str, name: str, values: dict[str, Any]) -> Any:
        reply = await self.stack.actor.submit_view(view_id, self.user(name), values=values)
        await self.stack.settle()
        return reply

    def mark(self, name: str) -> tuple[int, int]:
        """Where the person's response_url posts and DMs stand now."""
        sb = self.stack.sandbox
        return len(sb.responses), len(sb.dms(self.user(name)))

    def told(self, name: str, mark: tuple[int, int], reply: Any) -> Told:
        """What the person was told since `mark`: the ack's text or form errors, posts to their response_url, DMs."""
        sb, user = self.stack.sandbox, self.user(name)
        texts = []
        answer = getattr(reply, "json", None)
        if isinstance(answer, dict):
            texts += [str(answer.get("text") or "")] + [str(v) for v in (answer.get("errors") or {}).values()]
        texts += [str(r.get("text") or "") for r in sb.responses[mark[0]:] if r.get("user") == user]
        texts += [str(m.get("text") or "") for m in sb.dms(user)[mark[1]:]]
        return Told([t for t in texts if t])


def statement_values(stack: LocalStack) -> dict[str, dict[str, Any]]:
    later = (utcnow() + timedelta(hours=1)).astimezone(stack.rt.settings.tz).strftime("%Y-%m-%d %H:%M")
    facts = {"what_happened": "部分用户付款后订单仍显示待支付", "affected": "部分用户", "doing": "已切换备用通道",
             "customer_action": "请勿重复付款", "compensation": "", "data": "unknown", "data_detail": "",
             "stage": "investigating", "language": "zh", "next_update": later}
    return {name: {"value": value} for name, value in facts.items()}


def maintenance_values() -> dict[str, dict[str, Any]]:
    """The maintenance form filled in: a payment-channel switch two hours from now, for three hours."""
    start = int(utcnow().timestamp()) + 7200
    return {"starts_at": {"value": start}, "ends_at": {"value": start + 3 * 3600}, "components": {"value": ["payment"]},
            "text_zh": {"value": "支付渠道切换，部分银行卡付款可能失败"}, "text_en": {"value": "Payment channel switch"}}


def edited_values() -> dict[str, dict[str, Any]]:
    """The edit form as 张伟 sends it back: the same window with its Chinese notice reworded."""
    return {**maintenance_values(), "text_zh": {"value": "支付渠道切换，部分银行卡和信用卡付款可能失败"}}


async def snapshot(stack: LocalStack) -> dict[str, list[Any]]:
    """Everything a request could change, refusals and timers aside (refusals are recorded; timers fire)."""
    async with stack.rt.sessions() as session:
        def rows(model: Any) -> Any:
            return session.exec(select(model))
        incidents = [(i.id, i.status, i.severity, i.resolution, i.private, i.legal_grade)
                     for i in (await rows(Incident)).all()]
        holders = sorted((r.incident_id, r.role, r.user_id, r.ended_at is None) for r in (await rows(RoleAssignment)).all())
        steps = sorted((s.incident_id, s.number, s.done_by) for s in (await rows(Step)).all())
        statements = sorted((s.id, s.status, s.published_to, s.superseded_by, s.withdrawn_at is None)
                            for s in (await rows(Statement)).all())
        reviews = sorted((r.statement_id, r.reviewer, r.decision) for r in (await rows(StatementReview)).all())
        events = sorted((e.incident_id, e.kind, e.actor, e.text) for e in (await rows(TimelineEvent)).all()
                        if e.kind != "refused" and not TIMED.search(e.kind))
        members = sorted((m.incident_id, m.user_id) for m in (await rows(Membership)).all())
        ops = sorted((o.incident_id or 0, o.kind) for o in (await rows(SlackOp)).all() if not TIMED.search(o.kind))
        windows = sorted((w.id, w.status, w.approved_by, w.cancelled_by, w.starts_at, w.ends_at, w.components, w.text)
                         for w in (await rows(Maintenance)).all())
        window_events = sorted((e.maintenance_id, e.kind, e.actor, e.text) for e in (await rows(MaintenanceEvent)).all()
                               if e.kind != "refused")
    return {"incidents": incidents, "holders": holders, "steps": steps, "statements": statements,
            "reviews": reviews, "events": events, "members": members, "ops": ops, "windows": windows,
            "window_events": window_events}


def changed(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> list[str]:
    """Which parts of the snapshot differ."""
    return [name for name in before if before[name] != after[name]]


async def refusals(stack: LocalStack, scene: Scene, user: str) -> int:
    """How many times `user` was refused on the scene's incident and on its maintenance window (the counts of
    aggregated refusals)."""
    async with stack.rt.sessions() as session:
        rows = await session.exec(select(TimelineEvent).where(
            TimelineEvent.incident_id == scene.incident.id, TimelineEvent.kind == "refused", TimelineEvent.actor == user))
        window = await session.exec(select(MaintenanceEvent).where(
            MaintenanceEvent.maintenance_id == (scene.window.id if scene.window else 0),
            MaintenanceEvent.kind == "refused", MaintenanceEvent.actor == user))
        return sum(int(e.data.get("count", 1)) for e in [*rows.all(), *window.all()])
