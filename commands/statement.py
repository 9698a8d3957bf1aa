"""`/incident statement …`, the Draft statement button, and the review buttons on a draft."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from bot import outbox, roles
from bot.db import utcnow
from bot.i18n import pick
from bot.models import Incident, Statement
from bot.runtime import Runtime
from bot.slack.notify import tell_person
from bot.slack.statement_view import (
    STAGES,
    changes_form,
    outlet_name,
    publish_form,
    statement_form,
)
from bot.slack.text import clip, escape, mention
from bot.statements import facts as facts_module
from bot.statements import service
from bot.statements.render import Facts, TemplateProblem, render
from commands import payload, target
from commands.context import Invocation, Reply, start_work

log = logging.getLogger(__name__)
FORM = "`/incident statement [investigating|identified|monitoring|resolved] [zh|en]`"


def _open(rt: Runtime, trigger_id: str, view: View, user: str, lang: str, response_url: str | None) -> Reply:
    """Open a form after the ack; if Slack refuses, tell the person why."""

    async def show() -> None:
        try:
            await rt.client.views_open(trigger_id=trigger_id, view=view.to_dict())
        except SlackApiError as exc:
            error = exc.response.get("error", "error")
            log.warning("statement form did not open: %s", error)
            await tell_person(rt.client, user, pick(lang, f"表单未能打开（Slack：{error}），请重试。",
                                                    f"The form did not open (Slack: {error}); try again."), response_url=response_url)

    return Reply(text="", after=[show])


async def _form_for(rt: Runtime, incident: Incident, *, stage: str | None, language: str | None,
                    edit_of: Statement | None) -> View:
    """The drafting form prefilled from the version being edited, or the last one, or the playbook."""
    assert incident.id is not None
    async with rt.sessions() as session:
        previous = edit_of or await service.latest_approved(session, incident.id)
    playbook = rt.playbooks.get(incident.playbook)
    lang = language or (edit_of.language if edit_of else incident.language)
    facts = facts_module.prefill(incident, playbook, previous, language=lang, now=utcnow(),
                                 cadence_minutes=rt.cadence(incident.severity))
    return statement_form(incident, stage=stage or (edit_of.stage if edit_of else facts_module.default_stage(incident)),
                          language=lang, facts=facts, tz=rt.settings.tz,
                          compensation_hint=facts_module.compensation_options(playbook, lang),
                          edit_of=edit_of.id if edit_of else None)


async def statement(inv: Invocation, args: str) -> Reply:
    """Open the drafting form (optionally for a stage and a language), or `show` the approved text."""
    lang = inv.language
    words = args.split()
    if len(words) == 2 and words[0].lower() == "show" and target.KEY.match(words[1]):
        args = f"{words[1]} show"  # `statement show INC-n` reads as naturally as `statement INC-n show`
    found = await target.find(inv, args, "`/incident statement INC-n [stage] [zh|en]`")
    if isinstance(found, Reply):
        return found
    incident, words = found.incident, found.args.lower().split()
    if words == ["show"]:
        return await show(inv, incident)
    stage = next((w for w in words if w in STAGES), None)
    language = next((w for w in words if w in ("zh", "en")), None)
    unknown = [w for w in words if w not in STAGES and w not in ("zh", "en")]
    if unknown or len(words) > 2:
        shown = escape(clip(" ".join(unknown or words), 40))
        return Reply(text=pick(lang, f"看不懂 `{shown}`。正确格式：{FORM}，或 `/incident statement show`",
                               f"I do not understand `{shown}`. Right form: {FORM}, or `/incident statement show`"))
    if not found.inside:
        return Reply(text=pick(lang, "只有事件频道里的人可以起草口径。", "Only people in the incident channel can draft statements."))
    view = await _form_for(inv.rt, incident, stage=stage, language=language, edit_of=None)
    return _open(inv.rt, inv.trigger_id or "", view, inv.user_id, lang, inv.response_url)


async def show(inv: Invocation, incident: Incident) -> Reply:
    """The latest approved statement and the customer-service script: approved words only."""
    lang = inv.language
    assert incident.id is not None
    async with inv.rt.sessions() as session:
        latest = await service.latest_approved(session, incident.id)
    if latest is None:
        return Reply(text=pick(lang, f"{incident.key} 还没有已批准的对外口径。请勿自行对外发言。",
                               f"{incident.key} has no approved statement yet. Do not speak for us in public yet."))
    script = str((latest.outlets.get("script") or {}).get("text", ""))
    text = (pick(lang, f"*{incident.key} 已批准口径 v{latest.version}*\n", f"*{incident.key} approved statement v{latest.version}*\n")
            + clip(escape(latest.text), 2500) + "\n\n" + pick(lang, "*客服口径*\n", "*Support script*\n") + clip(escape(script), 2500))
    return Reply(text=text)


def _value(values: dict[str, Any], block: str) -> str:
    """A text input's or a select's value from a submitted form."""
    return payload.chosen(values, block).strip()


def _facts_from(values: dict[str, Any]) -> dict[str, str]:
    return {name: _value(values, name) for name in ("stage", "language", *facts_module.FIELDS, "next_update")}


async def submit_form(rt: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Render the facts through the stage's template into every outlet and post the draft for review."""
    view, by = body.get("view") or {}, payload.user_of(body)
    meta = payload.metadata(view)
    given = _facts_from(payload.values(view))
    incident_id, edit_id = payload.row_id(meta.get("incident")), payload.row_id(meta.get("edit_of"))
    async with rt.sessions() as session:
        incident = await session.get(Incident, incident_id) if incident_id else None
        edit_of = await session.get(Statement, edit_id) if edit_id else None
    if edit_of is not None and incident is not None and edit_of.incident_id != incident.id:
        edit_of = None  # a version of another incident is not this form's to supersede
    if incident is None or incident.id is None:
        return {"response_action": "errors", "errors": {"what_happened": "This incident no longer exists."}}, None
    lang, tz, now = incident.language, rt.settings.tz, utcnow()
    stage = given["stage"] if given["stage"] in STAGES else "investigating"
    language = given["language"] if given["language"] in ("zh", "en") else incident.language
    next_at = facts_module.parse_time(given["next_update"], tz) if given["next_update"] else None
    if given["next_update"] and next_at is None:
        return {"response_action": "errors", "errors": {"next_update": pick(lang, "格式：2026-11-22 09:30", "Format: 2026-11-22 09:30")}}, None
    if next_at is None and stage != "resolved":
        return {"response_action": "errors", "errors": {"next_update": pick(lang, "请写下次更新时间：对外必须说明何时再更新",
                                                                           "Say when the next update comes; the public must know")}}, None
    stored = {name: given[name] for name in facts_module.FIELDS}
    stored["next_update_at"] = next_at.isoformat() if next_at else ""
    template_facts = Facts.from_dict({**stored, "next_update": facts_module.show_time(next_at, tz, language, now) if next_at else ""})
    override = Path(rt.settings.file.templates_dir) if rt.settings.file.templates_dir else None
    try:
        rendered = render(stage, language, template_facts, brand=rt.settings.file.brand, key=incident.key or "",
                          override_dir=override, limits=rt.settings.file.outlet_limits or None)
    except TemplateProblem as exc:
        log.error("statement template failed: %s", exc)
        return {"response_action": "errors", "errors": {"what_happened": clip(str(exc), 150)}}, None
    outlets = {name: {**asdict(outlet), "over": outlet.over, "problems": outlet.problems}
               for name, outlet in rendered.outlets.items()}
    async with rt.sessions() as session:
        incident = await session.get(Incident, incident.id)
        assert incident is not None
        if edit_of is not None:
            edit_of = await session.get(Statement, edit_of.id)
        draft = await service.create_draft(session, incident, stage=stage, language=language, facts=stored,
                                           text=rendered.statement, outlets=outlets, by=by, edit_of=edit_of)
        holders = await roles.holders(session, incident.id or 0)
        reviewers = " ".join(filter(None, (mention(holders.get("comms")), mention(holders.get("legal")))))
        flagged = ", ".join(outlet_name(name, lang) for name in rendered.flagged)
        intro = pick(lang, f"v{draft.version} 由 {mention(by)} 起草，请在此串中审批。{reviewers}",
                     f"v{draft.version} drafted by {mention(by)}; review it in this thread. {reviewers}")
        if flagged:
            intro += pick(lang, f"\n:warning: 超出长度：{flagged}", f"\n:warning: does not fit: {flagged}")
        outbox.enqueue(session, incident.id, "post_statement", statement_id=draft.id)
        outbox.enqueue(session, incident.id, "statement_thread", wave=1, statement_id=draft.id, text=intro.strip())
        if edit_of is not None:
            outbox.enqueue(session, incident.id, "redraw_statement", statement_id=edit_of.id)
            outbox.enqueue(session, incident.id, "statement_thread", wave=1, statement_id=edit_of.id,
                           text=pick(lang, f"{mention(by)} 编辑后生成了 v{draft.version}，本版不再审批。",
                                     f"{mention(by)} edited this into v{draft.version}; this version is no longer under review."))
        await session.commit()
    return {"response_action": "clear"}, Reply(text="", after=start_work(rt, incident.id))


