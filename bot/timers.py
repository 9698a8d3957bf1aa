"""Every timer an incident needs, derived from its timeline: update cadence, escalation, regulatory
clocks and archiving. One function says what should be scheduled; one operation makes it so."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.discovery import latest as latest_discovery
from bot.milestones import acknowledged_at
from bot.models import Incident, TimelineEvent
from bot.vocabulary import ACTIVE, Status

CLOCK_POINTS = (50, 90, 100)
UPDATE_KINDS = ("status_changed", "severity_changed", "statement_approved", "statement_published", "update_overdue")


@dataclass(frozen=True)
class Timer:
    """One job to have in the scheduler: its id, when, and what it calls."""

    job_id: str
    at: datetime
    kind: str
    args: tuple[int, ...]


@dataclass(frozen=True)
class ClockState:
    """A regulatory clock as the timeline tells it."""

    index: int
    clock: str
    name: str
    basis: str
    started: datetime
    deadline: datetime
    stopped: datetime | None
    immediate: bool
    withdrawn: bool = False  # stopped because legal graded the incident below the clock's threshold

    def at_point(self, percent: int) -> datetime:
        """The moment `percent` of the clock's time has passed."""
        return self.started + (self.deadline - self.started) * percent / 100


def clocks(events: list[TimelineEvent]) -> list[ClockState]:
    """The incident's clocks, in the order they were started, with when their notification step was done (or
    when the legal grade stopped them).

    A clock runs from discovery: when the timeline records a discovery time (set or corrected after the clock
    started, a `discovered_set` event), the clock starts there and its deadline moves with it, keeping its length.
    """
    done = {e.data.get("clock"): e.at for e in events if e.kind == "step_done" and e.data.get("clock")}
    discovered = latest_discovery(events)
    states: list[ClockState] = []
    for e in events:
        if e.kind == "clock_started":
            started, deadline = datetime.fromisoformat(e.data["started"]), datetime.fromisoformat(e.data["deadline"])
            if discovered is not None:
                started, deadline = discovered, discovered + (deadline - started)
            states.append(ClockState(
                index=len(states), clock=str(e.data["clock"]), name=e.text, basis=str(e.data.get("basis", "")),
                started=started, deadline=deadline, stopped=done.get(e.data["clock"]),
                immediate=bool(e.data.get("immediate")),
            ))
        elif e.kind == "clock_stopped":
            states = [replace(s, stopped=e.at, withdrawn=True) if s.clock == e.data.get("clock") and s.stopped is None
                      else s for s in states]
    return states


def last_update(incident: Incident, events: list[TimelineEvent]) -> datetime:
    """The last time the incident's audience heard something new (or was reminded, or it was snoozed)."""
    moments = [incident.declared_at] + [e.at for e in events if e.kind in UPDATE_KINDS]
    moments += [datetime.fromisoformat(e.data["until"]) - timedelta(minutes=float(e.data["cadence"]))
                for e in events if e.kind == "cadence_snoozed"]
    return max(moments)


def wanted(
    incident: Incident, events: list[TimelineEvent], *, cadence_minutes: float | None,
    escalate_after_minutes: float | None, archive_after_days: float,
) -> list[Timer]:
    """The timers this incident should have right now."""
    assert incident.id is not None
    timers: list[Timer] = []
    active = incident.status in ACTIVE
    if active and cadence_minutes:
        due = last_update(incident, events) + timedelta(minutes=cadence_minutes)
        timers.append(Timer(f"cadence:{incident.id}", due, "cadence_due", (incident.id,)))
    escalated = any(e.kind == "escalated" for e in events)
    if active and escalate_after_minutes and acknowledged_at(events) is None and not escalated:
        at = incident.declared_at + timedelta(minutes=escalate_after_minutes)
        timers.append(Timer(f"escalate:{incident.id}", at, "escalate", (incident.id,)))
    reminded = {(e.data.get("clock"), e.data.get("percent")) for e in events if e.kind == "clock_reminder"}
    for clock in clocks(events):
        if clock.stopped is not None:
            continue
        for percent in CLOCK_POINTS:
            if (clock.clock, percent) not in reminded:
                timers.append(Timer(f"clock:{incident.id}:{clock.index}:{percent}", clock.at_point(percent),
                                    "clock_due", (incident.id, clock.index, percent)))
    archived = any(e.kind == "channel_archived" for e in events)
    if incident.status == Status.CLOSED and incident.closed_at and archive_after_days > 0 and not archived:
        timers.append(Timer(f"archive:{incident.id}", incident.closed_at + timedelta(days=archive_after_days),
                            "archive", (incident.id,)))
    return timers


def possible_ids(incident_id: int, events: list[TimelineEvent]) -> set[str]:
    """Every timer id this incident could have, so the ones no longer wanted can be cancelled."""
    ids = {f"cadence:{incident_id}", f"escalate:{incident_id}", f"archive:{incident_id}"}
    ids |= {f"clock:{incident_id}:{c.index}:{p}" for c in clocks(events) for p in CLOCK_POINTS}
    return ids
