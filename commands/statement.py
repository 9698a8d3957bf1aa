"""`/incident statement …`, the Draft statement button, and the review buttons on a draft."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from bot.db import utcnow
from bot.flows import reads
from bot.flows import statements as statement_flows
from bot.flows.base import Actor, Outcome, Ref, Result
from bot.i18n import t
from bot.models import Incident, Statement
from bot.policy import Action
from bot.runtime import Runtime
from bot.slack.notify import tell_person
from bot.slack.statement_view import changes_form, publish_form, statement_form
from bot.slack.text import clip, escape
from bot.statements import facts as facts_module
from bot.statements import service
from bot.vocabulary import Language, Stage
from commands import payload, target
from commands.context import Flow, Invocation, Reply, answer, run

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
            await tell_person(rt.client, user, t("command.statement.form_failed", lang, error=error),
                              response_url=response_url)

    return Reply(text="", after=[show])


async def _form_for(rt: Runtime, incident: Incident, *, stage: str | None, language: str | None,
                    edit_of: Statement | None) -> View:
    """The drafting form prefilled from the version being edited, or the last one, or the playbook."""
    assert incident.id is not None
    async with rt.sessions() as session:
        previous = edit_of or await service.latest_approved(session, incident.id)
    playbook = rt.playbooks.get(incident.playbook)
    lang = language or (edit_of.language if edit_of else incident.language)
    stage = stage or (edit_of.stage if edit_of else facts_module.default_stage(incident))
    facts = facts_module.prefill(incident, playbook, previous, language=lang, now=utcnow(),
                                 cadence_minutes=rt.cadence(incident.severity, incident.playbook), stage=stage)
    return statement_form(incident, stage=stage,
                          language=lang, facts=facts, tz=rt.settings.tz,
                          compensation_hint=facts_module.compensation_options(playbook, lang),
                          edit_of=edit_of.id if edit_of else None, components=rt.settings.file.status_page.components)


async def statement(inv: Invocation, args: str) -> Reply:
    """Open the drafting form (optionally for a stage and a language), or `show` the approved text."""
    lang = inv.language
    words = args.split()
    if len(words) == 2 and words[0].lower() == "show" and target.KEY.match(words[1]):
        args = f"{words[1]} show"  # `statement show INC-n` reads as naturally as `statement INC-n show`
    ref, rest = target.ref_of(inv, args)
    words = rest.lower().split()
    if words == ["show"]:
        return await show(inv, ref)
    stage = next((w for w in words if Stage.known(w)), None)
    language = next((w for w in words if Language.known(w)), None)
    unknown = [w for w in words if not Stage.known(w) and not Language.known(w)]
    if unknown or len(words) > 2:
        shown = escape(clip(" ".join(unknown or words), 40))
        return Reply(text=t("command.statement.not_understood", lang, given=shown, form=FORM))
    result = await run(inv.rt, statement_flows.may_draft, inv.actor, ref)
    if not result.done:
        return target.reply(inv, ref, result, "`/incident statement INC-n [stage] [zh|en]`")
    incident, _ = result.value
    view = await _form_for(inv.rt, incident, stage=stage, language=language, edit_of=None)
    return _open(inv.rt, inv.trigger_id or "", view, inv.user_id, lang, inv.response_url)


async def show(inv: Invocation, ref: Ref) -> Reply:
    """The latest approved statement and the customer-service script: approved words only."""
    lang = inv.language
    async with inv.rt.reads() as session:
        seen = await reads.see(session, inv.rt.context, inv.actor, ref)
        if not seen.done:
            return target.reply(inv, ref, seen, "`/incident statement INC-n show`")
        incident = seen.value
        latest = await service.latest_approved(session, incident.id)
    if latest is None:
        return Reply(text=t("command.statement.none_approved", lang, key=incident.key))
    script = str((latest.outlets.get("script") or {}).get("text", ""))
    text = t("command.statement.approved", lang, key=incident.key, version=latest.version,
             text=clip(escape(latest.text), 2500), script=clip(escape(script), 2500))
    return Reply(text=text)


def _value(values: dict[str, Any], block: str) -> str:
    """A text input's or a select's value from a submitted form."""
    return payload.chosen(values, block).strip()


async def submit_form(rt: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Parse the facts and post the draft for review; a problem is shown on its field."""
    view = body.get("view") or {}
    values = payload.values(view)
    meta = payload.metadata(view)
    given: dict[str, Any] = {name: _value(values, name) for name in ("stage", "language", *facts_module.FIELDS, "next_update")}
    given["data_harms"] = payload.chosen_many(values, "data_harms")
    next_at = facts_module.parse_time(given["next_update"], rt.settings.tz) if given["next_update"] else None
    if given["next_update"] and next_at is None:
        return _error("next_update", t("command.statement.time_format", rt.language)), None
    actor = payload.form_actor(body)
    result = await run(rt, statement_flows.draft, actor, Ref(id=payload.row_id(meta.get("incident"))),
                       stage=given["stage"], language=given["language"], facts=given, next_update_at=next_at,
                       edit_of=payload.row_id(meta.get("edit_of")) or None,
                       components=payload.chosen_many(values, "components"),
                       component_state=_value(values, "component_state"))
    return _form_answer(rt, result, "what_happened", clear=True)


