"""The facts a statement is built from: prefilled from the incident and its playbook, edited by people."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import t
from bot.models import Incident, Statement
from bot.playbooks import Playbook
from bot.statements.render import data_status
from bot.vocabulary import STATED_STATES, ComponentState, DataHarm, DataStatus, Stage, Status, Tone

# What people edit in the form (and what a version stores, with `next_update_at`).
FIELDS = ("headline", "what_happened", "affected", "doing", "customer_action", "compensation", "data", "data_harms",
          "data_detail")
STAGE_OF_STATUS: dict[str, Stage] = {
    Status.INVESTIGATING: Stage.INVESTIGATING, Status.IDENTIFIED: Stage.IDENTIFIED, Status.MONITORING: Stage.MONITORING,
    Status.RESOLVED: Stage.RESOLVED, Status.CLOSED: Stage.RESOLVED,
}
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def default_stage(incident: Incident) -> str:
    """The stage that matches the incident's status."""
    return STAGE_OF_STATUS.get(incident.status, Stage.INVESTIGATING)


def from_playbook(playbook: Playbook | None, language: str, stage: str = Stage.INVESTIGATING) -> dict[str, Any]:
    """The facts a playbook gives before anybody edits them: its words for what customers notice, what we do and
    what they should do; nothing about personal data (unknown) and no compensation, which only a person decides.
    Its `doing` says what we are doing while the incident runs, so a resolved statement does not start with it."""
    hints = playbook.statement if playbook else None
    words = {name: getattr(hints, name).get(language) if hints else ""
             for name in ("headline", "what_happened", "doing", "customer_action")}
    if stage == Stage.RESOLVED:
        words["doing"] = ""
    affected = hints.affected.get(language) if hints and hints.affected else ""
    components = {component: "" for component in playbook.components} if playbook else {}  # chosen, but no state
    return {**words, "affected": affected, "compensation": "", "data": DataStatus.UNKNOWN, "data_harms": [],
            "data_detail": "", "components": components}


def voice(playbook: Playbook | None, language: str) -> dict[str, Any]:
    """How the playbook's kind of incident speaks: its tone and its own support questions (not edited in the form)."""
    if playbook is None:
        return {"tone": Tone.SERVICE, "qa": []}
    hints = playbook.statement
    return {"tone": hints.tone, "qa": [[item.q.get(language), item.a.get(language)] for item in hints.qa]}


def stored(facts: dict[str, Any]) -> dict[str, Any]:
    """A version's facts as the form shows them, including versions stored before data status existed (their
    `data_lost` is read as bot.statements.render.data_status reads it: an old default "no" is unknown)."""
    values: dict[str, Any] = {name: str(facts.get(name) or "") for name in FIELDS if name not in ("data", "data_harms")}
    harms = facts.get("data_harms")
    values["data_harms"] = [h for h in harms if DataHarm.known(h)] if isinstance(harms, list) else []
    values["data"] = data_status(facts)
    values["components"] = components_of(facts)
    return values


def components_of(facts: Mapping[str, Any]) -> dict[str, str]:
    """A version's status-page components, each with the state a person chose for it ({} when it names none)."""
    given = facts.get("components")
    if not isinstance(given, Mapping):
        return {}
    return {str(component): str(state) for component, state in given.items() if ComponentState.known(state)}


def choose_components(chosen: Sequence[str], state: str, known: Sequence[str], lang: str) -> dict[str, str] | tuple[str, str]:
    """The components a person ticked on the form, each in the one state they picked; the bot never assumes a state,
    so components without one are refused (as (form field, why)). A state with no component says nothing: ignored."""
    unknown = [component for component in chosen if component not in known]
    if unknown:
        return "components", t("status_page.form.unknown_component", lang, components=", ".join(unknown))
    if not chosen:
        return {}
    if not state:
        return "component_state", t("status_page.form.state_needed", lang)
    if state not in STATED_STATES:
        return "component_state", t("status_page.form.state_unknown", lang)
    return dict.fromkeys(chosen, state)


def prefill(
    incident: Incident, playbook: Playbook | None, previous: Statement | None, *, language: str,
    now: datetime, cadence_minutes: float | None, stage: str | None = None,
) -> dict[str, Any]:
    """Start from the last version's facts, else from the playbook's; next update from the cadence."""
    stage = stage or default_stage(incident)
    facts = stored(previous.facts) if previous is not None else from_playbook(playbook, language, stage)
    facts["next_update_at"] = (now + timedelta(minutes=cadence_minutes)).isoformat() if cadence_minutes else ""
    return facts


def compensation_options(playbook: Playbook | None, language: str) -> list[str]:
    """The playbook's compensation options, offered as a hint in the form."""
    return [option.get(language) for option in playbook.statement.compensation] if playbook else []


def where_updates(public_updates: dict[str, str], language: str) -> str:
    """Where the public finds the next update: the deployment's page (yingji.yaml `public_updates`), else this notice."""
    return (public_updates.get(language) or "").strip() or t("statement_facts.where", language)


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
