"""The post-incident review (复盘) and the exports: markdown, JSON and CSV, all from the same facts."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import summary, timeline
from bot.i18n import t
from bot.milestones import duration
from bot.models import Incident, TimelineEvent
from bot.roles import of_incident, role_name
from bot.severity import severity_label, status_label
from bot.summary import Facts
from bot.timeline import repeats, times_suffix
from bot.times import when

MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


async def gather(session: AsyncSession, incident: Incident) -> Facts:
    """What the review and the exports are written from: the summary's facts (milestones need only its events) with
    the whole timeline as plain rows, which read like TimelineEvent, cost a third of ORM objects, and leave the
    garbage collector 50,000 fewer objects to walk again and again (what made a long export grow faster than it)."""
    assert incident.id is not None
    facts = await summary.gather(session, incident)
    return replace(facts, events=cast("list[TimelineEvent]", await timeline.rows(session, incident.id)))


def _local(moment: datetime | None, tz: ZoneInfo) -> str:
    """A moment with seconds and its UTC offset, or a dash where it has not happened (not resolved yet)."""
    return when(moment, tz, seconds=True) if moment else "—"


def person(user: str | None, names: dict[str, str]) -> str:
    """A person by name where known, else by Slack id."""
    if not user:
        return "—"
    return "yingji" if user == "yingji" else f"@{names.get(user, user)}"


def _plain(text: str, names: dict[str, str]) -> str:
    return MENTION.sub(lambda m: person(m.group(1), names), text)


def metrics(facts: Facts) -> dict[str, float | None]:
    """The review's metrics in seconds (None where the timeline does not show the milestone)."""
    ms = facts.milestones
    pairs = {
        "time_to_detect": ms.time_to_detect,
        "time_to_acknowledge": ms.time_to_acknowledge,
        "time_to_mitigate": ms.time_to_mitigate,
        "time_to_resolve": ms.time_to_resolve,
    }
    return {name: (value.total_seconds() if value is not None else None) for name, value in pairs.items()}


def action_items(facts: Facts) -> list[Any]:
    """Notes marked as action items (`/incident note action: …`)."""
    return [e for e in facts.events if e.kind == "action_item"]


def markdown(facts: Facts, tz: ZoneInfo, *, playbook_name: str, names: dict[str, str] | None = None,
             roles: Sequence[str] | None = None) -> str:
    """The review draft: summary, impact, metrics, the whole timeline, prompts, action items. `roles` are the
    incident's (bot/roles.py `of_incident`); by default the core five and those held."""
    names = names or {}
    incident, lang, ms = facts.incident, facts.incident.language, facts.milestones
    out = [f"# {t('review.title', lang, key=incident.key, title=incident.title)}", ""]
    if incident.drill:
        out += [t("review.drill", lang), ""]
    out += [
        f"## {t('review.section.summary', lang)}",
        f"- {t('review.severity', lang, severity=severity_label(incident.severity, lang))}",
        f"- {t('review.status', lang, status=status_label(incident.status, lang))}",
        f"- {t('review.playbook', lang, name=playbook_name, code=incident.playbook)}",
        *([f"- {t('discovery.review', lang, at=_local(incident.discovered_at, tz))}"] if incident.discovered_at else []),
        f"- {t('review.declared', lang, at=_local(incident.declared_at, tz))}",
        f"- {t('review.resolved', lang, at=_local(incident.resolved_at, tz))}",
    ]
    if incident.resolution:
        out.append(f"- {t('review.resolution', lang, text=_plain(incident.resolution, names))}")
    out += [f"- {role_name(r, lang)}: {person(facts.holders.get(r), names)}" for r in roles or of_incident(None, (), facts.holders)]
    impact = incident.summary or str((facts.statement.facts if facts.statement else {}).get("impact", ""))
    out += ["", f"## {t('review.section.impact', lang)}", impact or t("review.impact_missing", lang), ""]
    detect = duration(ms.time_to_detect, lang) if ms.time_to_detect is not None else t("review.detect_unknown", lang)
    out += [
        f"## {t('review.section.metrics', lang)}",
        f"- {t('review.time_to_detect', lang, duration=detect)}",
        f"- {t('review.time_to_acknowledge', lang, duration=duration(ms.time_to_acknowledge, lang))}",
        f"- {t('review.time_to_mitigate', lang, duration=duration(ms.time_to_mitigate, lang))}",
        f"- {t('review.time_to_resolve', lang, duration=duration(ms.time_to_resolve, lang))}",
        "",
        f"## {t('review.section.timeline', lang)}",
    ]
    for event in facts.events:
        text = t("review.deleted", lang) if event.data.get("deleted") else _plain(event.text, names)
        link = f" ({t('review.message_link', lang, url=event.data['permalink'])})" if event.data.get("permalink") else ""
        out.append(f"- {_local(event.at, tz)} · {person(event.actor, names)} · {event.kind} · {text}{times_suffix(event)}{link}"
                   .rstrip())
    out += [
        "",
        f"## {t('review.section.went_well', lang)}",
        t("review.went_well_prompt", lang),
        "",
        f"## {t('review.section.went_badly', lang)}",
        t("review.went_badly_prompt", lang),
        "",
        f"## {t('review.section.action_items', lang)}",
    ]
    items = action_items(facts)
    out += [f"- [ ] {_plain(e.text, names)} ({person(e.actor, names)}, {_local(e.at, tz)})" for e in items] or [
        t("review.action_items_prompt", lang)
    ]
    return "\n".join(out) + "\n"


def as_dict(facts: Facts, tz: ZoneInfo) -> dict[str, Any]:
    """Everything stored about the incident, for tools: the JSON export."""
    incident = facts.incident
    return {
        "key": incident.key,
        "title": incident.title,
        "summary": incident.summary,
        "playbook": incident.playbook,
        "severity": incident.severity,
        "status": incident.status,
        "private": incident.private,
        "drill": incident.drill,
        "discovered_at": incident.discovered_at.isoformat() if incident.discovered_at else None,
        "declared_at": incident.declared_at.isoformat(),
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "resolution": incident.resolution,
        "timezone": str(tz),
        "roles": facts.holders,
        "metrics_seconds": metrics(facts),
        "steps": [
            {"number": s.number, "phase": s.phase, "title": s.title, "owner_role": s.owner_role,
             "due_at": s.due_at.isoformat() if s.due_at else None,
             "done_at": s.done_at.isoformat() if s.done_at else None, "done_by": s.done_by, "note": s.note}
            for s in facts.steps
        ],
        "timeline": [
            {"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "text": e.text, "data": e.data}
            for e in facts.events
        ],
        "action_items": [e.text for e in action_items(facts)],
    }


def timeline_csv(facts: Facts, tz: ZoneInfo) -> str:
    """The timeline as CSV rows: UTC time, local time, actor, kind, text, permalink, and how many times (a refusal
    repeated within its minute is one row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["at_utc", "at_local", "actor", "kind", "text", "permalink", "count"])
    for event in facts.events:
        writer.writerow([event.at.isoformat(), _local(event.at, tz), event.actor, event.kind, event.text,
                         event.data.get("permalink", ""), repeats(event)])
    return buffer.getvalue()
