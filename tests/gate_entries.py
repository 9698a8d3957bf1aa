"""Every way into the bot, as the gate matrix sends it: each `/incident` subcommand, button, form, shortcut
and event, how a person sends it to a scene (or to nothing: a stale id), and how to tell that it happened."""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import select

from bot.models import Incident, Maintenance, MaintenanceEvent, Statement, StatementReview, Step, TimelineEvent
from bot.sandbox import people
from tests.gate_world import Scene, World, edited_values, maintenance_values, statement_values

STALE = 999_999  # an id no row has: what a button of a deleted message, or a forged one, may carry
Send = Callable[[World, Scene, str, bool], Awaitable[Any]]
Happened = Callable[[World, Scene, dict[str, list[Any]], dict[str, list[Any]], str], Awaitable[bool]]


@dataclass(frozen=True)
class Entry:
    """One way in: its matrix row (who may), how it is sent, and what shows it happened."""

    name: str
    need: str  # a row of tests.test_gate.EXPECTED
    send: Send
    happened: Happened
    scene: dict[str, bool] | None = None  # what the scene needs first (a resolved incident, an approved draft, a window)
    changes: bool = True  # whether the right person's request changes stored state (a repeat must not again)


# -- how each kind of request is sent -------------------------------------------------------------


def slash(sub: str, rest: str = "") -> Send:
    """`/incident <sub> …`: inside the channel for people in it, else from #general with the key."""

    async def send(w: World, scene: Scene, name: str, stale: bool) -> Any:
        inside = name in ("zhang.wei", "wang.fang", "liu.yang") and not stale
        key = "INC-99999" if stale else scene.incident.key
        filled = rest.format(liu=w.user("liu.yang"))
        text = f"{sub} {filled}" if inside else f"{sub} {key} {filled}"
        return await w.slash(scene, name, text.strip(), inside=inside)

    return send


def plain(text: str) -> Send:
    """A subcommand that names no incident (declare, drill, list, help)."""

    async def send(w: World, scene: Scene, name: str, stale: bool) -> Any:
        return await w.slash(None, name, text, inside=False)

    return send


def button(action: str, value: Callable[[Scene], str]) -> Send:
    """A button on a message in the incident's channel; a stale one carries an id that names nothing."""

    async def send(w: World, scene: Scene, name: str, stale: bool) -> Any:
        return await w.press(scene, name, action, str(STALE) if stale else value(scene))

    return send


def form(callback_id: str, values: Callable[[World, Scene], dict[str, Any]]) -> Send:
    """A form the right person opened, submitted by `name` (a form left open, passed on, or replayed)."""

    async def send(w: World, scene: Scene, name: str, stale: bool) -> Any:
        view_id = scene.views[callback_id]
        if stale:  # the same form, naming an incident, statement or maintenance window that does not exist
            view = copy.deepcopy(w.stack.sandbox.views[view_id])
            named = scene.statement_id if "statement_" in callback_id and callback_id != "statement_form" else scene.incident.id
            if callback_id.startswith("maintenance_") and scene.window is not None:
                named = scene.window.id or 0
            view["private_metadata"] = json.dumps({k: STALE if v == named else v
                                                   for k, v in json.loads(view["private_metadata"]).items()})
            view_id = view["id"] = f"{view_id}S"
            w.stack.sandbox.views[view_id] = view
        return await w.submit(view_id, name, values(w, scene))

    return send


def grade_pick(grade: str) -> Send:
    """The grading step's choice on the checklist; a stale one names a step that does not exist."""

    async def send(w: World, scene: Scene, name: str, stale: bool) -> Any:
        async with w.stack.rt.sessions() as session:
            step = (await session.exec(select(Step).where(Step.incident_id == scene.incident.id,
                                                          Step.step_key == "legal-grade"))).one()
        reply = await w.stack.actor.block_action(
            w.user(name), "legal_grade_pick", block_id=f"step-{STALE if stale else step.id}", channel_id=scene.channel,
            message_ts=step.message_ts, action_type="static_select", selected=grade)
        await w.stack.settle()
        return reply

    return send


