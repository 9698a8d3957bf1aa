"""Scheduled maintenance for the status page: draft a window, ask for changes, edit it, approve it, cancel it. Each
flow owns its checks (the one policy, once-only keys), the change with its event, and the Slack work it queues; a
window belongs to no incident, so its review message is workspace work in the outbox (incident None)."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import deliveries, outbox
from bot import maintenance as service
from bot.db import lock_row, utcnow
from bot.flows.base import Actor, Context, Outcome, Result, repeat, settle
from bot.i18n import t
from bot.models import Maintenance
from bot.policy import Action, WindowStanding, decide_window
from bot.slack.text import channel_link, escape, mention, when
from bot.vocabulary import Language, MaintenanceStatus

log = logging.getLogger(__name__)


def components(ctx: Context, language: str) -> dict[str, str]:
    """The status page's components as people name them in `language`, by id, in the configured order."""
    return {c.id: c.name.zh if language == Language.ZH else c.name.en for c in ctx.file.status_page.components}


def review_channel(ctx: Context, channel: str | None) -> str | None:
    """Where a window asked for in `channel` is reviewed: there, or the announce channel when typed in a direct
    message (None: nowhere to review it)."""
    if channel and not channel.startswith("D"):
        return channel
    return ctx.deployment().announce_channel_id


def page_changed(ctx: Context, window: Maintenance) -> None:
    """After the commit of a change the status page shows (an approval, or an approved window cancelled): re-render it now."""
    log.info("maintenance window %s is now %s: the status page shows it so", window.id, window.status)
    ctx.status_page_changed()


def _render_args(ctx: Context) -> dict[str, Any]:
    """What the review message is drawn with: the deployment's language and its components' names."""
    return {"language": ctx.language, "names": components(ctx, ctx.language)}


def _problem_text(ctx: Context, window: service.Window, problem: service.Problem) -> str:
    """Why one form field cannot stand, in the deployment's language."""
    known = components(ctx, ctx.language)
    unknown = ", ".join(c for c in window.components if c not in known)
    return t(f"maintenance.problem.{problem}", ctx.language, at=when(window.starts_at, ctx.tz),
             days=service.HORIZON.days if problem is service.Problem.TOO_FAR else service.LONGEST.days,
             components=escape(unknown), limit=service.TEXT_LIMIT)


def _wrong(ctx: Context, window: service.Window) -> dict[str, str]:
    """What cannot stand in a window as drafted or edited, by form field, in the deployment's language."""
    known = components(ctx, ctx.language)
    return {field: _problem_text(ctx, window, problem)
            for field, problem in service.problems(window, utcnow(), known).items()}


async def draft(session: AsyncSession, ctx: Context, actor: Actor, window: service.Window, *,
                channel: str | None) -> Result:
    """Check the window and store it as a draft; its review message goes where it was asked for (the announce
    channel for a direct message), for comms to approve in its thread. An INVALID result's value maps each form
    field at fault to why; nothing is stored then."""
    lang = ctx.language
    wrong = _wrong(ctx, window)
    where = review_channel(ctx, channel)
    if where is None:
        wrong.setdefault("text_zh", t("maintenance.problem.nowhere", lang))
    if wrong or where is None:
        return Result(Outcome.INVALID, next(iter(wrong.values())), value=wrong)
    if actor.request and not await deliveries.claim(session, actor.request):
        return repeat(lang, None)
    refusal = decide_window(Action.SCHEDULE_MAINTENANCE, WindowStanding(actor.user, ctx.rules), lang)
    if refusal is not None:
        return Result(Outcome.REFUSED, refusal.text)
    row = await service.draft(session, window, by=actor.user, channel=where)
    approvers = " ".join(mention(user) for user in ctx.file.comms_approvers if user != actor.user)  # never the drafter
    intro = (t("maintenance.thread.drafted", lang, n=row.id, user=mention(actor.user), approvers=approvers)
             if approvers else t("maintenance.thread.no_approvers", lang, n=row.id, user=mention(actor.user)))
    outbox.enqueue(session, None, "post_maintenance", maintenance_id=row.id, **_render_args(ctx))
    outbox.enqueue(session, None, "maintenance_thread", wave=1, maintenance_id=row.id, text=intro)
    return await settle(session, Result(Outcome.DONE, t("maintenance.drafted", lang, n=row.id,
                                                         channel=channel_link(where)), value=row))


async def _enter(session: AsyncSession, ctx: Context, actor: Actor, window_id: int,
                 action: Action) -> Maintenance | Result:
    """The gate for an action on one window: the window (locked until commit), once-only, then the policy; a refusal
    is recorded on the window's timeline and told."""
    window = await lock_row(session, Maintenance, window_id) if window_id else None
    if window is None or window.id is None:
        return Result(Outcome.NOT_FOUND, t("maintenance.gone", ctx.language))
    if actor.request and not await deliveries.claim(session, actor.request):
        return repeat(ctx.language, None)
    who = WindowStanding(actor.user, ctx.rules, window.drafted_by, window.status == MaintenanceStatus.DRAFT)
    refusal = decide_window(action, who, ctx.language)
    if refusal is not None:
        return await _refuse(session, window, actor, action, refusal.text)
    return window


