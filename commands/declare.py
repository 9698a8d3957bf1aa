"""`/incident declare`: at once from the command line, or through the declare form."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    CheckboxesElement,
    DateTimePickerElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot import discovery
from bot.db import utcnow
from bot.flows import declare as declare_flow
from bot.i18n import t
from bot.incidents import Declared, DeclareRequest
from bot.runtime import Runtime
from bot.severity import criteria, parse_severity, severity_label
from bot.slack.notify import tell_person
from bot.slack.text import channel_link, clip, escape
from bot.vocabulary import Severity
from commands import payload
from commands.context import Invocation, Reply, start_work
from commands.usage import form_of

log = logging.getLogger(__name__)

CALLBACK_ID = "declare_form"
TITLE_LIMIT = 1000


def known_playbooks(rt: Runtime, language: str) -> str:
    """The playbook slugs a person can use, with their names."""
    return "\n".join(f"• `{slug}` {pb.name.get(language)}" for slug, pb in rt.playbooks.items())


async def declare(inv: Invocation, args: str) -> Reply:
    """Declare at once when given `<sev> <playbook> <title>`, else open the form."""
    lang = inv.language
    if not args.strip():
        return Reply(text="", after=[lambda: open_form(inv)])
    parts = args.split(maxsplit=2)
    severity = parse_severity(parts[0])
    if severity is None:
        return Reply(text=t("declare.bad_severity", lang, given=escape(clip(parts[0], 50)), form=form_of("declare")))
    if len(parts) < 2:
        return Reply(text=t("declare.playbook_missing", lang, form=form_of("declare"),
                            playbooks=known_playbooks(inv.rt, lang)))
    playbook = inv.rt.playbooks.get(parts[1].lower())
    if playbook is None:
        return Reply(text=t("declare.no_such_playbook", lang, given=escape(clip(parts[1], 80)),
                            playbooks=known_playbooks(inv.rt, lang)))
    title = parts[2].strip() if len(parts) > 2 else ""
    if not title:
        return Reply(text=t("declare.title_missing", lang, form=form_of("declare")))
    request = DeclareRequest(
        title=title,
        playbook=playbook.slug,
        severity=severity,
        declared_by=inv.user_id,
        private=playbook.private,
        language=lang,
        default_holders=inv.rt.default_holders(playbook.slug),
        origin_channel_id=inv.channel_id,
        response_url=inv.response_url,
        dedup_key=f"slash:{inv.trigger_id}" if inv.trigger_id else None,
    )
    declared = await record(inv.rt, request)
    return declared_reply(inv.rt, declared, lang)


async def record(rt: Runtime, request: DeclareRequest) -> Declared:
    """Store the declaration (batched with any arriving at the same moment); a repeat returns the first incident."""
    return await declare_flow.declare(rt.declarations.submit, rt.sessions, request)


def declared_reply(rt: Runtime, declared: Declared, lang: str) -> Reply:
    """Tell the declarer what was recorded; start the Slack work only for a new incident."""
    incident = declared
    if not declared.created:
        channel = channel_link(incident.channel_id, incident.channel_name)
        return Reply(text=t("declare.already_declared", lang, key=incident.key, channel=channel))
    title = clip(escape(incident.title), 500)
    text = t("declare.declaring", lang, key=incident.key, title=title, channel=incident.channel_name)
    return Reply(text=text, after=start_work(rt, incident.id), settled=True)


def severity_hint(lang: str) -> str:
    """Under the severity field: what each level means (the default criteria)."""
    lines = [t("levels.hint", lang)]
    lines += [f"{severity_label(code, lang)}: {criteria(code, lang)}" for code in Severity]
    return "\n".join(lines)


def declare_form(rt: Runtime, lang: str, origin: dict[str, Any]) -> View:
    """The declare form: title, playbook, severity, when the problem was discovered (now, unless changed), summary,
    and the private / commander options. `origin["opened"]` is the picker's first value: left as it is, it means
    "discovered now", the moment of the declaration."""
    playbook_options = [Option(value=slug, text=clip(pb.name.get(lang), 75)) for slug, pb in rt.playbooks.items()]
    severity_options = [Option(value=code, text=severity_label(code, lang)) for code in Severity]
    choices = [
        Option(value="private", text=t("declare.form.option_private", lang)),
        Option(value="commander", text=t("declare.form.option_commander", lang)),
    ]
    return View(
        type="modal",
        callback_id=CALLBACK_ID,
        title=t("declare.form.title", lang),
        submit=t("declare.form.submit", lang),
        close=t("command.cancel", lang),
        private_metadata=json.dumps(origin),
        blocks=[
            InputBlock(block_id="title", label=t("declare.form.field_title", lang),
                       element=PlainTextInputElement(action_id="value", max_length=TITLE_LIMIT)),
            InputBlock(block_id="playbook", label=t("declare.form.field_playbook", lang),
                       element=StaticSelectElement(action_id="value", options=playbook_options)),
            InputBlock(block_id="severity", label=t("declare.form.field_severity", lang), hint=severity_hint(lang),
                       element=StaticSelectElement(action_id="value", options=severity_options)),
            InputBlock(block_id="discovered", label=t("discovery.form.field", lang), optional=True,
                       hint=t("discovery.form.hint", lang),
                       element=DateTimePickerElement(action_id="value", initial_date_time=origin.get("opened"))),
            InputBlock(block_id="summary", label=t("declare.form.field_summary", lang), optional=True,
                       element=PlainTextInputElement(action_id="value", multiline=True, max_length=3000)),
            InputBlock(block_id="options", label=t("declare.form.field_options", lang), optional=True,
                       element=CheckboxesElement(action_id="value", options=choices)),
        ],
    )


async def open_form(inv: Invocation) -> None:
    """Open the form after the ack; if Slack refuses, say so and show the one-line form."""
    origin = {"channel": inv.channel_id, "opened": int(utcnow().timestamp())}
    view = declare_form(inv.rt, inv.language, origin)
    try:
        await inv.rt.client.views_open(trigger_id=inv.trigger_id or "", view=view.to_dict())
    except SlackApiError as exc:
        error = exc.response.get("error", "error")
        log.warning("declare form did not open: %s", error)
        text = t("declare.form_failed", inv.language, error=error, form=form_of("declare"))
        await tell_person(inv.rt.client, inv.user_id, text, response_url=inv.response_url)


def _value(values: dict[str, Any], block: str) -> str:
    return payload.chosen(values, block)


def _discovered(values: dict[str, Any], opened: Any, lang: str) -> tuple[datetime | None, str | None]:
    """The form's discovery time (None: discovered at the declaration) and, when it cannot be, why."""
    picked = values.get("discovered", {}).get("value", {}).get("selected_date_time")
    if picked is None or picked == opened:
        return None, None  # left as the form opened: now
    if isinstance(picked, bool) or not isinstance(picked, int):
        return None, t("discovery.form.unreadable", lang)
    try:
        moment = datetime.fromtimestamp(picked, UTC)
    except (OverflowError, OSError, ValueError):
        return None, t("discovery.form.unreadable", lang)
    problem = discovery.problem(moment, utcnow())
    if problem is discovery.Problem.LATER:
        return None, t("discovery.form.later", lang)
    if problem is discovery.Problem.TOO_EARLY:
        return None, t("discovery.form.too_early", lang, days=discovery.LOOKBACK.days)
    return moment, None


