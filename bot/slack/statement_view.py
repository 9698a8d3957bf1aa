"""Block Kit for statements: the drafting form, the draft message with its approvals, the small forms."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.config import StatusComponent
from bot.db import utcnow
from bot.i18n import has, t
from bot.models import Incident, Statement
from bot.roles import role_name
from bot.severity import status_label
from bot.slack.blocks import DRAFT_STATEMENT_ACTION
from bot.slack.text import Said, clip, mention, when
from bot.times import utc_offset
from bot.vocabulary import STATED_STATES, ComponentState, DataHarm, DataStatus, Language, Outlet, Stage

FORM_ID = "statement_form"
CHANGES_FORM_ID = "statement_changes_form"
PUBLISH_FORM_ID = "statement_publish_form"
APPROVE, CHANGES, EDIT, PUBLISH = "statement_approve", "statement_changes", "statement_edit", "statement_publish"
WITHDRAW = "statement_withdraw"  # take a version off the status page
DRAFT_ACTION = DRAFT_STATEMENT_ACTION  # the header's Draft statement button
HEADLINE_MAX = 150  # one line; the outlets' own limits flag what does not fit


def outlet_name(name: str, lang: str) -> str:
    """An outlet as comms people call it."""
    return t(f"outlet.{name}", lang) if has(f"outlet.{name}") else name


def _input(block_id: str, label: str, value: str, *, multiline: bool = False, optional: bool = False,
           hint: str | None = None, max_length: int = 3000) -> InputBlock:
    return InputBlock(
        block_id=block_id, label=label, optional=optional, hint=hint,
        element=PlainTextInputElement(action_id="value", initial_value=clip(value, max_length) or None,
                                      multiline=multiline, max_length=max_length),
    )


def _next_update_input(facts: dict[str, Any], tz: ZoneInfo, lang: str) -> InputBlock:
    """The promised next update, typed in the team's zone: the label names its offset so nobody types their own."""
    stored = facts.get("next_update_at")
    moment = datetime.fromisoformat(stored) if stored else utcnow()
    value = moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if stored else ""
    zone = utc_offset(moment, tz)
    return _input("next_update", t("statement_form.next_update", lang, zone=zone),
                  value, optional=True, hint=t("statement_form.next_update_hint", lang))


def _component_fields(components: Sequence[StatusComponent], facts: dict[str, Any], lang: str) -> list[Block]:
    """Which status-page components the version names, and their state: the components come prefilled (the last
    version's, else the playbook's), the state only from the last version — a person picks it, never the bot."""
    if not components:
        return []
    named = facts.get("components")
    given: dict[str, str] = named if isinstance(named, dict) else {}
    options = [Option(value=c.id, text=clip(c.name.model_dump().get(lang) or c.name.en, 75)) for c in components]
    states = [Option(value=state, text=t(f"status_page.state.{state}", lang)) for state in STATED_STATES]
    picked = [state for state in given.values() if state in STATED_STATES]
    state = ComponentState.worst(picked) if picked else None
    return [
        InputBlock(block_id="components", label=t("status_page.form.components", lang), optional=True,
                   hint=t("status_page.form.components_hint", lang),
                   element=StaticMultiSelectElement(action_id="value", options=options,
                                                    placeholder=t("status_page.form.components_placeholder", lang),
                                                    initial_options=[o for o in options if o.value in given] or None)),
        InputBlock(block_id="component_state", label=t("status_page.form.component_state", lang), optional=True,
                   hint=t("status_page.form.component_state_hint", lang),
                   element=StaticSelectElement(action_id="value", options=states,
                                               placeholder=t("status_page.form.component_state_placeholder", lang),
                                               initial_option=next((o for o in states if o.value == state), None))),
    ]