def _statement_id(body: dict[str, Any]) -> int:
    return payload.row_id(payload.action_value(body))


async def _statement_and_incident(rt: Runtime, statement_id: int) -> tuple[Statement | None, Incident | None]:
    if not statement_id:
        return None, None
    async with rt.sessions() as session:
        statement = await session.get(Statement, statement_id)
        incident = await session.get(Incident, statement.incident_id) if statement else None
    return statement, incident


async def approve_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Approve: counted only from comms (and legal where needed), never from the drafter."""
    by = payload.user_of(body)
    statement, incident = await _statement_and_incident(rt, _statement_id(body))
    if statement is None or incident is None or incident.id is None:
        return None
    playbook = rt.playbooks.get(incident.playbook)
    async with rt.sessions() as session:
        statement = await session.get(Statement, statement.id)
        assert statement is not None
        approvers = _approvers(rt, await roles.holders(session, incident.id))
        decision = await service.approve(session, statement, by=by, approvers=approvers,
                                         legal_review=bool(playbook and playbook.legal_review))
        lang = incident.language
        if decision.outcome != "refused":
            role = roles.role_name(decision.role or "", lang)
            if decision.outcome == "approved":
                line = pick(lang, f":white_check_mark: {mention(by)} 以{role}身份批准。v{statement.version} 已批准并冻结。",
                            f":white_check_mark: {mention(by)} approved as {role}. v{statement.version} is approved and frozen.")
            else:
                missing = "、".join(roles.role_name(r, lang) for r in decision.missing)
                line = pick(lang, f":white_check_mark: {mention(by)} 以{role}身份批准，还需要：{missing}。",
                            f":white_check_mark: {mention(by)} approved as {role}; still needed: {missing}.")
            outbox.enqueue(session, incident.id, "redraw_statement", statement_id=statement.id)
            outbox.enqueue(session, incident.id, "statement_thread", wave=1, statement_id=statement.id, text=line)
            if decision.outcome == "approved":
                for name in rt.settings.file.outlet_webhooks:
                    outbox.enqueue(session, incident.id, "deliver_outlet", wave=1, statement_id=statement.id, outlet=name)
                outbox.enqueue(session, incident.id, "schedule_update_reminder", statement_id=statement.id)
                await outbox.enqueue_once(session, incident.id, "sync_timers", wave=1)  # the cadence restarts
        await session.commit()
    if decision.outcome == "refused":
        reason = decision.reason

        async def explain() -> None:
            await tell_person(rt.client, by, f":no_entry: {reason}", response_url=body.get("response_url"))

        return Reply(text="", after=[explain])
    return Reply(text="", after=start_work(rt, incident.id))


async def edit_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Edit: the form again, prefilled with this version; submitting makes version n+1."""
    statement, incident = await _statement_and_incident(rt, _statement_id(body))
    if statement is None or incident is None:
        return None
    view = await _form_for(rt, incident, stage=statement.stage, language=statement.language, edit_of=statement)
    user = payload.user_of(body)
    return _open(rt, body.get("trigger_id", ""), view, user, incident.language, body.get("response_url"))


