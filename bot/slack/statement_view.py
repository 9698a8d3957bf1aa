"""Block Kit for statements: the drafting form, the draft message with its approvals, the small forms."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.db import utcnow
from bot.i18n import pick
from bot.models import Incident, Statement
from bot.roles import role_name
from bot.severity import status_label
from bot.slack.blocks import DRAFT_STATEMENT_ACTION
from bot.slack.text import Said, clip, mention, when
from bot.times import utc_offset

FORM_ID = "statement_form"
CHANGES_FORM_ID = "statement_changes_form"
PUBLISH_FORM_ID = "statement_publish_form"
APPROVE, CHANGES, EDIT, PUBLISH = "statement_approve", "statement_changes", "statement_edit", "statement_publish"
DRAFT_ACTION = DRAFT_STATEMENT_ACTION  # the header's Draft statement button
STAGES = ("investigating", "identified", "monitoring", "resolved")
OUTLET_NAMES = {
    "banner": ("网站横幅", "Website banner"),
    "push": ("App 推送", "App push"),
    "social": ("社交媒体（微博 / 微信）", "Social post"),
    "email": ("邮件", "Email"),
    "script": ("客服口径", "Support script"),
}
DATA_LOST = {"no": ("没有数据丢失", "No data lost"), "yes": ("有数据泄露或丢失", "Data was lost or exposed"),
             "unknown": ("仍在评估", "Still assessing")}


def outlet_name(name: str, lang: str) -> str:
    """An outlet as comms people call it."""
    zh, en = OUTLET_NAMES.get(name, (name, name))
    return pick(lang, zh, en)


def _input(block_id: str, label: str, value: str, *, multiline: bool = False, optional: bool = False,
           hint: str | None = None) -> InputBlock:
    return InputBlock(
        block_id=block_id, label=label, optional=optional, hint=hint,
        element=PlainTextInputElement(action_id="value", initial_value=clip(value, 3000) or None,
                                      multiline=multiline, max_length=3000),
    )


def _next_update_input(facts: dict[str, Any], tz: ZoneInfo, lang: str) -> InputBlock:
    """The promised next update, typed in the team's zone: the label names its offset so nobody types their own."""
    stored = facts.get("next_update_at")
    moment = datetime.fromisoformat(stored) if stored else utcnow()
    value = moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if stored else ""
    zone = utc_offset(moment, tz)
    return _input("next_update", pick(lang, f"下次更新时间（YYYY-MM-DD HH:MM，{zone}）", f"Next update (YYYY-MM-DD HH:MM, {zone})"),
                  value, optional=True, hint=pick(lang, "已解决阶段可留空", "May be empty at the resolved stage"))


def statement_form(incident: Incident, *, stage: str, language: str, facts: dict[str, Any], tz: ZoneInfo,
                   compensation_hint: list[str], edit_of: int | None) -> View:
    """The drafting form: people edit the facts, the template writes the prose."""
    lang = incident.language
    stage_options = [Option(value=s, text=status_label(s, lang)) for s in STAGES]
    lang_options = [Option(value="zh", text="中文"), Option(value="en", text="English")]
    data_options = [Option(value=k, text=pick(lang, *v)) for k, v in DATA_LOST.items()]
    hint = pick(lang, "可选：", "Options: ") + "；".join(compensation_hint) if compensation_hint else None
    blocks = [
        InputBlock(block_id="stage", label=pick(lang, "阶段", "Stage"),
                   element=StaticSelectElement(action_id="value", options=stage_options,
                                               initial_option=next(o for o in stage_options if o.value == stage))),
        InputBlock(block_id="language", label=pick(lang, "语言", "Language"),
                   element=StaticSelectElement(action_id="value", options=lang_options,
                                               initial_option=next(o for o in lang_options if o.value == language))),
        _input("what_happened", pick(lang, "发生了什么（用户能懂的话）", "What happened, in customer terms"), facts.get("what_happened", ""), multiline=True),
        _input("affected", pick(lang, "影响了谁", "Who is affected"), facts.get("affected", ""), multiline=True),
        _input("doing", pick(lang, "我们正在做什么", "What we are doing"), facts.get("doing", ""), multiline=True),
        _input("customer_action", pick(lang, "用户应该怎么做", "What customers should do"), facts.get("customer_action", ""), multiline=True),
        _input("compensation", pick(lang, "补偿（可空）", "Compensation (optional)"), facts.get("compensation", ""), optional=True, hint=hint),
        InputBlock(block_id="data_lost", label=pick(lang, "是否有数据丢失", "Was data lost?"),
                   element=StaticSelectElement(action_id="value", options=data_options,
                                               initial_option=next(o for o in data_options if o.value == facts.get("data_lost", "unknown")))),
        _input("data_detail", pick(lang, "涉及哪些数据（如有）", "Which data (if any)"), facts.get("data_detail", ""), optional=True),
        _next_update_input(facts, tz, lang),
    ]
    return View(
        type="modal", callback_id=FORM_ID, title=pick(lang, "起草对外口径", "Draft a statement"),
        submit=pick(lang, "生成草稿", "Create draft"), close=pick(lang, "取消", "Cancel"),
        private_metadata=json.dumps({"incident": incident.id, "edit_of": edit_of}), blocks=blocks,
    )


