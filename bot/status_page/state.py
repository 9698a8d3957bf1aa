"""What the public page shows, derived from rows by pure functions: only statement versions approved and published to
the status page (never an incident's key, title, channel, roles or playbook) and approved maintenance windows. Ids
shown publicly are opaque: keyed hashes of a statement or window id, never the incident's."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from itertools import pairwise

from bot.vocabulary import IMPACT_STATES, ComponentState, Stage

HISTORY_DAYS = 90  # the day strip, the resolved incidents and the past maintenance the page keeps


@dataclass(frozen=True)
class PageVersion:
    """One statement version ever published to the status page, as read from its row and the timeline (withdrawn
    ones too: they are read so that nothing of them is shown)."""

    statement_id: int
    incident_id: int  # groups versions; never shown
    drill: bool
    stage: str
    language: str
    headline: str
    text: str  # the status-page outlet
    banner: str
    push_title: str
    push_body: str
    components: Mapping[str, str]  # component id → the state a person chose
    published_at: datetime  # when it first went to the status page
    withdrawn_at: datetime | None = None  # set while it is off the page
    spans: tuple[tuple[datetime, datetime | None], ...] = ()  # each stay on the page: (published, withdrawn or None)

    def on_page(self) -> tuple[tuple[datetime, datetime | None], ...]:
        """When it was on the page: its spans, else (read without its timeline) first publication to withdrawal."""
        return self.spans or ((self.published_at, self.withdrawn_at),)


@dataclass(frozen=True)
class Window:
    """An approved maintenance window, as read from its row."""

    maintenance_id: int
    text: Mapping[str, str]  # language → text
    components: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    approved_at: datetime | None = None

    def text_in(self, lang: str) -> tuple[str, str]:
        """Its text in `lang`, else in the language it was written in: (text, language)."""
        if self.text.get(lang):
            return self.text[lang], lang
        other = next((code for code, text in sorted(self.text.items()) if text), lang)
        return self.text.get(other, ""), other


@dataclass(frozen=True)
class Component:
    """A component as yingji.yaml names it."""

    id: str
    names: Mapping[str, str]  # language → name


@dataclass(frozen=True)
class Update:
    """One published version as the public reads it."""

    public_id: str
    stage: str
    language: str
    headline: str
    text: str
    banner: str
    push_title: str
    push_body: str
    published_at: datetime


@dataclass(frozen=True)
class PublicIncident:
    """An incident as the public knows it: its published updates and the component states the latest one gives."""

    public_id: str
    drill: bool
    updates: tuple[Update, ...]  # newest first, every language
    components: Mapping[str, ComponentState]  # empty once resolved
    resolved: bool

    @property
    def latest(self) -> Update:
        return self.updates[0]

    @property
    def started_at(self) -> datetime:
        return self.updates[-1].published_at

    def latest_in(self, lang: str) -> Update | None:
        """The newest update written in `lang`, if any."""
        return next((update for update in self.updates if update.language == lang), None)

    def shown(self, lang: str) -> tuple[Update, tuple[Update, ...]]:
        """What a reader of `lang` sees: the newest update in their language, else the newest in another, and the
        earlier updates in that same language beneath it."""
        same = [update for update in self.updates if update.language == lang]
        chosen = same or [update for update in self.updates if update.language == self.latest.language]
        return chosen[0], tuple(chosen[1:])


@dataclass(frozen=True)
class PublicMaintenance:
    """A maintenance window as the public reads it: under an opaque id."""

    public_id: str
    window: Window


@dataclass(frozen=True)
class ComponentStatus(Component):
    """A component now, and the worst state of each of the last HISTORY_DAYS days (oldest first)."""

    state: ComponentState
    days: tuple[ComponentState, ...]

    @property
    def troubled_days(self) -> int:
        """How many of the days were not all operational (what the strip says to a screen reader)."""
        return sum(1 for state in self.days if state != ComponentState.OPERATIONAL)


@dataclass(frozen=True)
class PublicState:
    """Everything the page, the JSON, the feed and the banner script are rendered from."""

    now: datetime
    tz: tzinfo
    days: tuple[date, ...]  # oldest first, today last
    components: tuple[ComponentStatus, ...]
    overall: ComponentState
    ongoing: tuple[PublicIncident, ...]  # most recently updated first
    resolved: tuple[PublicIncident, ...]
    active: tuple[PublicMaintenance, ...]
    upcoming: tuple[PublicMaintenance, ...]
    completed: tuple[PublicMaintenance, ...]
    changed_at: datetime | None  # the last moment something the page shows changed
    next_boundary: datetime  # a window starts or ends, or a day begins: the page must be drawn again then

    @property
    def incident_ongoing(self) -> bool:
        """Whether a real incident (not a drill) is being handled."""
        return any(not incident.drill for incident in self.ongoing)

    def banner(self, lang: str) -> tuple[str, str] | None:
        """The text a shop's banner shows now, as (text, its language): the most recently updated real incident's
        banner (in `lang` when written in it), else the active maintenance; None when all is well."""
        for incident in self.ongoing:
            if not incident.drill:
                update = incident.latest_in(lang) or incident.latest
                return update.banner, update.language
        for active in self.active:
            text, language = active.window.text_in(lang)
            if text:
                return text, language
        return None


def opaque(salt: bytes, kind: str, number: int) -> str:
    """A public id for a row that says nothing about it (not its id, nor the incident's key)."""
    return hmac.new(salt, f"{kind}:{number}".encode(), hashlib.sha256).hexdigest()[:16]


def _incident(versions: Sequence[PageVersion], salt: bytes) -> PublicIncident | None:
    """One incident from its versions on the page; None when every one was withdrawn."""
    shown = sorted((v for v in versions if v.withdrawn_at is None), key=lambda v: (v.published_at, v.statement_id),
                   reverse=True)
    if not shown:
        return None
    updates = tuple(Update(opaque(salt, "statement", v.statement_id), v.stage, v.language, v.headline, v.text, v.banner,
                           v.push_title, v.push_body, v.published_at) for v in shown)
    resolved = shown[0].stage == Stage.RESOLVED
    components = {} if resolved else _impact(shown[0].components)
    first = min(v.statement_id for v in versions)  # stable: the first version ever on the page, withdrawn or not
    return PublicIncident(opaque(salt, "incident", first), shown[0].drill, updates, components, resolved)


def _impact(components: Mapping[str, str]) -> dict[str, ComponentState]:
    """The components a version names in a state that is an impact (what comms may choose)."""
    return {component: ComponentState(state) for component, state in components.items() if state in IMPACT_STATES}


def _window(window: Window, salt: bytes) -> PublicMaintenance:
    return PublicMaintenance(opaque(salt, "maintenance", window.maintenance_id), window)


def day_starts(days: Sequence[date], tz: tzinfo) -> list[datetime]:
    """Where each day begins in the deployment's zone, and where the last one ends."""
    return [datetime.combine(day, time(), tzinfo=tz) for day in [*days, days[-1] + timedelta(days=1)]]


def _segments(versions: Sequence[PageVersion], now: datetime) -> Iterable[tuple[datetime, datetime, Mapping[str, str]]]:
    """One incident's history as the page tells it now: (from, to, components) while the version shown was not the
    resolved one. Only versions still on the page count (a withdrawn one is gone from the page, its claim with it);
    at each moment the one shown is the newest of them on the page then, and between a withdrawal and the next
    publication none is."""
    standing = [v for v in versions if v.withdrawn_at is None]
    edges = {edge for v in standing for span in v.on_page() for edge in span if edge is not None}
    moments = sorted(m for m in edges | {now} if m <= now)
    for start, end in pairwise(moments):
        live = [v for v in standing if any(on <= start and (off is None or off > start) for on, off in v.on_page())]
        if live:
            current = max(live, key=lambda v: (v.published_at, v.statement_id))
            if current.stage != Stage.RESOLVED:
                yield start, end, current.components


def _strips(versions: Sequence[PageVersion], windows: Sequence[Window], components: Sequence[str],
            starts: Sequence[datetime], now: datetime) -> dict[str, list[ComponentState]]:
    """Each component's worst state per day, as the page tells its history now.

    A day (from midnight to midnight in the deployment's zone) shows the worst of: the states an incident's version
    names, over each span it was on the status page while it was that incident's newest version there and not the
    resolved one (a span crossing midnight marks both days); and maintenance on the components of a window that
    has begun. A version counts only while it is still on the page: one withdrawn and never published again is
    gone from the page, so it marks no day (a day whose only version was withdrawn is as the page shows it now,
    with no incident); one withdrawn and published again marks its spans on the page but not the gap between them,
    when the page showed nothing of it. Drills are not given here: they never mark a day."""
    strips = {component: [ComponentState.OPERATIONAL] * (len(starts) - 1) for component in components}

    def mark(start: datetime, end: datetime, component: str, state: str) -> None:
        if component not in strips or state not in set(ComponentState):
            return
        for i, (day_start, day_end) in enumerate(pairwise(starts)):
            if start < day_end and end > day_start:
                strips[component][i] = ComponentState.worst((strips[component][i], state))

    by_incident: dict[int, list[PageVersion]] = {}
    for version in versions:
        by_incident.setdefault(version.incident_id, []).append(version)
    for own in by_incident.values():
        for start, end, named in _segments(own, now):
            for component, state in _impact(named).items():
                mark(start, end, component, state)
    for window in windows:
        if window.starts_at < now:
            for component in window.components:
                mark(window.starts_at, min(window.ends_at, now), component, ComponentState.MAINTENANCE)
    return strips


def derive(versions: Sequence[PageVersion], windows: Sequence[Window], components: Sequence[Component], *,
           now: datetime, tz: tzinfo, show_drills: bool, salt: bytes) -> PublicState:
    """The page's state at `now`. Drills appear only with `show_drills` (marked), and never colour a component."""
    today = now.astimezone(tz).date()
    days = tuple(today - timedelta(days=n) for n in range(HISTORY_DAYS - 1, -1, -1))
    starts = day_starts(days, tz)
    shown = [v for v in versions if show_drills or not v.drill]
    grouped: dict[int, list[PageVersion]] = {}
    for version in shown:
        grouped.setdefault(version.incident_id, []).append(version)
    incidents = [i for i in (_incident(own, salt) for own in grouped.values()) if i is not None]
    incidents.sort(key=lambda i: (i.latest.published_at, i.public_id), reverse=True)
    ongoing = tuple(i for i in incidents if not i.resolved)
    resolved = tuple(i for i in incidents if i.resolved and i.latest.published_at >= starts[0])
    windows = sorted(windows, key=lambda w: (w.starts_at, w.maintenance_id))
    active = tuple(_window(w, salt) for w in windows if w.starts_at <= now < w.ends_at)
    upcoming = tuple(_window(w, salt) for w in windows if w.starts_at > now)
    completed = tuple(_window(w, salt) for w in reversed(windows) if starts[0] <= w.ends_at <= now)
    real = [v for v in versions if not v.drill]
    strips = _strips(real, windows, [c.id for c in components], starts, now)
    in_maintenance = {c for w in active for c in w.window.components}
    statuses = tuple(
        ComponentStatus(c.id, c.names, ComponentState.worst(
            [*(i.components[c.id] for i in ongoing if not i.drill and c.id in i.components),
             *([ComponentState.MAINTENANCE] if c.id in in_maintenance else [])]), tuple(strips[c.id]))
        for c in components)
    overall = ComponentState.worst([*(s.state for s in statuses), *([ComponentState.MAINTENANCE] if active else [])])
    return PublicState(now, tz, days, statuses, overall, ongoing, resolved, active, upcoming, completed,
                       _changed_at(versions, windows, now), _next_boundary(windows, now, starts[-1]))


def _changed_at(versions: Sequence[PageVersion], windows: Sequence[Window], now: datetime) -> datetime | None:
    """The last moment the page's content changed: a publication, a withdrawal, an approval, a window's edge."""
    moments = [v.published_at for v in versions] + [v.withdrawn_at for v in versions if v.withdrawn_at]
    moments += [w.approved_at for w in windows if w.approved_at]
    moments += [edge for w in windows for edge in (w.starts_at, w.ends_at) if edge <= now]
    return max((m for m in moments if m <= now), default=None)


def _next_boundary(windows: Sequence[Window], now: datetime, tomorrow: datetime) -> datetime:
    """The next moment the page changes by itself: a window starts or ends, or tomorrow begins."""
    edges = [edge for w in windows for edge in (w.starts_at, w.ends_at) if edge > now]
    return min([*edges, tomorrow])
