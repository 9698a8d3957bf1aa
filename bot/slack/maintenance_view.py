"""Block Kit for scheduled maintenance: the form (blank, or filled in to edit a draft), the review message redrawn
at every change, the change-request form, and the list of windows with their cancel buttons."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DateTimePickerElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticMultiSelectElement,
)
from slack_sdk.models.views import View

from bot import maintenance as service
from bot.i18n import t
from bot.models import Maintenance
from bot.slack.text import Said, clip, mention, when
from bot.vocabulary import Language, MaintenanceStatus

FORM_ID = "maintenance_form"
EDIT_FORM_ID = "maintenance_edit_form"
CHANGES_FORM_ID = "maintenance_changes_form"
APPROVE, CHANGES, CANCEL, EDIT = "maintenance_approve", "maintenance_changes", "maintenance_cancel", "maintenance_edit"
LISTED = 20  # windows in one list reply (a block each, within a message's 50)


def _notice(block_id: str, label: str, lang: str, said: str | None) -> InputBlock:
    return InputBlock(block_id=block_id, label=label, hint=t("maintenance.form.text_hint", lang, limit=service.TEXT_LIMIT),
                      element=PlainTextInputElement(action_id="value", multiline=True, max_length=service.TEXT_LIMIT,
                                                    initial_value=said or None))


def _picker(moment: datetime | None) -> DateTimePickerElement:
    return DateTimePickerElement(action_id="value", initial_date_time=int(moment.timestamp()) if moment else None)


def maintenance_form(lang: str, names: dict[str, str], origin: dict[str, Any], window: Maintenance | None = None) -> View:
    """Start, end, the components affected (when the status page has any) and the notice in each language; `origin`
    comes back with the answers. Given a `window`, the edit form, filled in with its values (a component no longer
    configured cannot be picked again)."""
    blocks: list[Block] = [
        InputBlock(block_id="starts_at", label=t("maintenance.form.starts_at", lang),
                   hint=t("maintenance.form.picker_hint", lang), element=_picker(window.starts_at if window else None)),
        InputBlock(block_id="ends_at", label=t("maintenance.form.ends_at", lang),
                   element=_picker(window.ends_at if window else None)),
    ]
    if names:
        options = [Option(value=key, text=clip(name, 75)) for key, name in names.items()]
        picked = [option for option in options if window and option.value in window.components] or None
        blocks.append(InputBlock(block_id="components", label=t("maintenance.form.components", lang), optional=True,
                                 hint=t("maintenance.form.components_hint", lang),
                                 element=StaticMultiSelectElement(action_id="value", options=options,
                                                                  initial_options=picked)))
    else:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=t("maintenance.form.no_components", lang))]))
    blocks += [_notice(service.text_field(code), t(f"maintenance.form.text.{code}", lang), lang,
                       window.text.get(code) if window else None) for code in Language]
    if window is None:
        callback_id, title, submit = FORM_ID, t("maintenance.form.title", lang), t("maintenance.form.submit", lang)
    else:
        callback_id, submit = EDIT_FORM_ID, t("maintenance_edit.submit", lang)
        title = clip(t("maintenance_edit.title", lang, n=window.id), 24)
    return View(type="modal", callback_id=callback_id, title=title, submit=submit, close=t("command.cancel", lang),
                private_metadata=json.dumps(origin), blocks=blocks)


def span(window: Maintenance, tz: ZoneInfo) -> str:
    """`2026-11-10 23:00 (UTC+8) → 2026-11-11 02:00 (UTC+8)`."""
    return f"{when(window.starts_at, tz)} → {when(window.ends_at, tz)}"


def component_list(window: Maintenance, names: dict[str, str], lang: str) -> str:
    """The window's components by name (a component removed from yingji.yaml since keeps its id), or none named."""
    if not window.components:
        return t("maintenance.review.no_components", lang)
    return t("maintenance.review.separator", lang).join(names.get(key, key) for key in window.components)


def fallback(window: Maintenance, lang: str) -> str:
    """The notification text of the review message."""
    return t("maintenance.review.fallback", lang, n=window.id, state=t(f"maintenance.state.{window.status}", lang))