def statement_form(incident: Incident, *, stage: str, language: str, facts: dict[str, Any], tz: ZoneInfo,
                   compensation_hint: list[str], edit_of: int | None,
                   components: Sequence[StatusComponent] = ()) -> View:
    """The drafting form: people edit the facts, the template writes the prose."""
    lang = incident.language
    stage_options = [Option(value=s, text=status_label(s, lang)) for s in Stage]
    lang_options = [Option(value=code, text=t(f"statement_form.language_name.{code}", lang)) for code in Language]
    data_options = [Option(value=k, text=t(f"statement_facts.form.status.{k}", lang)) for k in DataStatus]
    harm_options = [Option(value=k, text=t(f"statement_facts.form.harm.{k}", lang)) for k in DataHarm]
    status = facts.get("data") if DataStatus.known(facts.get("data")) else DataStatus.UNKNOWN
    harms = [o for o in harm_options if o.value in (facts.get("data_harms") or [])]
    separator = t("statement_form.separator", lang)
    hint = t("statement_form.compensation_options", lang, options=separator.join(compensation_hint)) if compensation_hint else None
    blocks = [
        InputBlock(block_id="stage", label=t("statement_form.stage", lang),
                   element=StaticSelectElement(action_id="value", options=stage_options,
                                               initial_option=next(o for o in stage_options if o.value == stage))),
        InputBlock(block_id="language", label=t("statement_form.language", lang),
                   element=StaticSelectElement(action_id="value", options=lang_options,
                                               initial_option=next(o for o in lang_options if o.value == language))),
        _input("headline", t("statement_facts.form.headline", lang), facts.get("headline", ""),
               hint=t("statement_facts.form.headline_hint", lang), max_length=HEADLINE_MAX),
        _input("what_happened", t("statement_form.what_happened", lang), facts.get("what_happened", ""), multiline=True),
        _input("affected", t("statement_form.affected", lang), facts.get("affected", ""), multiline=True, optional=True),
        _input("doing", t("statement_form.doing", lang), facts.get("doing", ""), multiline=True),
        _input("customer_action", t("statement_form.customer_action", lang), facts.get("customer_action", ""), multiline=True),
        _input("compensation", t("statement_form.compensation", lang), facts.get("compensation", ""), optional=True, hint=hint),
        InputBlock(block_id="data", label=t("statement_facts.form.data", lang), hint=t("statement_facts.form.data_hint", lang),
                   element=StaticSelectElement(action_id="value", options=data_options,
                                               initial_option=next(o for o in data_options if o.value == status))),
        InputBlock(block_id="data_harms", label=t("statement_facts.form.harms", lang), optional=True,
                   element=CheckboxesElement(action_id="value", options=harm_options, initial_options=harms or None)),
        _input("data_detail", t("statement_facts.form.data_detail", lang), facts.get("data_detail", ""), optional=True),
        _next_update_input(facts, tz, lang),
        *_component_fields(components, facts, lang),
    ]
    return View(
        type="modal", callback_id=FORM_ID, title=t("statement_form.title", lang),
        submit=t("statement_form.submit", lang), close=t("statement_form.cancel", lang),
        private_metadata=json.dumps({"incident": incident.id, "edit_of": edit_of}), blocks=blocks,
    )


def approvals_line(lang: str, required: tuple[str, ...], given: dict[str, str]) -> str:
    """Which approvals the draft has and which it still needs."""
    parts = []
    for role in required:
        who = given.get(role)
        parts.append(f":white_check_mark: {role_name(role, lang)} {mention(who)}" if who
                     else f":hourglass: {role_name(role, lang)}")
    return t("statement_form.approvals", lang, approvals=" · ".join(parts))


def _outlet_text(name: str, outlet: dict[str, Any], lang: str) -> str:
    label = outlet_name(name, lang)
    if outlet.get("over"):
        problems = t("statement_form.separator", lang).join(outlet.get("problems") or [])
        flag = " " + t("statement_form.does_not_fit", lang, problems=problems)
    else:
        flag = f" ({outlet.get('length')}/{outlet.get('limit')})"
    return f"*{label}*{flag}\n{Said(str(outlet.get('text', ''))).clip(2600)}"


