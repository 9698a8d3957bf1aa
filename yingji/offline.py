"""`yingji export` and `yingji report`: read the database, print or write files; no Slack needed."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from bot import incidents, review, roles
from bot.config import ConfigError, Settings
from bot.db import make_engine, make_sessionmaker, utcnow
from bot.drills import past
from bot.figures import figures
from bot.milestones import duration
from bot.runtime import load_deployment_playbooks
from bot.times import when
from bot.vocabulary import Language

PERIOD = re.compile(r"^(\d{1,5})([hdw])$")


def parse_period(text: str) -> timedelta:
    """`30d`, `12h`, `8w` as a timedelta."""
    match = PERIOD.match(text.strip())
    if match is None:
        raise ConfigError(f"--since: expected a number followed by h, d or w (e.g. 30d), got {text!r}")
    amount, unit = int(match.group(1)), match.group(2)
    return {"h": timedelta(hours=amount), "d": timedelta(days=amount), "w": timedelta(weeks=amount)}[unit]


async def export(settings: Settings, key: str, fmt: str) -> str:
    """The review as markdown, everything as JSON, or the timeline as CSV."""
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            incident = await incidents.by_key(session, key)
            if incident is None:
                raise ConfigError(f"no incident {key} in this database")
            facts = await review.gather(session, incident)
    finally:
        await engine.dispose()
    if fmt == "json":
        return json.dumps(review.as_dict(facts, settings.tz), ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        return review.timeline_csv(facts, settings.tz)
    playbooks = load_deployment_playbooks(settings)
    name = playbooks[incident.playbook].name.get(incident.language) if incident.playbook in playbooks else incident.playbook
    roles.configure(settings.file.role_names())
    incident_roles = roles.of_incident(playbooks.get(incident.playbook), settings.file.holders_for(incident.playbook),
                                       facts.holders)
    return review.markdown(facts, settings.tz, playbook_name=name, roles=incident_roles)


async def report(settings: Settings, period: timedelta) -> str:
    """Counts by severity and playbook and the median times, drills excluded."""
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            result = await figures(session, utcnow() - period)
    finally:
        await engine.dispose()
    since = when(result.since, settings.tz)
    lines = [f"Incidents since {since} (drills excluded): {result.incidents}", "", "By severity:"]
    lines += [f"  {severity:<6} {count}" for severity, count in result.by_severity.items()] or ["  (none)"]
    lines += ["", "By playbook:"]
    lines += [f"  {playbook:<28} {count}" for playbook, count in result.by_playbook.items()] or ["  (none)"]

    def median(seconds: float | None) -> str:
        return duration(timedelta(seconds=seconds), Language.EN) if seconds is not None else "—"

    lines += ["", f"Median time to acknowledge: {median(result.median_time_to_acknowledge)}",
              f"Median time to resolve:     {median(result.median_time_to_resolve)}"]
    return "\n".join(lines) + "\n"


async def drills_report(settings: Settings) -> str:
    """Past drills with their scores, so a team sees whether its quarterly drills improve."""
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await past(session)
    finally:
        await engine.dispose()
    if not rows:
        return "No drills yet. Run one with /incident drill <playbook>.\n"
    dates = [when(incident.declared_at, settings.tz) for incident, _ in rows]
    wide = max(len(date) for date in dates)  # the offset's length varies: UTC+8, UTC+5:30
    lines = [f"{'drill':<8} {'date':<{wide}} {'playbook':<28} {'score':>5}  steps on time  roles ≤10 min  statement"]
    for (incident, card), date in zip(rows, dates, strict=True):
        if card is None:
            lines.append(f"{incident.key:<8} {date:<{wide}} {incident.playbook:<28} {'—':>5}  (not closed yet)")
            continue
        steps = card.get("steps") or []
        on_time = sum(1 for s in steps if s.get("took") is not None and s["took"] <= s["due"])
        roles = card.get("roles") or {}
        assembled = sum(1 for m in roles.values() if m is not None and m <= 10)
        statement = card.get("statement_minutes")
        lines.append(f"{incident.key:<8} {date:<{wide}} {incident.playbook:<28} {card.get('score', 0):>5}  "
                     f"{on_time:>3}/{len(steps):<9} {assembled:>3}/{len(roles):<10} "
                     f"{f'{statement:g} min' if statement is not None else '—'}")
    return "\n".join(lines) + "\n"