def event(kind: str) -> Send:
    """A person's act in the channel that Slack reports as an event (a pin, a reaction)."""

    async def send(w: World, scene: Scene, name: str, stale: bool) -> Any:
        channel = w.stack.channels["general"] if stale else scene.channel
        ts = people.say(w.stack.actor, w.user("liu.yang"), channel, "另一条消息")["ts"] if stale else scene.message_ts
        if kind == "pin":
            reply = await people.pin(w.stack.actor, w.user(name), channel, ts)
        elif kind == "reaction":
            reply = await people.react(w.stack.actor, w.user(name), channel, ts, "pushpin")
        else:
            reply = await people.message_shortcut(w.stack.actor, w.user(name), "add_to_timeline", channel, ts)
        await w.stack.settle()
        return reply

    return send


def window_button(action: str) -> Send:
    """A button on the scene's maintenance review message; a stale one names a window that does not exist."""

    async def send(w: World, scene: Scene, name: str, stale: bool) -> Any:
        assert scene.window is not None
        return await w.press_window(scene, name, action, str(STALE if stale else scene.window.id))

    return send


def window_slash(text: str) -> Send:
    """`/incident maintenance … <n>` typed in #general, naming the scene's window (or one that does not exist)."""

    async def send(w: World, scene: Scene, name: str, stale: bool) -> Any:
        assert scene.window is not None
        return await w.slash(None, name, text.format(n=STALE if stale else scene.window.id), inside=False)

    return send


async def _edit(w: World, scene: Scene, name: str, stale: bool) -> Any:
    """Slack reports an edit of a message already on the timeline (or of one in no incident channel)."""
    channel = w.stack.channels["general"] if stale else scene.channel
    said = people.say(w.stack.actor, w.user("liu.yang"), channel, "切换到备用通道 B")
    if not stale:
        await people.pin(w.stack.actor, w.user("zhang.wei"), channel, said["ts"])
        await w.stack.settle()
    reply = await people.edit(w.stack.actor, channel, said["ts"], "切换到备用通道 C")
    await w.stack.settle()
    return reply


def membership(joined: bool) -> Send:
    """Slack says someone joined or left the channel."""

    async def send(w: World, scene: Scene, name: str, stale: bool) -> Any:
        channel = w.stack.channels["general"] if stale else scene.channel
        move = w.stack.actor.join if joined else w.stack.actor.leave
        reply = await move(channel, w.user("chen.jie" if joined else "liu.yang"))
        await w.stack.settle()
        return reply

    return send


# -- how to tell it happened ------------------------------------------------------------------------


