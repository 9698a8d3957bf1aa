"""The checklist: playbook steps copied into an incident, each with an owner role and a deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import timeline
from bot.db import lock_row, utcnow
from bot.i18n import t
from bot.models import Incident, Step
from bot.playbooks import Playbook
from bot.vocabulary import Phase


def phase_name(phase: str, language: str) -> str:
    """A checklist phase as people call it, in the incident's language."""
    return t(f"step.phase.{phase}", language)



def copy_from_playbook(session: AsyncSession, incident: Incident, playbook: Playbook) -> list[Step]:
    """Create the incident's steps, numbered from 1 in phase order, due relative to declaration."""
    assert incident.id is not None
    ordered = sorted(playbook.steps, key=lambda s: (list(Phase).index(s.phase), playbook.steps.index(s)))
    steps = [
        Step(
            incident_id=incident.id,
            number=number,
            step_key=step.id,
            phase=step.phase,
            title=_titled(step.title.get(incident.language), step.basis, incident.language),
            owner_role=step.owner,
            due_at=incident.declared_at + timedelta(minutes=step.due_minutes),
            clock=step.clock,
        )
        for number, step in enumerate(ordered, start=1)
    ]
    session.add_all(steps)
    return steps


async def all_steps(session: AsyncSession, incident_id: int) -> list[Step]:
    """Every step of an incident, by number."""
    result = await session.exec(select(Step).where(Step.incident_id == incident_id).order_by(col(Step.number)))
    return list(result.all())


async def by_number(session: AsyncSession, incident_id: int, number: int) -> Step | None:
    """One step by its number in the checklist."""
    result = await session.exec(select(Step).where(Step.incident_id == incident_id, Step.number == number))
    return result.first()


def open_first(steps: list[Step]) -> list[Step]:
    """Open steps (soonest due first), then completed ones."""
    return sorted(steps, key=lambda s: (s.done_at is not None, s.due_at or utcnow(), s.number))


def is_overdue(step: Step, now: datetime | None = None) -> bool:
    """An open step past its deadline."""
    return step.done_at is None and step.due_at is not None and step.due_at < (now or utcnow())


@dataclass(frozen=True)
class Completion:
    """What `complete` found: the step (if any) and whether this call completed it."""

    step: Step | None
    completed: bool


async def complete(
    session: AsyncSession, incident_id: int, number: int, *, by: str, note: str = ""
) -> Completion:
    """Mark step `number` done with who and when; a missing or already-done step changes nothing."""
    await lock_row(session, Incident, incident_id)  # a double click on two replicas completes it once
    step = await by_number(session, incident_id, number)
    if step is not None:
        await session.refresh(step)
    if step is None or step.done_at is not None:
        return Completion(step, completed=False)
    now = utcnow()
    step.done_at, step.done_by, step.note = now, by, note or None
    session.add(step)
    timeline.record(
        session,
        incident_id,
        "step_done",
        actor=by,
        text=f"{step.number}. {step.title}" + (f" — {note}" if note else ""),
        data={"step": step.number, "key": step.step_key, "note": note, "clock": step.clock},
        at=now,
    )
    return Completion(step, completed=True)


def _titled(title: str, basis: str | None, language: str) -> str:
    """A step's title with the article that requires it, so whoever does it sees why and can look it up."""
    return t("step.with_basis", language, title=title, basis=basis) if basis else title