def _cancel_button(window: Maintenance, lang: str) -> ButtonElement:
    said = PlainTextObject(text=t("maintenance.cancel.text", lang, n=window.id))  # the dialog reads as written
    confirm = ConfirmObject(title=t("maintenance.cancel.title", lang), text=said,
                            confirm=t("maintenance.cancel.confirm", lang), deny=t("maintenance.cancel.deny", lang))
    return ButtonElement(text=t("maintenance.cancel.button", lang), action_id=CANCEL, value=str(window.id),
                         style="danger", confirm=confirm)


def review_blocks(window: Maintenance, *, lang: str, tz: ZoneInfo, names: dict[str, str],
                  change_request: tuple[str, str] | None) -> list[Block]:
    """The review message: when, which components, the notice in each language, its state and who did what; the
    buttons that still make sense. `change_request` is the latest (who, comment) while it is a draft."""
    state = t(f"maintenance.state.{window.status}", lang)
    done = [t("maintenance.review.drafted", lang, user=mention(window.drafted_by), time=when(window.drafted_at, tz))]
    if window.approved_by and window.approved_at:
        done.append(t("maintenance.review.approved", lang, user=mention(window.approved_by), time=when(window.approved_at, tz)))
    if window.cancelled_by and window.cancelled_at:
        done.append(t("maintenance.review.cancelled", lang, user=mention(window.cancelled_by),
                      time=when(window.cancelled_at, tz)))
    facts = t("maintenance.review.window", lang, span=span(window, tz), components=component_list(window, names, lang))
    blocks: list[Block] = [
        HeaderBlock(text=clip(t("maintenance.review.heading", lang, n=window.id), 150)),
        ContextBlock(elements=[MarkdownTextObject(text=clip(f"*{state}* · " + " · ".join(done), 3000))]),
        SectionBlock(text=MarkdownTextObject(text=facts)),
    ]
    for code in Language:
        label = t(f"statement_form.language_name.{code}", lang)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*{label}*\n{Said(window.text.get(code, '')):2900}")))
    if change_request and window.status == MaintenanceStatus.DRAFT:
        who, comment = change_request
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f":memo: {mention(who)}: {Said(comment):2900}")]))
    value = str(window.id)
    buttons: list[ButtonElement] = []
    if window.status == MaintenanceStatus.DRAFT:
        buttons = [ButtonElement(text=t("maintenance.review.approve", lang), action_id=APPROVE, value=value, style="primary"),
                   ButtonElement(text=t("maintenance.review.request_changes", lang), action_id=CHANGES, value=value),
                   ButtonElement(text=t("maintenance_edit.button", lang), action_id=EDIT, value=value)]
    if window.status != MaintenanceStatus.CANCELLED:
        buttons.append(_cancel_button(window, lang))
    if buttons:
        blocks.append(ActionsBlock(block_id="maintenance-actions", elements=buttons))
    return blocks


def changes_form(window: Maintenance, lang: str) -> View:
    """Request changes: what the drafter should change, in a few words."""
    return View(type="modal", callback_id=CHANGES_FORM_ID, title=t("maintenance.changes.title", lang),
                submit=t("maintenance.changes.submit", lang), close=t("command.cancel", lang),
                private_metadata=json.dumps({"maintenance": window.id}),
                blocks=[InputBlock(block_id="comment", label=t("maintenance.changes.prompt", lang, n=window.id),
                                   element=PlainTextInputElement(action_id="value", multiline=True, max_length=1000))])


def list_blocks(windows: list[Maintenance], *, lang: str, tz: ZoneInfo, names: dict[str, str],
                now: datetime) -> list[Block]:
    """Upcoming and active windows, each with its phase, its review state and a cancel button."""
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=t("maintenance.list.heading", lang, count=len(windows))))]
    for window in windows[:LISTED]:
        line = t("maintenance.list.line", lang, n=window.id, phase=t(f"maintenance.phase.{service.phase(window, now)}", lang),
                 state=t(f"maintenance.state.{window.status}", lang), span=span(window, tz),
                 components=component_list(window, names, lang), text=Said(window.text.get(lang, "")).clip(200))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=line), accessory=_cancel_button(window, lang)))
    if len(windows) > LISTED:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=t("maintenance.list.more", lang,
                                                                           count=len(windows) - LISTED))]))
    return blocks