async def changes_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Request changes: ask for the comment in a small form."""
    statement, incident = await _statement_and_incident(rt, _statement_id(body))
    if statement is None or incident is None:
        return None
    user = payload.user_of(body)
    return _open(rt, body.get("trigger_id", ""), changes_form(statement, incident.language), user, incident.language,
                 body.get("response_url"))


def _approvers(rt: Runtime, holders: dict[str, str]) -> service.Approvers:
    return service.Approvers(holders, {"comms": rt.settings.file.comms_approvers, "legal": rt.settings.file.legal_approvers})


async def _publish_refusal(rt: Runtime, statement: Statement, by: str) -> str | None:
    """Why `by` may not mark this version published (the refusal is then on the timeline), or None."""
    async with rt.sessions() as session:
        if service.may_publish(_approvers(rt, await roles.holders(session, statement.incident_id)), by):
            return None
        reason = service.refuse_publish(session, statement, by)
        await session.commit()
    return reason


async def publish_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Mark published: ask comms which outlets it went to; anyone else is told why not."""
    statement, incident = await _statement_and_incident(rt, _statement_id(body))
    if statement is None or incident is None:
        return None
    user = payload.user_of(body)
    refusal = await _publish_refusal(rt, statement, user)
    if refusal is not None:

        async def explain() -> None:
            await tell_person(rt.client, user, f":no_entry: {refusal}", response_url=body.get("response_url"))

        return Reply(text="", after=[explain])
    return _open(rt, body.get("trigger_id", ""), publish_form(statement, incident.language), user, incident.language,
                 body.get("response_url"))


