"""The public statement: drafting (and editing into a new version), approving, requesting changes, publishing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox
from bot.db import utcnow
from bot.flows.base import Actor, Context, Entry, Outcome, Ref, Result, asker, enter, may, settle
from bot.i18n import t
from bot.models import Incident, Statement
from bot.policy import Action
from bot.roles import role_name
from bot.slack.statement_view import outlet_name
from bot.slack.text import escape, mention, when
from bot.statements import facts as facts_module
from bot.statements import service
from bot.statements.render import Facts, TemplateProblem, render
from bot.vocabulary import DATA_HARMED, DataHarm, DataStatus, Language, Outlet, Role, Stage

log = logging.getLogger(__name__)

NEXT_UPDATE_HORIZON = timedelta(hours=24)  # a promise further away is no promise to customers in an emergency


async def statement_ref(session: AsyncSession, statement_id: int) -> tuple[Ref, Statement | None]:
    """A statement button or form names a version by id: its incident (an unknown id names nothing)."""
    statement = await session.get(Statement, statement_id) if statement_id else None
    return (Ref(id=statement.incident_id), statement) if statement else (Ref(id=0), None)


def _required(ctx: Context, entry: Entry) -> tuple[str, ...]:
    playbook = ctx.playbooks.get(entry.incident.playbook)
    return service.required_roles(bool(playbook and playbook.legal_review))


async def may_draft(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref, edit_of: int | None = None) -> Result:
    """Whether this person may open the drafting form; its value is (incident, the version edited or None)."""
    allowed = await may(session, ctx, actor, ref, Action.DRAFT_STATEMENT)
    if not allowed.done:
        return allowed
    version = await session.get(Statement, edit_of) if edit_of else None
    if edit_of and (version is None or version.incident_id != allowed.incident_id):
        return Result(Outcome.INVALID, t("flow.statements.no_version", ctx.language))
    return Result(Outcome.DONE, incident_id=allowed.incident_id, value=(allowed.value, version))


async def draft(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref, *, stage: str, language: str,
                facts: dict[str, Any], next_update_at: datetime | None, edit_of: int | None = None,
                components: Sequence[str] = (), component_state: str = "") -> Result:
    """Render the facts into every outlet and post version n+1 for review; an edited draft stops being one. The
    status-page components the person ticked are stored in the state they picked for them.

    An INVALID result's value names the form field at fault.
    """
    entry = await enter(session, ctx, actor, ref, Action.DRAFT_STATEMENT)
    if isinstance(entry, Result):
        return entry
    incident, lang, now = entry.incident, entry.language, utcnow()
    stage = stage if Stage.known(stage) else Stage.INVESTIGATING
    language = language if Language.known(language) else incident.language
    if next_update_at is None and stage != Stage.RESOLVED:
        return Result(Outcome.INVALID, t("flow.statements.next_update_missing", lang), entry.id, "next_update")
    if next_update_at is not None and (problem := _next_update_problem(ctx, incident, next_update_at, now, lang)):
        return Result(Outcome.INVALID, problem, entry.id, "next_update")
    if data_problem := _data_problem(facts, lang):
        return Result(Outcome.INVALID, data_problem[1], entry.id, data_problem[0])
    affected = facts_module.choose_components(components, component_state, ctx.file.status_page.component_ids(), lang)
    if isinstance(affected, tuple):
        return Result(Outcome.INVALID, affected[1], entry.id, affected[0])
    previous = await session.get(Statement, edit_of) if edit_of else None
    if previous is not None and previous.incident_id != entry.id:
        previous = None  # a version of another incident is not this form's to supersede
    stored = facts_module.stored({name: facts.get(name) for name in facts_module.FIELDS})  # the form's, no others
    stored["next_update_at"] = next_update_at.isoformat() if next_update_at else ""
    stored["components"] = affected
    shown = facts_module.show_time(next_update_at, ctx.tz, language, now) if next_update_at else ""  # type: ignore[arg-type]
    file = ctx.file
    voice = facts_module.voice(ctx.playbooks.get(incident.playbook), language)
    where = facts_module.where_updates(file.public_updates, language)
    try:
        rendered = render(stage, language, Facts.from_dict({**stored, **voice, "next_update": shown, "where": where}),
                          brand=file.brand, key=incident.key or "",
                          override_dir=Path(file.templates_dir) if file.templates_dir else None,
                          limits=file.outlet_limits or None)
    except TemplateProblem as exc:
        log.error("statement template failed: %s", exc)
        return Result(Outcome.INVALID, str(exc), entry.id, "what_happened")
    outlets = {name: {**asdict(outlet), "over": outlet.over, "problems": outlet.problems}
               for name, outlet in rendered.outlets.items()}
    version = await service.create_draft(session, incident, stage=stage, language=language, facts=stored,
                                         text=rendered.statement, outlets=outlets, by=actor.user, edit_of=previous)
    holders = entry.who.holders
    reviewers = " ".join(filter(None, (mention(holders.get(Role.COMMS)), mention(holders.get(Role.LEGAL)))))
    intro = t("flow.statements.drafted", lang, version=version.version, user=mention(actor.user), reviewers=reviewers)
    if rendered.flagged:
        flagged = ", ".join(outlet_name(name, lang) for name in rendered.flagged)
        intro += "\n" + t("flow.statements.too_long", lang, outlets=flagged)
    outbox.enqueue(session, entry.id, "post_statement", statement_id=version.id, **asker(actor))
    outbox.enqueue(session, entry.id, "statement_thread", wave=1, statement_id=version.id, text=intro.strip())
    if previous is not None:
        outbox.enqueue(session, entry.id, "redraw_statement", statement_id=previous.id)
        outbox.enqueue(session, entry.id, "statement_thread", wave=1, statement_id=previous.id,
                       text=t("flow.statements.superseded", lang, user=mention(actor.user), version=version.version))
    return await settle(session, Result(Outcome.DONE, incident_id=entry.id, value=version))


def _data_problem(facts: dict[str, Any], lang: str) -> tuple[str, str] | None:
    """What is wrong with the personal-data answer, as (form field, why): harms and the detail are said only when
    the data is suspected or confirmed to be affected, and a confirmed answer names what happened to it."""
    status = str(facts.get("data") or DataStatus.UNKNOWN)
    harms = facts.get("data_harms") or []
    if not DataStatus.known(status):
        return "data", t("statement_facts.problem.status", lang)
    if any(not DataHarm.known(harm) for harm in harms) or (harms and status not in DATA_HARMED):
        return "data_harms", t("statement_facts.problem.harms_not_allowed", lang)
    if status == DataStatus.CONFIRMED and not harms:
        return "data_harms", t("statement_facts.problem.harms_needed", lang)
    if str(facts.get("data_detail") or "").strip() and status not in DATA_HARMED:
        return "data_detail", t("statement_facts.problem.detail_not_allowed", lang)
    return None


def _next_update_problem(ctx: Context, incident: Incident, at: datetime, now: datetime, lang: str) -> str | None:
    """Why the promised next update cannot stand: it is past, or further than a day (or the cadence) away."""
    shown = when(at, ctx.tz)
    if at <= now:
        return t("flow.statements.next_update_past", lang, at=shown)
    horizon = max(NEXT_UPDATE_HORIZON, timedelta(minutes=ctx.cadence(incident.severity, incident.playbook) or 0))
    if at > now + horizon:
        hours = f"{horizon.total_seconds() / 3600:g}"
        return t("flow.statements.next_update_too_far", lang, at=shown, hours=hours)
    return None


async def approve(session: AsyncSession, ctx: Context, actor: Actor, statement_id: int) -> Result:
    """Count an approval from comms (and legal where the playbook asks), never the drafter's; the last one
    freezes the version, sends it to the outlet webhooks and restarts the update cadence."""
    ref, _ = await statement_ref(session, statement_id)
    probe = await enter(session, ctx, Actor(actor.user, actor.channel), ref, Action.VIEW)
    if isinstance(probe, Result):
        return probe
    entry = await enter(session, ctx, actor, ref, Action.APPROVE_STATEMENT, approver_roles=_required(ctx, probe))
    if isinstance(entry, Result):
        return entry
    statement = await session.get(Statement, statement_id)
    assert statement is not None
    approvers = service.Approvers(dict(entry.who.holders), {k: list(v) for k, v in ctx.rules.approvers.items()})
    decision = await service.approve(session, statement, by=actor.user, approvers=approvers,
                                     legal_review=len(_required(ctx, entry)) > 1)
    if decision.outcome == "refused":
        await session.commit()
        return Result(Outcome.REFUSED, decision.reason, entry.id)
    if decision.outcome == "unchanged":
        return Result(Outcome.UNCHANGED, decision.reason, entry.id)
    lang, role = entry.language, role_name(decision.role or "", entry.language)
    if decision.outcome == "approved":
        line = t("flow.statements.approved", lang, user=mention(actor.user), role=role, version=statement.version)
    else:
        missing = t("flow.statements.list_separator", lang).join(role_name(r, lang) for r in decision.missing)
        line = t("flow.statements.approved_partly", lang, user=mention(actor.user), role=role, missing=missing)
    outbox.enqueue(session, entry.id, "redraw_statement", statement_id=statement.id, **asker(actor))
    outbox.enqueue(session, entry.id, "statement_thread", wave=1, statement_id=statement.id, text=line)
    automatic = decision.outcome == "approved" and ctx.file.status_page.auto_publish
    if decision.outcome == "approved":
        for name in ctx.file.outlet_webhooks:
            outbox.enqueue(session, entry.id, "deliver_outlet", wave=1, statement_id=statement.id, outlet=name)
        outbox.enqueue(session, entry.id, "schedule_update_reminder", statement_id=statement.id)
        await outbox.enqueue_once(session, entry.id, "sync_timers", wave=1)  # the cadence restarts
    if automatic and await service.mark_published(session, statement, by=actor.user, outlets=[Outlet.STATUS_PAGE],
                                                  auto=True):
        outbox.enqueue(session, entry.id, "statement_thread", wave=1, statement_id=statement.id,
                       text=t("status_page.flow.auto_published", lang, version=statement.version))
    result = await settle(session, Result(Outcome.DONE, incident_id=entry.id))
    if automatic:
        ctx.status_page_changed()
    return result


async def may_review(session: AsyncSession, ctx: Context, actor: Actor, statement_id: int, action: Action) -> Result:
    """Whether the person may open the change-request or publish form for this version; value: (incident, version)."""
    ref, statement = await statement_ref(session, statement_id)
    allowed = await may(session, ctx, actor, ref, action)
    if not allowed.done or statement is None:
        return allowed
    return Result(Outcome.DONE, incident_id=allowed.incident_id, value=(allowed.value, statement))


async def _enter_version(session: AsyncSession, ctx: Context, actor: Actor, statement_id: int,
                         action: Action) -> tuple[Entry, Statement] | Result:
    """The gate for an action on one version: its incident, the policy, once-only; then the version itself."""
    ref, _ = await statement_ref(session, statement_id)
    entry = await enter(session, ctx, actor, ref, action)
    if isinstance(entry, Result):
        return entry
    statement = await session.get(Statement, statement_id)
    assert statement is not None
    return entry, statement


async def request_changes(session: AsyncSession, ctx: Context, actor: Actor, statement_id: int, comment: str) -> Result:
    """Record a change request on a draft; it shows on the draft and in its thread."""
    entered = await _enter_version(session, ctx, actor, statement_id, Action.REQUEST_CHANGES)
    if isinstance(entered, Result):
        return entered
    entry, statement = entered
    lang = entry.language
    if not await service.request_changes(session, statement, by=actor.user, comment=comment):
        return Result(Outcome.INVALID, t("flow.statements.not_a_draft", lang), entry.id, "comment")
    outbox.enqueue(session, entry.id, "redraw_statement", statement_id=statement_id, **asker(actor))
    outbox.enqueue(session, entry.id, "statement_thread", wave=1, statement_id=statement_id,
                   text=t("flow.statements.changes_requested", lang, user=mention(actor.user), comment=escape(comment)))
    return await settle(session, Result(Outcome.DONE, incident_id=entry.id))


async def publish(session: AsyncSession, ctx: Context, actor: Actor, statement_id: int, outlets: list[str]) -> Result:
    """Record where an approved version went out, and when."""
    entered = await _enter_version(session, ctx, actor, statement_id, Action.PUBLISH_STATEMENT)
    if isinstance(entered, Result):
        return entered
    entry, statement = entered
    lang = entry.language
    if not await service.mark_published(session, statement, by=actor.user, outlets=outlets):
        return Result(Outcome.INVALID, t("flow.statements.no_outlets", lang), entry.id, "outlets")
    names = t("flow.statements.list_separator", lang).join(outlet_name(o, lang) for o in outlets)
    outbox.enqueue(session, entry.id, "redraw_statement", statement_id=statement_id, **asker(actor))
    outbox.enqueue(session, entry.id, "statement_thread", wave=1, statement_id=statement_id,
                   text=t("flow.statements.published", lang, user=mention(actor.user), version=statement.version,
                          outlets=names))
    result = await settle(session, Result(Outcome.DONE, incident_id=entry.id))
    if Outlet.STATUS_PAGE in outlets:
        ctx.status_page_changed()
    return result


async def withdraw(session: AsyncSession, ctx: Context, actor: Actor, statement_id: int) -> Result:
    """Take a version off the status page (the people who may publish may withdraw); pressing again changes nothing."""
    entered = await _enter_version(session, ctx, actor, statement_id, Action.WITHDRAW_STATEMENT)
    if isinstance(entered, Result):
        return entered
    entry, statement = entered
    lang = entry.language
    done = await service.withdraw(session, statement, by=actor.user)
    if done == "not_published":
        return Result(Outcome.INVALID, t("status_page.flow.not_on_page", lang, version=statement.version), entry.id)
    if done == "unchanged":
        await session.commit()  # the once-only key of this press is kept: its retry is a repeat
        return Result(Outcome.UNCHANGED, t("status_page.flow.already_withdrawn", lang, version=statement.version),
                      entry.id)
    outbox.enqueue(session, entry.id, "redraw_statement", statement_id=statement_id, **asker(actor))
    outbox.enqueue(session, entry.id, "statement_thread", wave=1, statement_id=statement_id,
                   text=t("status_page.flow.withdrawn", lang, user=mention(actor.user), version=statement.version))
    result = await settle(session, Result(Outcome.DONE, incident_id=entry.id))
    ctx.status_page_changed()
    return result
