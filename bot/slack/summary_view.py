"""The manager's summary as one Slack message: short lines, readable on a phone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import t
from bot.milestones import duration
from bot.roles import of_incident, role_name
from bot.severity import severity_label, status_label
from bot.slack.blocks import legal_grade_text
from bot.slack.text import Said, escape, mention, when
from bot.slack.timeline_view import actor_text, kind_label
from bot.summary import Facts, next_update_due
from bot.timers import ClockState, clocks
from bot.vocabulary import CADENCE_MINUTES, Severity, Status


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _statement_line(facts: Facts, tz: ZoneInfo, lang: str) -> str:
    """The approved statement, or that there is none yet."""
    statement = facts.statement
    if statement is None or statement.approved_at is None:
        return t("summary.statement_none", lang)
    return t("summary.statement", lang, version=statement.version, time=when(statement.approved_at, tz),
             text=Said(_clip(statement.text, 300)))


def _clock_line(clock: ClockState, tz: ZoneInfo, now: datetime, lang: str) -> str:
    """One regulatory clock: done, stopped by the legal grade, overdue, or how long is left."""
    if clock.withdrawn and clock.stopped is not None:
        state = t("legal_grade.clock_withdrawn", lang, time=when(clock.stopped, tz))
    elif clock.stopped is not None:
        state = t("summary.clock_done", lang, time=when(clock.stopped, tz))
    elif clock.deadline < now:
        state = t("summary.clock_overdue", lang, late=duration(now - clock.deadline, lang), time=when(clock.deadline, tz))
    else:
        state = t("summary.clock_left", lang, left=duration(clock.deadline - now, lang), time=when(clock.deadline, tz))
    return t("summary.clock", lang, name=escape(clock.name), state=state)


def render(facts: Facts, tz: ZoneInfo, now: datetime, cadence: float | None = None,
           roles: Sequence[str] | None = None, *, graded: bool = False) -> str:
    """The summary as one message, short lines for a phone; the same facts and `now` give the same text. `roles`
    are the incident's (bot/roles.py `of_incident`; by default the core five and those held); with `graded` (legal
    grades this kind of incident) it says the legal grade, or that it is pending."""
    incident, lang = facts.incident, facts.incident.language
    ms = facts.milestones
    ago = duration(now - incident.declared_at, lang)
    lines = [
        f"*{incident.key} · {Said(_clip(incident.title, 150))}*" + (" :lock:" if incident.private else ""),
        f"{severity_label(incident.severity, lang)} · {status_label(incident.status, lang)} · `{incident.playbook}`"
        + (f" · {t('summary.drill', lang)}" if incident.drill else ""),
        t("summary.started", lang, time=when(incident.declared_at, tz), ago=ago),
    ]
    if ms.discovered is not None:
        lines.append(t("discovery.summary", lang, time=when(ms.discovered, tz),
                       before=duration(incident.declared_at - ms.discovered, lang)))
    lines += [
        t("discovery.durations" if ms.discovered is not None else "summary.durations", lang,
          acknowledge=duration(ms.time_to_acknowledge, lang), resolve=duration(ms.time_to_resolve, lang)),
        t("summary.roles", lang, roles=" · ".join(
            f"{role_name(r, lang)} {mention(facts.holders.get(r)) or t('summary.role_unassigned', lang)}" for r in roles or of_incident(None, (), facts.holders))),
    ]
    impact = incident.summary or str((facts.statement.facts if facts.statement else {}).get("impact", ""))
    lines.append(t("summary.impact", lang,
                   impact=str(Said(_clip(impact, 400))) if impact else t("summary.impact_missing", lang)))
    if incident.resolution and incident.status in (Status.RESOLVED, Status.CLOSED):
        lines.append(t("summary.resolution", lang, resolution=Said(_clip(incident.resolution, 300))))
    latest = facts.latest
    if latest:
        lines.append(t("summary.latest", lang))
        for event in latest:
            text = t("summary.deleted", lang) if event.data.get("deleted") else str(Said(_clip(event.text, 120)))
            lines.append(f"• {when(event.at, tz)} {actor_text(event.actor)} {kind_label(event.kind, lang)} {text}".rstrip())
    open_steps = [s for s in facts.steps if s.done_at is None]
    overdue = [s for s in open_steps if s.due_at is not None and s.due_at < now]
    lines.append(t("summary.checklist", lang, open=len(open_steps), total=len(facts.steps), overdue=len(overdue)))
    for step in overdue[:3]:
        lines.append(f"  :warning: #{step.number} {escape(_clip(step.title, 80))}")
    lines.append(_statement_line(facts, tz, lang))
    if graded or incident.legal_grade:
        lines.append(t("legal_grade.summary", lang, grade=legal_grade_text(incident, lang)))
    lines += [_clock_line(clock, tz, now, lang) for clock in clocks(facts.events)]
    due = next_update_due(facts, cadence)
    cadence = cadence if cadence is not None else CADENCE_MINUTES[Severity(incident.severity)]
    if due is not None:
        late = t("summary.next_update_late", lang) if due < now else ""
        lines.append(t("summary.next_update", lang, time=when(due, tz), late=late, cadence=cadence))
    return "\n".join(lines)
