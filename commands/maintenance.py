"""`/incident maintenance [list | cancel <n>]`, the maintenance form (to draft, to edit), and the buttons on a
window's review message: each parses what Slack sent, calls one flow, and answers the person privately."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from bot import maintenance as service
from bot.db import utcnow
from bot.flows import maintenance as flows
from bot.flows.base import Actor, Outcome, Result
from bot.i18n import t
from bot.models import Maintenance
from bot.policy import Action
from bot.runtime import Runtime
from bot.slack.maintenance_view import changes_form, list_blocks, maintenance_form
from bot.slack.notify import tell_person
from bot.slack.text import clip, escape
from bot.vocabulary import Language
from commands import payload
from commands.context import Invocation, Reply, answer, run
from commands.usage import form_of

log = logging.getLogger(__name__)


async def maintenance(inv: Invocation, args: str) -> Reply:
    """Open the form; `list` the windows not over yet; `cancel <n>` one of them."""
    words = args.lower().split()
    if not words:
        return _open_form(inv)
    if words == ["list"]:
        return await _list(inv)
    if len(words) == 2 and words[0] == "cancel":
        return answer(inv.rt, await run(inv.rt, flows.cancel, inv.actor, payload.row_id(words[1].lstrip("#"))))
    return Reply(text=t("maintenance.not_understood", inv.language, given=escape(clip(args, 40)),
                        form=form_of("maintenance")))


def _opening(rt: Runtime, trigger_id: str, view: View, user: str, response_url: str | None) -> Reply:
    """The reply that opens `view` after the ack; should Slack refuse (an expired trigger), the person hears why."""

    async def show() -> None:
        try:
            await rt.client.views_open(trigger_id=trigger_id, view=view.to_dict())
        except SlackApiError as exc:
            log.warning("maintenance form did not open: %s", exc.response.get("error"))
            text = t("maintenance.form.failed", rt.language, error=exc.response.get("error", "error"))
            await tell_person(rt.client, user, text, response_url=response_url)

    return Reply(text="", after=[show])


def _open_form(inv: Invocation) -> Reply:
    """The form, remembering where it was asked for: the review goes there (a direct message: the announce channel)."""
    ctx = inv.rt.context
    if flows.review_channel(ctx, inv.channel_id) is None:
        return Reply(text=t("maintenance.problem.nowhere", inv.language))
    view = maintenance_form(inv.language, flows.components(ctx, inv.language), {"channel": inv.channel_id})
    return _opening(inv.rt, inv.trigger_id or "", view, inv.user_id, inv.response_url)


async def _list(inv: Invocation) -> Reply:
    """Windows not over yet, drafts and approved, by start, each with a cancel button."""
    lang, now = inv.language, utcnow()
    async with inv.rt.reads() as session:
        windows = await service.upcoming(session, now)
    if not windows:
        return Reply(text=t("maintenance.list.none", lang))
    blocks = list_blocks(windows, lang=lang, tz=inv.rt.settings.tz, names=flows.components(inv.rt.context, lang), now=now)
    return Reply(text=t("maintenance.list.heading", lang, count=len(windows)), blocks=blocks)


def _picked(values: dict[str, dict[str, Any]], block: str) -> datetime | None:
    """A date-time picker's moment (Slack sends seconds since the epoch), or None when none was picked or it is not one."""
    seconds = values.get(block, {}).get("value", {}).get("selected_date_time")
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _errors(by_field: dict[str, str]) -> dict[str, Any]:
    return {"response_action": "errors", "errors": {name: clip(text, 150) for name, text in by_field.items()}}


def _read(rt: Runtime, view: dict[str, Any]) -> service.Window | dict[str, Any]:
    """The window the form asks for, or the form's errors when a time cannot be read."""
    values = payload.values(view)
    starts_at, ends_at = _picked(values, "starts_at"), _picked(values, "ends_at")
    unreadable = t("maintenance.problem.unreadable", rt.language)
    if starts_at is None or ends_at is None:
        return _errors({name: unreadable for name, moment in (("starts_at", starts_at), ("ends_at", ends_at))
                        if moment is None})
    return service.Window(starts_at, ends_at, tuple(dict.fromkeys(payload.chosen_many(values, "components"))),
                          {code: payload.chosen(values, service.text_field(code)).strip() for code in Language})


