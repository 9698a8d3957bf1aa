"""Drills (演练): the playbook run for real but marked as practice, scored against its time limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import summary
from bot.models import Incident, TimelineEvent
from bot.playbooks import Playbook

ASSEMBLE_TARGET = timedelta(minutes=10)
STATEMENT_TARGET = timedelta(minutes=30)
StoredCard = dict[str, Any]  # a Scorecard.as_dict() read back from the timeline's JSON: steps, roles, score, …


@dataclass(frozen=True)
class StepScore:
    """One step against its time limit."""

    number: int
    title: str
    due_minutes: float
    took_minutes: float | None   # None: not done

    @property
    def on_time(self) -> bool:
        return self.took_minutes is not None and self.took_minutes <= self.due_minutes


@dataclass(frozen=True)
class Scorecard:
    """How the drill went: roles assembled, steps against their limits, time to an approved statement."""

    key: str
    playbook: str
    roles: dict[str, float | None] = field(default_factory=dict)   # role → minutes to first holder
    steps: list[StepScore] = field(default_factory=list)
    statement_minutes: float | None = None
    score: int = 0

    def as_dict(self) -> dict[str, object]:
        """For the timeline event that keeps the score."""
        return {"key": self.key, "playbook": self.playbook, "roles": self.roles, "score": self.score,
                "statement_minutes": self.statement_minutes,
                "steps": [{"number": s.number, "title": s.title, "due": s.due_minutes, "took": s.took_minutes}
                          for s in self.steps]}


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 1)


def score(facts: summary.Facts, playbook: Playbook | None) -> Scorecard:
    """Half for steps on time, a quarter for roles assembled within 10 min, a quarter for a statement within 30."""
    incident = facts.incident
    start = incident.declared_at
    needed = playbook.roles if playbook else sorted({s.owner_role for s in facts.steps})
    first: dict[str, float | None] = {role: None for role in needed}
    for event in facts.events:
        role = event.data.get("role") if event.kind == "role_assigned" else None
        if role in first and first[role] is None:
            first[role] = _minutes(event.at - start)
    steps = [
        StepScore(s.number, s.title, _minutes(s.due_at - start) if s.due_at else 0.0,
                  _minutes(s.done_at - start) if s.done_at else None)
        for s in facts.steps
    ]
    approved = next((e.at for e in facts.events if e.kind == "statement_approved"), None)
    statement_minutes = _minutes(approved - start) if approved else None
    on_time = sum(s.on_time for s in steps) / len(steps) if steps else 0.0
    assembled = sum(1 for m in first.values() if m is not None and m <= _minutes(ASSEMBLE_TARGET)) / len(first) if first else 0.0
    statement_ok = 1.0 if statement_minutes is not None and statement_minutes <= _minutes(STATEMENT_TARGET) else 0.0
    total = round(100 * (0.5 * on_time + 0.25 * assembled + 0.25 * statement_ok))
    return Scorecard(incident.key or "", incident.playbook, first, steps, statement_minutes, total)


async def past(session: AsyncSession) -> list[tuple[Incident, StoredCard | None]]:
    """Every drill, oldest first, with its recorded scorecard (None while it is not closed)."""
    drills = list((await session.exec(select(Incident).where(col(Incident.drill).is_(True)).order_by(col(Incident.id)))).all())
    ids = [d.id for d in drills if d.id is not None]
    scored: dict[int, StoredCard] = {}
    if ids:
        rows = await session.exec(select(TimelineEvent).where(col(TimelineEvent.incident_id).in_(ids),
                                                              TimelineEvent.kind == "drill_scored"))
        scored = {row.incident_id: row.data for row in rows.all()}
    return [(d, scored.get(d.id or 0)) for d in drills]
