"""Times derived from the timeline (never typed in): to detect, acknowledge, mitigate and resolve."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.i18n import t
from bot.models import Incident, TimelineEvent
from bot.vocabulary import Role, Status


def acknowledged_at(events: list[TimelineEvent]) -> datetime | None:
    """When the incident first had a commander: the first commander assignment after declaration."""
    for event in events:
        if event.kind == "role_assigned" and event.data.get("role") == Role.COMMANDER:
            return event.at
    return None


def _first_status(events: list[TimelineEvent], statuses: tuple[str, ...]) -> datetime | None:
    for event in events:
        if event.kind == "status_changed" and event.data.get("to") in statuses:
            return event.at
    return None


def _last_status(events: list[TimelineEvent], status: str) -> datetime | None:
    found = None
    for event in events:
        if event.kind == "status_changed":
            found = event.at if event.data.get("to") == status else (None if event.data.get("from") == status else found)
    return found


@dataclass(frozen=True)
class Milestones:
    """The moments the metrics are measured between; None where the timeline does not (yet) show it."""

    impact_started: datetime | None
    declared: datetime
    acknowledged: datetime | None
    mitigated: datetime | None
    resolved: datetime | None
    discovered: datetime | None = None  # when the problem was discovered, when someone said so

    @property
    def start(self) -> datetime:
        """Where the time-to figures count from: discovery when known, else the declaration."""
        return self.discovered or self.declared

    def _since_start(self, moment: datetime | None) -> timedelta | None:
        return None if moment is None else max(moment - self.start, timedelta(0))

    @property
    def time_to_detect(self) -> timedelta | None:
        """From impact start (when known, e.g. an alert's startsAt) to discovery (or declaration)."""
        return None if self.impact_started is None else max(self.start - self.impact_started, timedelta(0))

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return self._since_start(self.acknowledged)

    @property
    def time_to_mitigate(self) -> timedelta | None:
        return self._since_start(self.mitigated)

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self._since_start(self.resolved)


def milestones(incident: Incident, events: list[TimelineEvent]) -> Milestones:
    """Read the milestones off the timeline: mitigated = first monitoring (or resolved), resolved = last resolve."""
    return Milestones(
        impact_started=incident.impact_started_at,
        declared=incident.declared_at,
        acknowledged=acknowledged_at(events),
        mitigated=_first_status(events, (Status.MONITORING, Status.RESOLVED)),
        resolved=_last_status(events, Status.RESOLVED),
        discovered=incident.discovered_at,
    )


def time_to_acknowledge(start: datetime, events: list[TimelineEvent]) -> timedelta | None:
    """From `start` (discovery, else declaration) to the first commander; None while nobody has taken command."""
    at = acknowledged_at(events)
    return None if at is None else max(at - start, timedelta(0))


def duration(delta: timedelta | None, language: str) -> str:
    """A short human duration: 45s, 12 min, 3 h 05 min, 2 d 4 h; a dash when unknown."""
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return t("milestone.duration.seconds", language, seconds=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return t("milestone.duration.minutes", language, minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return t("milestone.duration.hours", language, hours=hours, minutes=minutes)
    days, hours = divmod(hours, 24)
    return t("milestone.duration.days", language, days=days, hours=hours)
