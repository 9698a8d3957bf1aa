"""Giving a role, handing it over, and undoing an assignment Slack says cannot stand."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox, roles, timeline
from bot.flows.base import Actor, Context, Entry, Outcome, Ref, Result, enter, may, settle
from bot.i18n import t
from bot.policy import Action
from bot.roles import role_name
from bot.slack.text import Said, mention


async def open_assign(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref) -> Result:
    """Whether the Assign roles form may open for this person; its value is the incident and its holders."""
    allowed = await may(session, ctx, actor, ref, Action.ASSIGN_ROLE)
    if not allowed.done:
        return allowed
    holders = await roles.holders(session, allowed.value.id)
    return Result(Outcome.DONE, incident_id=allowed.incident_id, value=(allowed.value, holders))


async def assign(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref, changes: dict[str, str],
                 *, response_url: str | None = None) -> Result:
    """Give each role in `changes` to its person, all or nothing, deciding on the holders as they are now.

    Concurrent claims of one empty role take turns on the incident's lock: the first wins, the others are
    refused with who holds it now. The Slack side (checking the person, inviting, briefing) follows.
    """
    if not changes:
        raise ValueError("no role to give")
    entry: Entry | Result = Result(Outcome.UNCHANGED)
    for role in changes:  # every role changed must be this person's to give
        entry = await enter(session, ctx, actor, ref, Action.ASSIGN_ROLE, role=role)
        if isinstance(entry, Result):
            return entry
        actor = Actor(actor.user, actor.channel)  # the request is claimed once
    assert isinstance(entry, Entry)
    lang = entry.language
    theirs = [r for r in ctx.roles_of(entry.incident.playbook, entry.who.holders) if roles.known(r)]
    unknown = [r for r in changes if r not in theirs]
    if unknown:  # nothing is given: the whole request is refused, and rolled back with its once-only key
        return Result(Outcome.INVALID, t("incident_roles.unknown", lang, given=Said(unknown[0]).clip(30), key=entry.incident.key,
                                         roles=roles.listing(theirs, lang)), entry.id)
    if any(user == ctx.bot_user_id for user in changes.values()):
        return Result(Outcome.INVALID, t("flow.roles.bot_cannot_hold", lang))
    given = []
    for role, user in changes.items():
        previous = await roles.assign(session, entry.id, role, user, by=actor.user)
        if previous == user:
            continue
        given.append((role, user))
        _follow_up(session, entry.id, role, user, previous, by=actor.user, response_url=response_url)
    if not given:
        role, user = next(iter(changes.items()))
        text = t("flow.roles.already_holds", lang, user=mention(user), role=role_name(role, lang))
        return Result(Outcome.UNCHANGED, text, entry.id)
    await outbox.enqueue_once(session, entry.id, "update_header", wave=2)
    await outbox.enqueue_once(session, entry.id, "refresh_checklist", wave=2)
    await outbox.enqueue_once(session, entry.id, "sync_timers", wave=2)  # a commander ends the escalation timer
    key = entry.incident.key
    text = "\n".join(t("flow.roles.given", lang, role=role_name(r, lang), user=mention(u), key=key) for r, u in given)
    return await settle(session, Result(Outcome.DONE, text, entry.id))


def _follow_up(session: AsyncSession, incident_id: int, role: str, user: str, previous: str | None, *,
               by: str, response_url: str | None) -> None:
    """Slack's side of one assignment starts by checking the person; only then are they invited and briefed."""
    outbox.enqueue(session, incident_id, "check_holder", role=role, user=user, previous=previous, by=by,
                   response_url=response_url)


def welcome(session: AsyncSession, incident_id: int, role: str, user: str, previous: str | None, *, by: str) -> None:
    """Once Slack knows the new holder as an active person: invite, brief them, tell the one replaced."""
    outbox.enqueue(session, incident_id, "invite", users=[user])
    outbox.enqueue(session, incident_id, "brief_role_holder", user=user, role=role)
    if previous:
        outbox.enqueue(session, incident_id, "tell_previous_holder", user=previous, role=role, new=user, by=by)


async def undo(session: AsyncSession, incident_id: int, role: str, user: str, previous: str | None) -> bool:
    """Take back an assignment Slack says cannot stand (a bot, a deactivated or unknown user); the one it
    replaced holds the role again. False when the role has changed hands since (nothing to undo)."""
    holders = await roles.holders(session, incident_id)
    if holders.get(role) != user:
        return False
    await roles.end(session, incident_id, role, by=timeline.BOT_ACTOR)
    if previous:
        await roles.assign(session, incident_id, role, previous, by=timeline.BOT_ACTOR)
    await outbox.enqueue_once(session, incident_id, "update_header", wave=2)
    await outbox.enqueue_once(session, incident_id, "refresh_checklist", wave=2)
    await outbox.enqueue_once(session, incident_id, "sync_timers", wave=2)
    return True