async def submit_form(rt: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Validate and record a submitted form; returns the ack payload and the follow-up work."""
    lang = rt.language
    view = body.get("view") or {}
    values = payload.values(view)
    title = _value(values, "title").strip()
    slug = _value(values, "playbook")
    severity = parse_severity(_value(values, "severity"))
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = t("declare.form.title_needed", lang)
    if slug not in rt.playbooks:
        errors["playbook"] = t("declare.form.playbook_needed", lang)
    if severity is None:
        errors["severity"] = t("declare.form.severity_needed", lang)
    origin = payload.metadata(view)
    discovered_at, wrong = _discovered(values, origin.get("opened"), lang)
    if wrong:
        errors["discovered"] = wrong
    if errors:
        return {"response_action": "errors", "errors": errors}, None
    assert severity is not None
    options = payload.chosen_many(values, "options")
    user_id = payload.user_of(body)
    request = DeclareRequest(
        title=title,
        playbook=slug,
        severity=severity,
        declared_by=user_id,
        summary=_value(values, "summary").strip(),
        private="private" in options or rt.playbooks[slug].private,
        language=lang,
        declarer_is_commander="commander" in options,
        default_holders=rt.default_holders(slug),
        origin_channel_id=payload.text(origin.get("channel")) or None,
        dedup_key=f"view:{view.get('id')}" if view.get("id") else None,
        discovered_at=discovered_at,
    )
    declared = await record(rt, request)
    return {}, declared_reply(rt, declared, lang)