def draft_blocks(incident: Incident, statement: Statement, *, required: tuple[str, ...], given: dict[str, str],
                 tz: ZoneInfo, latest_change_request: str | None = None) -> list[Block]:
    """The draft message, redrawn in place at every step; its thread is the review."""
    lang = incident.language
    state = t(f"statement_form.state.{statement.status}", lang)
    if statement.status == "approved" and statement.superseded_by:
        state += t("statement_form.newer_version", lang)
    heading = t("statement_form.heading", lang, version=statement.version, stage=status_label(statement.stage, lang))
    context = t("statement_form.drafted", lang, state=state,
                language=t(f"statement_form.language_name.{statement.language}", lang),
                person=mention(statement.drafted_by), time=when(statement.drafted_at, tz))
    if statement.published_at:
        context += " · " + t("statement_form.published_to", lang,
                             outlets=", ".join(outlet_name(o, lang) for o in statement.published_to),
                             time=when(statement.published_at, tz))
    if statement.withdrawn_at:
        context += " · " + t("status_page.view.withdrawn", lang, person=mention(statement.withdrawn_by),
                             time=when(statement.withdrawn_at, tz))
    body = Said(statement.text).clip(2900)
    blocks: list[Block] = [
        HeaderBlock(text=clip(heading, 150)),
        ContextBlock(elements=[MarkdownTextObject(text=clip(context, 3000))]),
        SectionBlock(text=MarkdownTextObject(text=body or "—")),
        DividerBlock(),
    ]
    for name, outlet in statement.outlets.items():
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_outlet_text(name, outlet, lang))))
    blocks.append(SectionBlock(text=MarkdownTextObject(text=approvals_line(lang, required, given))))
    if latest_change_request and statement.status == "draft":
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(":memo: " + latest_change_request, 3000))]))
    value = str(statement.id)
    if statement.status == "draft":
        buttons = [
            ButtonElement(text=t("statement_form.approve", lang), action_id=APPROVE, value=value, style="primary"),
            ButtonElement(text=t("statement_form.request_changes", lang), action_id=CHANGES, value=value),
            ButtonElement(text=t("statement_form.edit", lang), action_id=EDIT, value=value),
        ]
    elif statement.status == "approved" and not statement.superseded_by:
        buttons = [
            ButtonElement(text=t("statement_form.mark_published", lang), action_id=PUBLISH, value=value, style="primary"),
            ButtonElement(text=t("statement_form.edit_new_version", lang), action_id=EDIT, value=value),
        ]
    else:
        buttons = []
    if Outlet.STATUS_PAGE in statement.published_to and statement.withdrawn_at is None:
        buttons.append(_withdraw_button(value, lang))
    if buttons:
        blocks.append(ActionsBlock(block_id="statement-actions", elements=buttons))
    return blocks


def _withdraw_button(value: str, lang: str) -> ButtonElement:
    """Withdraw from status page, asked twice: the public stops reading this version at once."""
    confirm = ConfirmObject(title=t("status_page.view.confirm_title", lang), text=t("status_page.view.confirm_text", lang),
                            confirm=t("status_page.view.confirm", lang), deny=t("statement_form.cancel", lang),
                            style="danger")
    return ButtonElement(text=t("status_page.view.withdraw", lang), action_id=WITHDRAW, value=value, style="danger",
                         confirm=confirm)


def changes_form(statement: Statement, lang: str) -> View:
    """Request changes: a comment for the drafter."""
    return View(
        type="modal", callback_id=CHANGES_FORM_ID, title=t("statement_form.request_changes", lang),
        submit=t("statement_form.send", lang), close=t("statement_form.cancel", lang),
        private_metadata=json.dumps({"statement": statement.id}),
        blocks=[_input("comment", t("statement_form.changes_prompt", lang, version=statement.version), "", multiline=True)],
    )


def publish_form(statement: Statement, lang: str) -> View:
    """Mark published: which outlets the approved text went to."""
    options = [Option(value=name, text=outlet_name(name, lang)) for name in Outlet]
    return View(
        type="modal", callback_id=PUBLISH_FORM_ID, title=t("statement_form.mark_published", lang),
        submit=t("statement_form.record", lang), close=t("statement_form.cancel", lang),
        private_metadata=json.dumps({"statement": statement.id}),
        blocks=[InputBlock(block_id="outlets", label=t("statement_form.went_out_on", lang, version=statement.version),
                           element=CheckboxesElement(action_id="value", options=options))],
    )
