"""The legal grade: legal's answer, under the CAC 网络安全事件分级指南, to whether and how the incident must be
reported (《国家网络安全事件报告管理办法》). It is not our response level; it starts and stops the CN reporting clocks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import lifecycle, outbox, timeline, timers
from bot import steps as step_service
from bot.db import lock_row
from bot.i18n import catalog, t
from bot.models import Incident
from bot.playbooks import Playbook
from bot.vocabulary import Language, LegalGrade


def grade_name(grade: str, language: str) -> str:
    """特别重大 … 不需报告, or their English names."""
    return t(f"legal_grade.name.{grade}", language)


def _plain(text: str) -> str:
    """A name as compared: without case, spaces, hyphens, underscores, or a name in brackets after it."""
    return re.sub(r"[\s_-]+", "", re.sub(r"\(.*?\)", "", text).lower())


def parse_grade(text: str) -> LegalGrade | None:
    """`relatively-major`, `relatively major`, 较大 all mean 较大; anything else is not a grade."""
    wanted = _plain(text)
    if not wanted:
        return None
    for grade in LegalGrade:
        names = {_plain(grade.value)} | {_plain(catalog(lang)[f"legal_grade.name.{grade}"]) for lang in Language}
        if wanted in names:
            return grade
    return None


def clock_start(incident: Incident) -> datetime:
    """When the law's clocks run from: discovery (发现或获知), or the declaration if discovery is not recorded."""
    return incident.discovered_at or incident.declared_at


@dataclass(frozen=True)
class Regrading:
    """What setting the grade did: the clocks it started and stopped, the grading steps it completed."""

    started: list[str]
    stopped: list[str]
    completed: list[int]


async def change_grade(session: AsyncSession, incident: Incident, grade: LegalGrade, *, by: str,
                       playbook: Playbook | None, tags: list[str]) -> Regrading | None:
    """Record legal's grade (None when it already is that grade): the CN clocks at or below it start from
    discovery, those above it stop, and the grading step is done. Timeline first, then the Slack work."""
    assert incident.id is not None
    await lock_row(session, Incident, incident.id)  # concurrent gradings take turns; the later sees the earlier
    if incident.legal_grade == grade:
        return None
    previous = incident.legal_grade
    timeline.record(session, incident.id, "legal_grade_set", actor=by,
                    text=f"{previous or '—'} → {grade}", data={"from": previous, "to": grade.value})
    incident.legal_grade = grade.value
    session.add(incident)
    started: list[str] = []
    stopped: list[str] = []
    completed: list[int] = []
    if playbook is not None:
        events = await timeline.events(session, incident.id, kinds=["clock_started", "clock_stopped", "step_done"])
        running = {c.clock for c in timers.clocks(events) if c.stopped is None}
        reported = {e.data.get("clock") for e in events if e.kind == "step_done"}
        for clock in playbook.clocks:
            if not clock.graded:
                continue
            wanted = clock.applies_at_grade(grade, tags)
            if wanted and clock.id not in running and clock.id not in reported:
                lifecycle.start_clock(session, incident, playbook, clock, clock_start(incident))
                started.append(clock.id)
            elif not wanted and clock.id in running:
                timeline.record(session, incident.id, "clock_stopped", actor=by, text=clock.name.get(incident.language),
                                data={"clock": clock.id, "grade": grade.value, "reason": "legal_grade"})
                stopped.append(clock.id)
        completed = await _complete_grading_steps(session, incident, playbook, grade, by)
    await outbox.enqueue_once(session, incident.id, "update_header", wave=1)
    await outbox.enqueue_once(session, incident.id, "sync_timers", wave=1)
    return Regrading(started, stopped, completed)


async def _complete_grading_steps(session: AsyncSession, incident: Incident, playbook: Playbook, grade: LegalGrade,
                                  by: str) -> list[int]:
    """Mark the step that asks for the grade done (the grade is its answer) and redraw the checklist lines
    that offer the choice, so they show the grade now set."""
    assert incident.id is not None
    asks = playbook.grading_steps()
    completed: list[int] = []
    redraw: set[str] = set()
    for step in await step_service.all_steps(session, incident.id):
        if step.step_key not in asks:
            continue
        if step.done_at is None:
            done = await step_service.complete(session, incident.id, step.number, by=by,
                                               note=grade_name(grade, incident.language))
            if done.completed:
                completed.append(step.number)
                outbox.enqueue(session, incident.id, "cancel_timer", job=f"step:{step.id}")
        if step.message_ts:
            redraw.add(step.message_ts)
    for ts in sorted(redraw):
        await outbox.enqueue_once(session, incident.id, "refresh_checklist", ts=ts)
    return completed