def _error(field: str, text: str) -> dict[str, Any]:
    return {"response_action": "errors", "errors": {field: clip(text, 150)}}


def _form_answer(rt: Runtime, result: Result, field: str, *, clear: bool = False) -> tuple[dict[str, Any], Reply | None]:
    """Close the form (and the stack under it, when `clear`) when the flow acted, or had (a double submit);
    else show why on the field at fault."""
    if result.outcome in (Outcome.DONE, Outcome.UNCHANGED, Outcome.REPEAT):
        return {"response_action": "clear"} if clear else {}, answer(rt, result)
    where = result.value if result.outcome is Outcome.INVALID and isinstance(result.value, str) else field
    return _error(where, result.text), None


def _statement_id(body: dict[str, Any]) -> int:
    return payload.row_id(payload.action_value(body))


def _tell(rt: Runtime, user: str, text: str, body: dict[str, Any]) -> Reply:
    """Say something privately to whoever pressed a button, after the ack."""

    async def tell() -> None:
        await tell_person(rt.client, user, text, response_url=body.get("response_url"))

    return Reply(text="", after=[tell])


async def _press(rt: Runtime, body: dict[str, Any], flow: Flow) -> Reply:
    """A button that acts on one version at once: the flow's answer, or why not, told to whoever pressed."""
    result = await run(rt, flow, payload.button_actor(body), _statement_id(body))
    if result.done:
        return answer(rt, result)
    return _tell(rt, payload.user_of(body), f":no_entry: {result.text}" if result.outcome is Outcome.REFUSED
                 else result.text, body)


async def approve_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Approve: counted only from comms (and legal where needed), never from the drafter."""
    return await _press(rt, body, statement_flows.approve)


async def _open_review(rt: Runtime, body: dict[str, Any], action: Action) -> Result:
    return await run(rt, statement_flows.may_review, Actor(payload.user_of(body)), _statement_id(body), action)


async def edit_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Edit: the form again, prefilled with this version; submitting makes version n+1."""
    user = payload.user_of(body)
    async with rt.sessions() as session:
        ref, _ = await statement_flows.statement_ref(session, _statement_id(body))
    result = await run(rt, statement_flows.may_draft, Actor(user), ref, _statement_id(body))
    if not result.done:
        return _tell(rt, user, result.text, body)
    incident, version = result.value
    view = await _form_for(rt, incident, stage=version.stage, language=version.language, edit_of=version)
    return _open(rt, body.get("trigger_id", ""), view, user, incident.language, body.get("response_url"))


async def changes_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Request changes: ask for the comment in a small form."""
    user = payload.user_of(body)
    result = await _open_review(rt, body, Action.REQUEST_CHANGES)
    if not result.done:
        return _tell(rt, user, result.text, body)
    incident, version = result.value
    return _open(rt, body.get("trigger_id", ""), changes_form(version, incident.language), user, incident.language,
                 body.get("response_url"))


async def publish_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Mark published: ask comms which outlets it went to; anyone else is told why not."""
    user = payload.user_of(body)
    result = await _open_review(rt, body, Action.PUBLISH_STATEMENT)
    if not result.done:
        return _tell(rt, user, f":no_entry: {result.text}" if result.outcome is Outcome.REFUSED else result.text, body)
    incident, version = result.value
    return _open(rt, body.get("trigger_id", ""), publish_form(version, incident.language), user, incident.language,
                 body.get("response_url"))


async def withdraw_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Withdraw from status page: the people who may publish take a version off the public page."""
    return await _press(rt, body, statement_flows.withdraw)


async def submit_changes(rt: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Record the change request and show it on the draft and in its thread."""
    view = body.get("view") or {}
    values = payload.values(view)
    actor = payload.form_actor(body)
    result = await run(rt, statement_flows.request_changes, actor,
                       payload.row_id(payload.metadata(view).get("statement")), _value(values, "comment"))
    return _form_answer(rt, result, "comment")


async def submit_publish(rt: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Record where the approved text went out and when."""
    view = body.get("view") or {}
    values = payload.values(view)
    actor = payload.form_actor(body)
    result = await run(rt, statement_flows.publish, actor, payload.row_id(payload.metadata(view).get("statement")),
                       payload.chosen_many(values, "outlets"))
    return _form_answer(rt, result, "outlets")


async def open_from_header(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """The header's Draft statement button."""
    user = payload.user_of(body)
    result = await run(rt, statement_flows.may_draft, Actor(user), Ref(id=_statement_id(body)))
    if not result.done:
        return _tell(rt, user, result.text, body)
    incident, _ = result.value
    view = await _form_for(rt, incident, stage=None, language=None, edit_of=None)
    return _open(rt, body.get("trigger_id", ""), view, user, incident.language, body.get("response_url"))