async def _refuse(session: AsyncSession, window: Maintenance, actor: Actor, action: Action, text: str) -> Result:
    """Record the refusal (once per person, action and minute), commit, and say why."""
    await service.refusal(session, window.id or 0, actor=actor.user, action=action.value, text=text)
    await session.commit()
    return Result(Outcome.REFUSED, text)


async def _finish(session: AsyncSession, ctx: Context, actor: Actor, window: Maintenance, action: Action,
                  decision: service.Decision, said: str, **line: str) -> Result:
    """How every change to a window ends: not made (refused and recorded, unchanged, invalid: the reason said), or
    made: `maintenance.thread.<said>` in its thread (see _made)."""
    lang = ctx.language
    if decision.outcome != Outcome.DONE:
        reason = t(f"maintenance.reason.{decision.code}", lang, n=window.id)
        if decision.outcome == Outcome.REFUSED:
            return await _refuse(session, window, actor, action, reason)
        return Result(Outcome(decision.outcome), reason, value="comment")
    return await _made(session, ctx, window, t(f"maintenance.thread.{said}", lang, n=window.id, user=mention(actor.user),
                                               **line), t(f"maintenance.done.{said}", lang, n=window.id))


async def _made(session: AsyncSession, ctx: Context, window: Maintenance, thread: str, told: str) -> Result:
    """A change made (its event already added): the review message redrawn, `thread` said in its thread, committed,
    and `told` to whoever made it."""
    outbox.enqueue(session, None, "redraw_maintenance", maintenance_id=window.id, **_render_args(ctx))
    outbox.enqueue(session, None, "maintenance_thread", wave=1, maintenance_id=window.id, text=thread)
    return await settle(session, Result(Outcome.DONE, told))


async def approve(session: AsyncSession, ctx: Context, actor: Actor, window_id: int) -> Result:
    """Approve a draft: a configured comms approver who did not draft it; from now on the status page shows it."""
    window = await _enter(session, ctx, actor, window_id, Action.APPROVE_MAINTENANCE)
    if isinstance(window, Result):
        return window
    decision = service.approve(session, window, by=actor.user, now=utcnow())
    result = await _finish(session, ctx, actor, window, Action.APPROVE_MAINTENANCE, decision, "approved")
    if result.done:
        page_changed(ctx, window)
    return result


async def may_open(session: AsyncSession, ctx: Context, actor: Actor, window_id: int, action: Action) -> Result:
    """Whether the person may open the form that does `action` to this window (the change-request form, the edit
    form; a refusal is recorded like any other); the result's value is the window."""
    window = await _enter(session, ctx, Actor(actor.user), window_id, action)
    if isinstance(window, Result):
        return window
    await session.commit()  # nothing changed: this lets the window's row go
    return Result(Outcome.DONE, value=window)


async def request_changes(session: AsyncSession, ctx: Context, actor: Actor, window_id: int, comment: str) -> Result:
    """Record what comms wants changed on a draft; it shows on the review message and in its thread."""
    window = await _enter(session, ctx, actor, window_id, Action.REQUEST_MAINTENANCE_CHANGES)
    if isinstance(window, Result):
        return window
    decision = service.request_changes(session, window, by=actor.user, comment=comment)
    return await _finish(session, ctx, actor, window, Action.REQUEST_MAINTENANCE_CHANGES, decision,
                         "changes_requested", comment=escape(comment.strip()))


async def cancel(session: AsyncSession, ctx: Context, actor: Actor, window_id: int) -> Result:
    """Call a window off: its drafter before approval, a configured comms approver at any time before it is over."""
    window = await _enter(session, ctx, actor, window_id, Action.CANCEL_MAINTENANCE)
    if isinstance(window, Result):
        return window
    shown = window.status == MaintenanceStatus.APPROVED
    decision = service.cancel(session, window, by=actor.user, now=utcnow())
    result = await _finish(session, ctx, actor, window, Action.CANCEL_MAINTENANCE, decision, "cancelled")
    if result.done and shown:
        page_changed(ctx, window)
    return result


async def edit(session: AsyncSession, ctx: Context, actor: Actor, window_id: int, wanted: service.Window) -> Result:
    """The drafter changes their draft (after a change request, say): checked as a draft is; what changed is on the
    window's timeline before the review message is redrawn, and the change request it answers leaves that message.
    An INVALID result's value maps each form field at fault to why; nothing is changed then."""
    window = await _enter(session, ctx, actor, window_id, Action.EDIT_MAINTENANCE)
    if isinstance(window, Result):
        return window
    wrong = _wrong(ctx, wanted)
    if wrong:
        return Result(Outcome.INVALID, next(iter(wrong.values())), value=wrong)
    changed = service.edit(session, window, wanted, by=actor.user, now=utcnow())
    if not changed:
        await session.commit()  # the request is answered: its repeat changes nothing either
        return Result(Outcome.UNCHANGED, t("maintenance_edit.unchanged", ctx.language, n=window.id))
    lang = ctx.language
    fields = t("maintenance.review.separator", lang).join(t(f"maintenance_edit.field.{name}", lang) for name in changed)
    return await _made(session, ctx, window,
                       t("maintenance_edit.thread.edited", lang, n=window.id, user=mention(actor.user), fields=fields),
                       t("maintenance_edit.done.edited", lang, n=window.id))