def approvals_line(lang: str, required: tuple[str, ...], given: dict[str, str]) -> str:
    """Which approvals the draft has and which it still needs."""
    parts = []
    for role in required:
        who = given.get(role)
        parts.append(f":white_check_mark: {role_name(role, lang)} {mention(who)}" if who
                     else f":hourglass: {role_name(role, lang)}")
    return pick(lang, "*审批* ", "*Approvals* ") + " · ".join(parts)


def _outlet_text(name: str, outlet: dict[str, Any], lang: str) -> str:
    label = outlet_name(name, lang)
    if outlet.get("over"):
        flag = " :warning: " + pick(lang, "超出长度：", "does not fit: ") + "；".join(outlet.get("problems") or [])
    else:
        flag = f" ({outlet.get('length')}/{outlet.get('limit')})"
    return f"*{label}*{flag}\n{Said(str(outlet.get('text', ''))).clip(2600)}"


def draft_blocks(incident: Incident, statement: Statement, *, required: tuple[str, ...], given: dict[str, str],
                 tz: ZoneInfo, latest_change_request: str | None = None) -> list[Block]:
    """The draft message, redrawn in place at every step; its thread is the review."""
    lang = incident.language
    state = {"draft": pick(lang, "待审批", "awaiting approval"), "approved": pick(lang, "已批准", "approved"),
             "superseded": pick(lang, "已被新版本取代", "superseded")}[statement.status]
    if statement.status == "approved" and statement.superseded_by:
        state += pick(lang, "（已有新版本）", " (a newer version exists)")
    heading = pick(lang, f"对外口径 v{statement.version} · {status_label(statement.stage, lang)}",
                   f"Statement v{statement.version} · {status_label(statement.stage, lang)}")
    context = (f"{state} · {'中文' if statement.language == 'zh' else 'English'} · "
               + pick(lang, "起草人 ", "drafted by ") + f"{mention(statement.drafted_by)} {when(statement.drafted_at, tz)}")
    if statement.published_at:
        context += " · " + pick(lang, "已发布到 ", "published to ") + ", ".join(
            outlet_name(o, lang) for o in statement.published_to) + f" {when(statement.published_at, tz)}"
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
            ButtonElement(text=pick(lang, "批准", "Approve"), action_id=APPROVE, value=value, style="primary"),
            ButtonElement(text=pick(lang, "要求修改", "Request changes"), action_id=CHANGES, value=value),
            ButtonElement(text=pick(lang, "编辑", "Edit"), action_id=EDIT, value=value),
        ]
    elif statement.status == "approved" and not statement.superseded_by:
        buttons = [
            ButtonElement(text=pick(lang, "标记已发布", "Mark published"), action_id=PUBLISH, value=value, style="primary"),
            ButtonElement(text=pick(lang, "编辑（新版本）", "Edit (new version)"), action_id=EDIT, value=value),
        ]
    else:
        buttons = []
    if buttons:
        blocks.append(ActionsBlock(block_id="statement-actions", elements=buttons))
    return blocks


def changes_form(statement: Statement, lang: str) -> View:
    """Request changes: a comment for the drafter."""
    return View(
        type="modal", callback_id=CHANGES_FORM_ID, title=pick(lang, "要求修改", "Request changes"),
        submit=pick(lang, "提交", "Send"), close=pick(lang, "取消", "Cancel"),
        private_metadata=json.dumps({"statement": statement.id}),
        blocks=[_input("comment", pick(lang, f"v{statement.version} 需要怎么改？", f"What should change in v{statement.version}?"), "", multiline=True)],
    )


def publish_form(statement: Statement, lang: str) -> View:
    """Mark published: which outlets the approved text went to."""
    options = [Option(value=name, text=outlet_name(name, lang)) for name in OUTLET_NAMES]
    return View(
        type="modal", callback_id=PUBLISH_FORM_ID, title=pick(lang, "标记已发布", "Mark published"),
        submit=pick(lang, "记录", "Record"), close=pick(lang, "取消", "Cancel"),
        private_metadata=json.dumps({"statement": statement.id}),
        blocks=[InputBlock(block_id="outlets", label=pick(lang, f"v{statement.version} 已发布到", f"v{statement.version} went out on"),
                           element=CheckboxesElement(action_id="value", options=options))],
    )