def _submitted(rt: Runtime, body: dict[str, Any], result: Result) -> tuple[dict[str, Any], Reply | None]:
    """What a submitted form comes to: each problem on its own field (the form stays open), or the form closed and
    the person told (nothing, for a repeat)."""
    if result.outcome is Outcome.INVALID and isinstance(result.value, dict):
        return _errors(result.value), None
    if result.outcome is Outcome.REPEAT:
        return {}, None
    if result.outcome not in (Outcome.DONE, Outcome.UNCHANGED):
        return _errors({service.text_field(Language.ZH): result.text}), None
    return {}, _told(rt, body, result)  # its number, for `cancel <n>`, and where it is reviewed


async def submit_form(rt: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Read the form and draft the window; what cannot stand is shown on its own field and nothing is stored."""
    view = payload.obj(body.get("view"))
    window = _read(rt, view)
    if isinstance(window, dict):
        return window, None
    channel = payload.text(payload.metadata(view).get("channel")) or None
    return _submitted(rt, body, await run(rt, flows.draft, payload.form_actor(body), window, channel=channel))


async def submit_edit(rt: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Read the edit form and change the draft; what cannot stand is shown on its own field and nothing changes."""
    view = payload.obj(body.get("view"))
    window = _read(rt, view)
    if isinstance(window, dict):
        return window, None
    window_id = payload.row_id(payload.metadata(view).get("maintenance"))
    return _submitted(rt, body, await run(rt, flows.edit, payload.form_actor(body), window_id, window))


def _window_id(body: dict[str, Any]) -> int:
    return payload.row_id(payload.action_value(body))


def _told(rt: Runtime, body: dict[str, Any], result: Result) -> Reply:
    """Tell whoever pressed what came of it, privately, and start the Slack work when something changed."""
    text = f":no_entry: {result.text}" if result.outcome is Outcome.REFUSED else result.text
    url = payload.text(body.get("response_url")) or None

    async def tell() -> None:
        await tell_person(rt.client, payload.user_of(body), text, response_url=url)

    return Reply(text="", after=[*answer(rt, result).after, tell])


async def approve_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Approve: only a configured comms approver who did not draft it."""
    return _told(rt, body, await run(rt, flows.approve, payload.button_actor(body), _window_id(body)))


async def cancel_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Cancel, from the review message or the list: the drafter before approval, comms at any time."""
    return _told(rt, body, await run(rt, flows.cancel, payload.button_actor(body), _window_id(body)))


async def _form_for(rt: Runtime, body: dict[str, Any], action: Action, draw: Callable[[Maintenance], View]) -> Reply:
    """Open the form that does `action` to the pressed window, for whoever may; anyone else hears why not."""
    result = await run(rt, flows.may_open, Actor(payload.user_of(body)), _window_id(body), action)
    if not result.done:
        return _told(rt, body, result)
    return _opening(rt, payload.text(body.get("trigger_id")), draw(result.value), payload.user_of(body),
                    payload.text(body.get("response_url")) or None)


async def changes_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Request changes: the comment form for comms."""
    return await _form_for(rt, body, Action.REQUEST_MAINTENANCE_CHANGES, lambda window: changes_form(window, rt.language))


async def edit_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Edit: the form filled in with the window's values, for its drafter while it is a draft."""
    names = flows.components(rt.context, rt.language)
    return await _form_for(rt, body, Action.EDIT_MAINTENANCE,
                           lambda window: maintenance_form(rt.language, names, {"maintenance": window.id}, window))


async def submit_changes(rt: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Record the change request; it shows on the review message and in its thread."""
    view = payload.obj(body.get("view"))
    comment = payload.chosen(payload.values(view), "comment")
    result = await run(rt, flows.request_changes, payload.form_actor(body),
                       payload.row_id(payload.metadata(view).get("maintenance")), comment)
    if result.outcome in (Outcome.DONE, Outcome.UNCHANGED, Outcome.REPEAT):
        return {}, answer(rt, result)
    return _errors({"comment": result.text}), None