def told(*fragments: str) -> Happened:
    async def check(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
        return any(f in text for f in fragments)

    return check


def view_opened(callback_id: str) -> Happened:
    async def check(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
        return w.view_counts().get(callback_id, 0) > scene.seen.get(callback_id, 0)

    return check


def event_added(kind: str) -> Happened:
    async def check(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
        async with w.stack.rt.sessions() as session:
            rows = await session.exec(select(TimelineEvent).where(
                TimelineEvent.incident_id == scene.incident.id, TimelineEvent.kind == kind))
            return bool(rows.all())

    return check


def incident_is(**fields: str) -> Happened:
    async def check(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
        async with w.stack.rt.sessions() as session:
            row = await session.get(Incident, scene.incident.id)
        return row is not None and all(getattr(row, k) == v for k, v in fields.items())

    return check


def holder(role: str, name: str) -> Happened:
    async def check(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
        return any(r[0] == scene.incident.id and r[1] == role and r[2] == w.user(name) and r[3]
                   for r in after["holders"])

    return check


async def step_done(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
    async with w.stack.rt.sessions() as session:
        step = await session.get(Step, scene.step_id)
    return step is not None and step.done_at is not None


async def new_incident(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
    return len(after["incidents"]) == len(before["incidents"]) + 1


async def approved(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
    async with w.stack.rt.sessions() as session:
        rows = await session.exec(select(StatementReview).where(StatementReview.statement_id == scene.statement_id))
        return bool(rows.all())


async def new_version(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
    return len(after["statements"]) == len(before["statements"]) + 1


async def published(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
    async with w.stack.rt.sessions() as session:
        row = await session.get(Statement, scene.statement_id)
    return row is not None and "banner" in row.published_to


async def withdrawn(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
    async with w.stack.rt.sessions() as session:
        row = await session.get(Statement, scene.statement_id)
    return row is not None and row.withdrawn_at is not None


def window_is(status: str) -> Happened:
    async def check(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
        async with w.stack.rt.sessions() as session:
            row = await session.get(Maintenance, scene.window.id if scene.window else 0)
        return row is not None and row.status == status

    return check


def window_event(kind: str) -> Happened:
    async def check(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
        async with w.stack.rt.sessions() as session:
            rows = await session.exec(select(MaintenanceEvent).where(
                MaintenanceEvent.maintenance_id == (scene.window.id if scene.window else 0), MaintenanceEvent.kind == kind))
            return bool(rows.all())

    return check


async def new_window(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
    return len(after["windows"]) == len(before["windows"]) + 1


async def members_changed(w: World, scene: Scene, before: Any, after: Any, text: str) -> bool:
    return before["members"] != after["members"]


def _comms_to_liu(w: World, scene: Scene) -> dict[str, Any]:
    return {"comms": {"user": w.user("liu.yang")}}


WINDOW = {"maintenance": True, "draft": False}  # a maintenance window 张伟 drafted; no statement needed

ENTRIES: list[Entry] = [
    # /incident subcommands
    Entry("declare", "anyone", plain("declare sev3 payment-failure 矩阵里的声明"), new_incident, changes=True),
    Entry("drill", "anyone", plain("drill payment-failure"), new_incident),
    Entry("list", "anyone", plain("list"), told("事件"), changes=False),
    Entry("help", "anyone", plain("help"), told("/incident"), changes=False),
    Entry("role", "handover", slash("role", "comms <@{liu}>"), holder("comms", "liu.yang")),
    Entry("roles", "see", slash("roles"), told("角色"), changes=False),
    Entry("steps", "see", slash("steps"), told("处置清单"), changes=False),
    Entry("done", "member", slash("done", "1"), step_done),
    Entry("note", "member", slash("note", "矩阵记录"), event_added("note")),
    Entry("status", "member", slash("status", "identified 已定位"), incident_is(status="identified")),
    Entry("resolve", "manager", slash("resolve", "已恢复"), incident_is(status="resolved")),
    Entry("close", "manager", slash("close"), incident_is(status="closed"), scene={"resolved": True}),
    Entry("severity", "member", slash("severity", "sev1 影响扩大"), incident_is(severity="sev1")),
    Entry("severity-lower", "manager", slash("severity", "sev4 影响很小"), incident_is(severity="sev4")),
    Entry("discovered", "member", slash("discovered", "-30m"), event_added("discovered_set")),
    Entry("grade", "legal", slash("grade", "较大"), incident_is(legal_grade="relatively-major")),
    Entry("timeline", "see", slash("timeline"), told("时间线"), changes=False),
    Entry("statement", "member", slash("statement"), view_opened("statement_form"), changes=False),
    Entry("statement-show", "see", slash("statement", "show"), told("口径"), changes=False),
    Entry("summary", "see", slash("summary"), told("角色"), changes=True),  # the chart DM is queued work
    Entry("repair", "member", slash("repair"), told("待补", "重试"), changes=False),
    Entry("maintenance", "anyone", plain("maintenance"), view_opened("maintenance_form"), changes=False),
    Entry("maintenance-list", "anyone", plain("maintenance list"), told("维护"), changes=False),
    Entry("maintenance-cancel", "canceller", window_slash("maintenance cancel {n}"), window_is("cancelled"),
          scene=WINDOW),
    # buttons
    Entry("open_assign_roles", "member", button("open_assign_roles", lambda s: str(s.incident.id)),
          view_opened("assign_roles_form"), changes=False),
    Entry("open_status_form", "member", button("open_status_form", lambda s: str(s.incident.id)),
          view_opened("status_form"), changes=False),
    Entry("open_statement_form", "member", button("open_statement_form", lambda s: str(s.incident.id)),
          view_opened("statement_form"), changes=False),
    Entry("step_done", "member", button("step_done", lambda s: str(s.step_id)), step_done),
    Entry("timeline_page_next", "see", button("timeline_page_next", lambda s: f"{s.incident.id}:0"),
          told("时间线"), changes=False),
    Entry("statement_approve", "approver", button("statement_approve", lambda s: str(s.statement_id)), approved),
    Entry("statement_changes", "reviewer", button("statement_changes", lambda s: str(s.statement_id)),
          view_opened("statement_changes_form"), changes=False),
    Entry("statement_edit", "member", button("statement_edit", lambda s: str(s.statement_id)),
          view_opened("statement_form"), changes=False),
    Entry("statement_publish", "publisher", button("statement_publish", lambda s: str(s.statement_id)),
          view_opened("statement_publish_form"), changes=False),
    Entry("statement_withdraw", "publisher", button("statement_withdraw", lambda s: str(s.statement_id)), withdrawn,
          scene={"published": True}),
    Entry("legal_grade_pick", "legal", grade_pick("general"), incident_is(legal_grade="general")),
    Entry("cadence_snooze", "member", button("cadence_snooze", lambda s: str(s.incident.id)),
          event_added("cadence_snoozed")),
    Entry("maintenance_approve", "comms_approver", window_button("maintenance_approve"), window_is("approved"),
          scene=WINDOW),
    Entry("maintenance_changes", "comms_reviewer", window_button("maintenance_changes"),
          view_opened("maintenance_changes_form"), scene=WINDOW, changes=False),
    Entry("maintenance_cancel", "canceller", window_button("maintenance_cancel"), window_is("cancelled"), scene=WINDOW),
    Entry("maintenance_edit", "drafter", window_button("maintenance_edit"), view_opened("maintenance_edit_form"),
          scene=WINDOW, changes=False),
    # forms
    Entry("assign_roles_form", "handover", form("assign_roles_form", _comms_to_liu), holder("comms", "liu.yang")),
    Entry("status_form", "member", form("status_form", lambda w, s: {"status": {"value": "identified"}}),
          incident_is(status="identified")),
    Entry("statement_form", "member", form("statement_form", lambda w, s: statement_values(w.stack)), new_version),
    Entry("statement_changes_form", "reviewer",
          form("statement_changes_form", lambda w, s: {"comment": {"value": "补偿写清楚"}}),
          event_added("statement_changes_requested")),
    Entry("statement_publish_form", "publisher",
          form("statement_publish_form", lambda w, s: {"outlets": {"value": ["banner"]}}), published,
          scene={"approved": True}),
    Entry("declare_form", "anyone", form("declare_form", lambda w, s: {
        "title": {"value": "表单里的声明"}, "playbook": {"value": "payment-failure"}, "severity": {"value": "sev3"}}),
        new_incident),
    Entry("maintenance_form", "anyone", form("maintenance_form", lambda w, s: maintenance_values()), new_window),
    Entry("maintenance_changes_form", "comms_reviewer",
          form("maintenance_changes_form", lambda w, s: {"comment": {"value": "写清楚影响哪些银行"}}),
          window_event("maintenance_changes_requested"), scene=WINDOW),
    Entry("maintenance_edit_form", "drafter", form("maintenance_edit_form", lambda w, s: edited_values()),
          window_event("maintenance_edited"), scene=WINDOW),
    # the shortcut and the events
    Entry("add_to_timeline", "member", event("shortcut"), event_added("message")),
    Entry("pin_added", "member", event("pin"), event_added("message")),
    Entry("reaction_added", "member", event("reaction"), event_added("message")),
    Entry("message", "slack", _edit, event_added("message")),
    Entry("member_joined_channel", "slack", membership(joined=True), members_changed),
    Entry("member_left_channel", "slack", membership(joined=False), members_changed),
]

SUBCOMMANDS = {"declare", "drill", "list", "help", "role", "roles", "steps", "done", "note", "status", "resolve",
               "close", "severity", "grade", "timeline", "statement", "summary", "repair", "discovered", "maintenance"}


async def fill(w: World, entry: Entry, scene: Scene) -> None:
    """Per-scene details an entry needs: the declare and maintenance forms opened (they belong to no incident), a
    maintenance window in a scene made without one."""
    for form_id, command in (("declare_form", "declare"), ("maintenance_form", "maintenance")):
        if entry.name == form_id and form_id not in scene.views:
            await w.slash(None, "zhang.wei", command, inside=False)
            scene.views[form_id] = w.newest_view(form_id)
    if (entry.scene or {}).get("maintenance") and scene.window is None:
        await w.maintain(scene)
    scene.seen = w.view_counts()
