"""Block Kit for the incident header and the announcement, built with slack_sdk.models."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.i18n import t
from bot.legal_grade import grade_name
from bot.models import Incident
from bot.roles import role_name
from bot.severity import severity_label, status_label
from bot.slack.text import Said, channel_link, clip, escape, mention, when
from bot.vocabulary import CORE_ROLES, Severity

ASSIGN_ROLES_ACTION = "open_assign_roles"
DRAFT_STATEMENT_ACTION = "open_statement_form"
UPDATE_STATUS_ACTION = "open_status_form"
FIELDS_PER_SECTION = 10  # Slack's limit on a section's fields
SEVERITY_ICON: dict[str, str] = {
    Severity.SEV1: ":red_circle:", Severity.SEV2: ":large_orange_circle:", Severity.SEV3: ":large_yellow_circle:",
    Severity.SEV4: ":white_circle:",
}


def header_title(incident: Incident) -> str:
    """`INC-3 · title`, with a drill mark, clipped to the header block's 150 characters."""
    lang = incident.language
    prefix = f"[{t('header.drill', lang)}] " if incident.drill else ""
    return clip(f"{prefix}{incident.key} · {incident.title}", 150)


def header_blocks(
    incident: Incident, holders: dict[str, str], playbook_name: str, tz: ZoneInfo, roles: Sequence[str] = CORE_ROLES,
    *, graded: bool = False,
) -> list[Block]:
    """The pinned header: the one message people look at, updated in place as things change. `roles` are the
    incident's (bot/roles.py `of_incident`: the core five, then its playbook's and the deployment's); with `graded`
    (legal grades this kind of incident) it shows the legal grade, or that legal has not set it yet."""
    lang = incident.language
    fields = [
        MarkdownTextObject(text=f"*{t('header.severity', lang)}*\n{SEVERITY_ICON[incident.severity]} {severity_label(incident.severity, lang)}"),
        MarkdownTextObject(text=f"*{t('header.status', lang)}*\n{status_label(incident.status, lang)}"),
        MarkdownTextObject(text=f"*{t('header.playbook', lang)}*\n{escape(playbook_name)}"),
        MarkdownTextObject(text=f"*{t('header.started', lang)}*\n{when(incident.declared_at, tz)}"),
        MarkdownTextObject(text=f"*{t('header.declared_by', lang)}*\n{mention(incident.declared_by)}"),
    ]
    if incident.discovered_at is not None:
        fields.insert(4, MarkdownTextObject(text=f"*{t('discovery.header', lang)}*\n{when(incident.discovered_at, tz)}"))
    if graded or incident.legal_grade:
        fields.append(MarkdownTextObject(text=f"*{t('legal_grade.label', lang)}*\n{legal_grade_text(incident, lang)}"))
    blocks: list[Block] = [
        HeaderBlock(text=header_title(incident)),
        SectionBlock(fields=fields),
        *_roles(roles, holders, lang),
    ]
    if incident.summary:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=Said(incident.summary).clip(3000))))
    notes = [incident.key or ""]
    if incident.private:
        notes.append(f":lock: {t('header.private', lang)}")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=" · ".join(notes))]))
    blocks.append(ActionsBlock(block_id="header-actions", elements=[
        ButtonElement(text=t("header.assign_roles", lang), action_id=ASSIGN_ROLES_ACTION, value=str(incident.id)),
        ButtonElement(text=t("header.update_status", lang), action_id=UPDATE_STATUS_ACTION, value=str(incident.id)),
        ButtonElement(text=t("header.draft_statement", lang), action_id=DRAFT_STATEMENT_ACTION, value=str(incident.id)),
    ]))
    return blocks


def legal_grade_text(incident: Incident, lang: str) -> str:
    """The legal grade as the header and the summary show it: 较大, or pending until legal sets it."""
    return grade_name(incident.legal_grade, lang) if incident.legal_grade else t("legal_grade.pending", lang)


def _roles(roles: Sequence[str], holders: dict[str, str], lang: str) -> list[SectionBlock]:
    """Every role of the incident and its holder, or that nobody holds it: at 3 a.m. people read the header, not
    `/incident roles`. Ten to a section (Slack's limit): `header-roles`, then `header-roles-2`, …"""
    fields = [MarkdownTextObject(text=f"*{role_name(role, lang)}*\n{mention(holders.get(role)) or t('header.unassigned', lang)}")
              for role in roles]
    return [SectionBlock(block_id="header-roles" + (f"-{n // FIELDS_PER_SECTION + 1}" if n else ""),
                         fields=fields[n:n + FIELDS_PER_SECTION])
            for n in range(0, len(fields), FIELDS_PER_SECTION)]


def header_text(incident: Incident) -> str:
    """Notification text; Slack parses it for mentions, so the title goes escaped. The blocks carry the detail."""
    return clip(f"{incident.key} · {severity_label(incident.severity, incident.language)} · {Said(incident.title)}", 3000)


def announcement_text(incident: Incident) -> str:
    """What the announce channel sees; a private incident shows only its key and severity."""
    lang = incident.language
    severity = severity_label(incident.severity, lang)
    drill = f"[{t('header.drill', lang)}] " if incident.drill else ""
    if incident.private:
        return drill + t("channel.announce_private", lang, key=incident.key, severity=severity)
    return drill + t(
        "channel.announce",
        lang,
        key=incident.key,
        severity=severity,
        title=Said(incident.title).clip(2000),
        channel=channel_link(incident.channel_id, incident.channel_name),
    )


def announcement_blocks(incident: Incident) -> list[Block]:
    """The announcement as a single section, so its length is checked like any other block."""
    icon = SEVERITY_ICON[incident.severity]
    return [SectionBlock(text=MarkdownTextObject(text=f"{icon} {announcement_text(incident)}"))]


def topic(incident: Incident) -> str:
    """The channel topic, within Slack's 250 characters; Slack parses it for mentions, so the title goes escaped."""
    lang = incident.language
    return clip(
        t(
            "channel.topic",
            lang,
            severity=severity_label(incident.severity, lang),
            status=status_label(incident.status, lang),
            key=incident.key,
            title=Said(incident.title),
        ),
        250,
    )


def purpose(incident: Incident, playbook_name: str) -> str:
    """The channel purpose, within Slack's 250 characters; Slack parses it, so the playbook's name goes escaped."""
    return clip(t("channel.purpose", incident.language, key=incident.key, playbook=escape(playbook_name)), 250)
