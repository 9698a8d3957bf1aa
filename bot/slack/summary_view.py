"""The manager's summary as one Slack message: short lines, readable on a phone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import ROLES
from bot.i18n import pick
from bot.milestones import duration
from bot.roles import role_name
from bot.severity import SEVERITIES, severity_label, status_label
from bot.slack.text import Said, escape, mention, when
from bot.slack.timeline_view import actor_text, kind_label
from bot.summary import Facts, next_update_due
from bot.timers import clocks


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(facts: Facts, tz: ZoneInfo, now: datetime, cadence: float | None = None) -> str:
    """The summary as one message, short lines for a phone; the same facts and `now` give the same text."""
    incident, lang = facts.incident, facts.incident.language
    ms = facts.milestones
    ago = duration(now - incident.declared_at, lang)
    lines = [
        f"*{incident.key} · {Said(_clip(incident.title, 150))}*" + (" :lock:" if incident.private else ""),
        f"{severity_label(incident.severity, lang)} · {status_label(incident.status, lang)} · `{incident.playbook}`"
        + (pick(lang, " · 演练", " · DRILL") if incident.drill else ""),
        pick(lang, f"开始 {when(incident.declared_at, tz)}（{ago}前）", f"Started {when(incident.declared_at, tz)} ({ago} ago)"),
        pick(lang, f"响应用时 {duration(ms.time_to_acknowledge, lang)} · 解决用时 {duration(ms.time_to_resolve, lang)}",
           f"Time to acknowledge {duration(ms.time_to_acknowledge, lang)} · to resolve {duration(ms.time_to_resolve, lang)}"),
        pick(lang, "*角色* ", "*Roles* ") + " · ".join(
            f"{role_name(r, lang)} {mention(facts.holders.get(r)) or pick(lang, '待指定', '—')}" for r in ROLES),
    ]
    impact = incident.summary or str((facts.statement.facts if facts.statement else {}).get("impact", ""))
    lines.append(pick(lang, "*影响* ", "*Impact* ") + (str(Said(_clip(impact, 400))) if impact else pick(lang, "未记录", "not recorded")))
    if incident.resolution and incident.status in ("resolved", "closed"):
        lines.append(pick(lang, "*解决* ", "*Resolution* ") + str(Said(_clip(incident.resolution, 300))))
    latest = facts.latest
    if latest:
        lines.append(pick(lang, "*最近进展*", "*Latest*"))
        for event in latest:
            text = pick(lang, "（已删除）", "(deleted)") if event.data.get("deleted") else str(Said(_clip(event.text, 120)))
            lines.append(f"• {when(event.at, tz)} {actor_text(event.actor)} {kind_label(event.kind, lang)} {text}".rstrip())
    open_steps = [s for s in facts.steps if s.done_at is None]
    overdue = [s for s in open_steps if s.due_at is not None and s.due_at < now]
    lines.append(pick(lang, f"*清单* {len(open_steps)}/{len(facts.steps)} 项未完成，{len(overdue)} 项超时",
                    f"*Checklist* {len(open_steps)} of {len(facts.steps)} open, {len(overdue)} overdue"))
    for step in overdue[:3]:
        lines.append(f"  :warning: #{step.number} {escape(_clip(step.title, 80))}")
    if facts.statement is not None and facts.statement.approved_at is not None:
        lines.append(pick(lang, f"*对外口径* v{facts.statement.version} 批准于 {when(facts.statement.approved_at, tz)}：",
                        f"*Statement* v{facts.statement.version} approved {when(facts.statement.approved_at, tz)}: ")
                     + str(Said(_clip(facts.statement.text, 300))))
    else:
        lines.append(pick(lang, "*对外口径* 尚无已批准的口径", "*Statement* none approved yet"))
    for clock in clocks(facts.events):
        if clock.stopped is not None:
            state = pick(lang, f"已完成 {when(clock.stopped, tz)}", f"done {when(clock.stopped, tz)}")
        elif clock.deadline < now:
            state = pick(lang, f":rotating_light: 已超时 {duration(now - clock.deadline, lang)}", f":rotating_light: overdue by {duration(now - clock.deadline, lang)}")
        else:
            state = pick(lang, f"剩余 {duration(clock.deadline - now, lang)}（截止 {when(clock.deadline, tz)}）",
                         f"{duration(clock.deadline - now, lang)} left (due {when(clock.deadline, tz)})")
        lines.append(pick(lang, "*监管时限* ", "*Clock* ") + f"{escape(clock.name)}: {state}")
    due = next_update_due(facts, cadence)
    cadence = cadence if cadence is not None else SEVERITIES[incident.severity].cadence_minutes
    if due is not None:
        late = pick(lang, "（已逾期）", " (overdue)") if due < now else ""
        lines.append(pick(lang, f"*下次更新* {when(due, tz)}{late}，每 {cadence:g} 分钟",
                        f"*Next update due* {when(due, tz)}{late}, every {cadence:g} min"))
    return "\n".join(lines)