async def submit_changes(rt: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Record the change request and show it on the draft and in its thread."""
    view, by = body.get("view") or {}, payload.user_of(body)
    statement_id = payload.row_id(payload.metadata(view).get("statement"))
    comment = _value(payload.values(view), "comment")
    statement, incident = await _statement_and_incident(rt, statement_id)
    if statement is None or incident is None or incident.id is None:
        return {}, None
    async with rt.sessions() as session:
        row = await session.get(Statement, statement_id)
        assert row is not None
        if not await service.request_changes(session, row, by=by, comment=comment):
            return {"response_action": "errors", "errors": {"comment": pick(incident.language, "这一版已不是草稿", "This version is no longer a draft")}}, None
        outbox.enqueue(session, incident.id, "redraw_statement", statement_id=statement_id)
        outbox.enqueue(session, incident.id, "statement_thread", wave=1, statement_id=statement_id,
                       text=pick(incident.language, f":memo: {mention(by)} 要求修改：{escape(comment)}",
                                 f":memo: {mention(by)} requests changes: {escape(comment)}"))
        await session.commit()
    return {}, Reply(text="", after=start_work(rt, incident.id))


async def submit_publish(rt: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Record where the approved text went out and when."""
    view, by = body.get("view") or {}, payload.user_of(body)
    statement_id = payload.row_id(payload.metadata(view).get("statement"))
    outlets = payload.chosen_many(payload.values(view), "outlets")
    statement, incident = await _statement_and_incident(rt, statement_id)
    if statement is None or incident is None or incident.id is None:
        return {}, None
    lang = incident.language
    refusal = await _publish_refusal(rt, statement, by)
    if refusal is not None:
        return {"response_action": "errors", "errors": {"outlets": clip(refusal, 150)}}, None
    async with rt.sessions() as session:
        row = await session.get(Statement, statement_id)
        assert row is not None
        if not await service.mark_published(session, row, by=by, outlets=outlets):
            return {"response_action": "errors", "errors": {"outlets": pick(lang, "请选择至少一个渠道（仅限已批准版本）",
                                                                             "Pick at least one outlet (approved versions only)")}}, None
        names = "、".join(outlet_name(o, lang) for o in outlets)
        outbox.enqueue(session, incident.id, "redraw_statement", statement_id=statement_id)
        outbox.enqueue(session, incident.id, "statement_thread", wave=1, statement_id=statement_id,
                       text=pick(lang, f":mega: {mention(by)} 记录 v{row.version} 已发布到：{names}",
                                 f":mega: {mention(by)} recorded v{row.version} as published on: {names}"))
        await session.commit()
    return {}, Reply(text="", after=start_work(rt, incident.id))


async def open_from_header(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """The header's Draft statement button."""
    incident_id = _statement_id(body)
    async with rt.sessions() as session:
        incident = await session.get(Incident, incident_id) if incident_id else None
    if incident is None:
        return None
    view = await _form_for(rt, incident, stage=None, language=None, edit_of=None)
    user = payload.user_of(body)
    return _open(rt, body.get("trigger_id", ""), view, user, incident.language, body.get("response_url"))
