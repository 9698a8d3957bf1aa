"""The facts a statement is built from: prefilled from the incident and its playbook, edited by people."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import t
from bot.models import Incident, Statement
from bot.playbooks import Playbook
from bot.vocabulary import DataLost, Stage, Status

FIELDS = ("what_happened", "affected", "doing", "customer_action", "compensation", "data_lost", "data_detail")
STAGE_OF_STATUS: dict[str, Stage] = {
    Status.INVESTIGATING: Stage.INVESTIGATING, Status.IDENTIFIED: Stage.IDENTIFIED, Status.MONITORING: Stage.MONITORING,
    Status.RESOLVED: Stage.RESOLVED, Status.CLOSED: Stage.RESOLVED,
}
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def default_stage(incident: Incident) -> str:
    """The stage that matches the incident's status."""
    return STAGE_OF_STATUS.get(incident.status, Stage.INVESTIGATING)


def prefill(
    incident: Incident, playbook: Playbook | None, previous: Statement | None, *, language: str,
    now: datetime, cadence_minutes: float | None,
) -> dict[str, Any]:
    """Start from the last version's facts, else from the playbook's hints; next update from the cadence."""
    if previous is not None:
        facts = {key: previous.facts.get(key, "") for key in FIELDS}
    else:
        hints = playbook.statement if playbook else None
        facts = {
            "what_happened": hints.impact.get(language) if hints else "",
            "affected": hints.affected.get(language) if hints else "",
            "doing": "",
            "customer_action": hints.customer_action.get(language) if hints else "",
            "compensation": "",
            "data_lost": DataLost.UNKNOWN if incident.playbook in ("data-breach", "cyber-attack") else DataLost.NO,
            "data_detail": "",
        }
    facts["next_update_at"] = (now + timedelta(minutes=cadence_minutes)).isoformat() if cadence_minutes else ""
    return facts


def compensation_options(playbook: Playbook | None, language: str) -> list[str]:
    """The playbook's compensation options, offered as a hint in the form."""
    return [option.get(language) for option in playbook.statement.compensation] if playbook else []


def parse_time(text: str, tz: ZoneInfo) -> datetime | None:
    """`2026-11-22 09:30` (or with seconds) in the team's zone; None when it is not such a time."""
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    return None


def show_time(moment: datetime, tz: ZoneInfo, language: str, now: datetime) -> str:
    """The next update as the public reads it: `09:30` today, else with the date (and the year, in another year)."""
    local, today = moment.astimezone(tz), now.astimezone(tz).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if local.year != today.year:
        return t("statement.time.other_year", language, at=local)
    return t("statement.time.other_day", language, at=local)
