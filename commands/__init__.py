"""Slack listeners for /incident and its forms: parse, call bot/, reply, then start the Slack work."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.runtime import Runtime
from bot.slack import maintenance_view as mv
from bot.slack import statement_view as sv
from bot.slack.blocks import ASSIGN_ROLES_ACTION, UPDATE_STATUS_ACTION
from bot.slack.checklist import DONE_ACTION, GRADE_ACTION
from bot.slack.notify import tell_person
from bot.slack.ops.lifecycle import SNOOZE_ACTION
from bot.slack.text import unescape
from bot.slack.timeline_view import PAGE_ACTION
from commands import (
    capture,
    declare,
    grade,
    maintenance,
    payload,
    roles,
    statement,
    status,
    steps,
    timeline,
)
from commands.context import Invocation, Reply
from commands.later import answer_unanswered, oops, take

log = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = ["answer_unanswered", "register"]


def _start(rt: Runtime, reply: Reply | None, name: str) -> None:
    """Start the reply's follow-up work in the background, each task kept and watched."""
    for job in reply.after if reply else []:
        rt.tasks.spawn(job(), name=name)


async def _safely(work: Awaitable[T], what: str) -> T | None:
    """Run pre-ack work; a failure is logged and answered with an ordinary ack, never a 500 to Slack."""
    try:
        return await work
    except Exception:
        log.exception("%s failed before the ack", what)
        return None


ButtonHandler = Callable[[Runtime, dict[str, Any]], Awaitable[Reply | None]]
FormHandler = Callable[[Runtime, dict[str, Any]], Awaitable[tuple[dict[str, Any], Reply | None]]]


def _button(rt: Runtime, handler: ButtonHandler, name: str) -> Callable[..., Awaitable[None]]:
    """A button listener: do the durable part, ack, then start the follow-up work."""

    async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
        reply = await _safely(handler(rt, body), name)
        await ack()
        _start(rt, reply, f"after:{name}")

    return listener


def _form(rt: Runtime, handler: FormHandler, name: str) -> Callable[..., Awaitable[None]]:
    """A form-submission listener: validate and record, ack (maybe with field errors), then follow up."""

    async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
        result = await _safely(handler(rt, body), name)
        if result is None:
            await ack()
            user = payload.user_of(body)
            rt.tasks.spawn(tell_person(rt.client, user, oops(rt.language).text), name=f"oops:{name}")
            return
        answer, reply = result
        await ack(**answer)
        _start(rt, reply, f"after:{name}")

    return listener


def register(app: AsyncApp, rt: Runtime) -> None:
    """Attach every listener to the bolt app."""

    @app.command("/incident")
    async def incident_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        inv = Invocation(
            rt=rt,
            user_id=body.get("user_id", ""),
            channel_id=body.get("channel_id", ""),
            text=unescape(body.get("text") or ""),
            response_url=body.get("response_url"),
            trigger_id=body.get("trigger_id"),
        )
        try:
            reply = await take(inv)
        except Exception:
            log.exception("/incident failed before the ack")
            reply = oops(rt.language)
        await ack(**reply.ack_kwargs())
        _start(rt, reply, "after:/incident")

    @app.action(ASSIGN_ROLES_ACTION)
    async def assign_roles_pressed(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        rt.tasks.spawn(roles.open_assign_form(rt, body), name="open:assign_roles")

    @app.view(roles.FORM_ID)
    async def assign_roles_submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            answer, reply = await roles.submit_assign_form(rt, body)
        except Exception:
            log.exception("assign roles form failed before the ack")
            await ack(response_action="errors", errors={"commander": oops(rt.language).text[:150]})
            return
        await ack(**answer)
        _start(rt, reply, "after:assign_roles")

    @app.action(DONE_ACTION)
    async def step_done_pressed(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            reply = await steps.done_button(rt, body)
        except Exception:
            log.exception("Done button failed before the ack")
            reply = None
        await ack()
        _start(rt, reply, "after:step_done")

    @app.shortcut(capture.SHORTCUT_ID)
    async def add_to_timeline(ack: AsyncAck, body: dict[str, Any]) -> None:
        reply = await _safely(capture.shortcut(rt, body), "Add to timeline")
        await ack()
        _start(rt, reply, "after:add_to_timeline")

    @app.event("pin_added")
    async def pinned(body: dict[str, Any]) -> None:
        _start(rt, await _safely(capture.pin_added(rt, body), "pin_added"), "after:pin_added")

    @app.event("reaction_added")
    async def reacted(body: dict[str, Any]) -> None:
        _start(rt, await _safely(capture.reaction_added(rt, body), "reaction_added"), "after:reaction_added")

    @app.event("message")
    async def message(body: dict[str, Any]) -> None:
        await _safely(capture.message_event(rt, body), "message event")

    @app.event("member_joined_channel")
    async def member_joined(body: dict[str, Any]) -> None:
        await _safely(capture.member_event(rt, body), "member_joined_channel")

    @app.event("member_left_channel")
    async def member_left(body: dict[str, Any]) -> None:
        await _safely(capture.member_event(rt, body), "member_left_channel")

    @app.action(re.compile(f"^{PAGE_ACTION}_"))
    async def timeline_page(ack: AsyncAck, body: dict[str, Any]) -> None:
        reply = await _safely(timeline.page_button(rt, body), "timeline page")
        await ack()
        _start(rt, reply, "after:timeline_page")

    for action_id, handler in (
        (sv.DRAFT_ACTION, statement.open_from_header),
        (sv.APPROVE, statement.approve_button),
        (sv.CHANGES, statement.changes_button),
        (sv.EDIT, statement.edit_button),
        (sv.PUBLISH, statement.publish_button),
        (sv.WITHDRAW, statement.withdraw_button),
        (UPDATE_STATUS_ACTION, status.open_status_form),
        (SNOOZE_ACTION, status.snooze_button),
        (GRADE_ACTION, grade.grade_picked),
        (mv.APPROVE, maintenance.approve_button),
        (mv.CHANGES, maintenance.changes_button),
        (mv.CANCEL, maintenance.cancel_button),
        (mv.EDIT, maintenance.edit_button),
    ):
        app.action(action_id)(_button(rt, handler, action_id))

    for callback_id, submit in (
        (sv.FORM_ID, statement.submit_form),
        (sv.CHANGES_FORM_ID, statement.submit_changes),
        (sv.PUBLISH_FORM_ID, statement.submit_publish),
        (status.STATUS_FORM_ID, status.submit_status_form),
        (mv.FORM_ID, maintenance.submit_form),
        (mv.CHANGES_FORM_ID, maintenance.submit_changes),
        (mv.EDIT_FORM_ID, maintenance.submit_edit),
    ):
        app.view(callback_id)(_form(rt, submit, callback_id))

    @app.view(declare.CALLBACK_ID)
    async def declare_form_submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            answer, reply = await declare.submit_form(rt, body)
        except Exception:
            log.exception("declare form failed before the ack")
            await ack(response_action="errors", errors={"title": oops(rt.language).text[:150]})
            return
        await ack(**answer)
        _start(rt, reply, "after:declare_form")
