"""Scheduled maintenance windows (a 大促 freeze, a payment-channel switch): what a valid window is, the changes to
one — drafted, edited, approved, changes requested, cancelled — each written with its MaintenanceEvent in the caller's
transaction, and when an approved window shows on the status page. Takes a session and plain values; no Slack."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import utcnow
from bot.models import Maintenance, MaintenanceEvent
from bot.vocabulary import Language, MaintenancePhase, MaintenanceStatus

TEXT_LIMIT = 500  # characters per language: a notice customers read at a glance, on a page and in a banner
LONGEST = timedelta(days=7)  # a longer freeze is a policy, not a maintenance window
GRACE = timedelta(minutes=5)  # a start picked for "now" a moment ago is not in the past
HORIZON = timedelta(days=365)  # a start further ahead is a mistyped year
REFUSED = "refused"
DRAFTED, APPROVED, CHANGES_REQUESTED, CANCELLED, EDITED = (
    "maintenance_drafted", "maintenance_approved", "maintenance_changes_requested", "maintenance_cancelled",
    "maintenance_edited")


class Problem(StrEnum):
    """Why a window cannot be drafted as given (each has its words in the catalogs, `maintenance.problem.<name>`)."""

    START_PAST = "start_past"
    TOO_FAR = "too_far"
    END_BEFORE_START = "end_before_start"
    TOO_LONG = "too_long"
    UNKNOWN_COMPONENT = "unknown_component"
    TEXT_MISSING = "text_missing"
    TEXT_TOO_LONG = "text_too_long"


@dataclass(frozen=True)
class Window:
    """A window as a person asked for it, in plain values: when, which components, and the notice per language."""

    starts_at: datetime
    ends_at: datetime
    components: tuple[str, ...]
    text: dict[str, str]


def text_field(language: str) -> str:
    """The form field that holds the notice in `language`."""
    return f"text_{language}"


def problems(window: Window, now: datetime, known: Collection[str]) -> dict[str, Problem]:
    """What is wrong with `window`, by form field (empty when nothing is): the first problem of each field."""
    found: dict[str, Problem] = {}
    if window.starts_at < now - GRACE:
        found["starts_at"] = Problem.START_PAST
    elif window.starts_at > now + HORIZON:
        found["starts_at"] = Problem.TOO_FAR
    if window.ends_at <= window.starts_at:
        found["ends_at"] = Problem.END_BEFORE_START
    elif window.ends_at - window.starts_at > LONGEST:
        found["ends_at"] = Problem.TOO_LONG
    if any(component not in known for component in window.components):
        found["components"] = Problem.UNKNOWN_COMPONENT
    for language in Language:
        notice = window.text.get(language, "")
        if not notice.strip():
            found[text_field(language)] = Problem.TEXT_MISSING
        elif len(notice) > TEXT_LIMIT:
            found[text_field(language)] = Problem.TEXT_TOO_LONG
    return found


def phase(window: Maintenance, now: datetime) -> str:
    """Where the window stands at `now`: scheduled before its start, active from its start, completed from its end."""
    if now < window.starts_at:
        return MaintenancePhase.SCHEDULED
    if now < window.ends_at:
        return MaintenancePhase.ACTIVE
    return MaintenancePhase.COMPLETED


async def shown(session: AsyncSession, since: datetime) -> list[Maintenance]:
    """What the status page shows: approved windows ending after `since`, by start."""
    result = await session.exec(
        select(Maintenance)
        .where(Maintenance.status == MaintenanceStatus.APPROVED, col(Maintenance.ends_at) > since)
        .order_by(col(Maintenance.starts_at), col(Maintenance.id))
    )
    return list(result.all())


async def upcoming(session: AsyncSession, now: datetime) -> list[Maintenance]:
    """Drafts and approved windows not over yet, by start: what someone may still approve or cancel."""
    result = await session.exec(
        select(Maintenance)
        .where(col(Maintenance.status).in_((MaintenanceStatus.DRAFT, MaintenanceStatus.APPROVED)),
               col(Maintenance.ends_at) > now)
        .order_by(col(Maintenance.starts_at), col(Maintenance.id))
    )
    return list(result.all())


def record(session: AsyncSession, window_id: int, kind: str, *, actor: str, text: str = "",
           data: dict[str, Any] | None = None, at: datetime | None = None) -> MaintenanceEvent:
    """Add one event to the window's timeline; it is written with the change it describes."""
    event = MaintenanceEvent(maintenance_id=window_id, kind=kind, actor=actor, text=text, data=data or {},
                             at=at or utcnow())
    session.add(event)
    return event


async def refusal(session: AsyncSession, window_id: int, *, actor: str, action: str, text: str) -> MaintenanceEvent:
    """Record a refusal once per person, action and minute with a count, as an incident's timeline does (the caller
    holds the window's row, so concurrent refusals count on one event)."""
    now = utcnow()
    minute = now.replace(second=0, microsecond=0)
    earlier = await session.exec(
        select(MaintenanceEvent)
        .where(MaintenanceEvent.maintenance_id == window_id, MaintenanceEvent.kind == REFUSED,
               MaintenanceEvent.actor == actor, col(MaintenanceEvent.at) >= minute)
        .execution_options(populate_existing=True)  # the count as committed
    )
    same = next((event for event in earlier.all() if event.data.get("action") == action), None)
    if same is None:
        return record(session, window_id, REFUSED, actor=actor, text=text, data={"action": action, "count": 1}, at=now)
    same.data = {**same.data, "count": int(same.data.get("count", 1)) + 1}  # a new dict: JSON tracks no inner change
    session.add(same)
    return same


async def draft(session: AsyncSession, window: Window, *, by: str, channel: str) -> Maintenance:
    """Store a checked window as a draft awaiting comms, with its first event; `channel` is where it is reviewed."""
    now = utcnow()
    row = Maintenance(starts_at=window.starts_at, ends_at=window.ends_at, components=list(window.components),
                      text=dict(window.text), drafted_by=by, drafted_at=now, channel_id=channel)
    session.add(row)
    await session.flush()
    assert row.id is not None
    record(session, row.id, DRAFTED, actor=by, at=now,
           text=f"#{row.id} {window.starts_at.isoformat()} → {window.ends_at.isoformat()}",
           data={"starts_at": window.starts_at.isoformat(), "ends_at": window.ends_at.isoformat(),
                 "components": list(window.components), "text": dict(window.text), "channel": channel})
    return row


@dataclass(frozen=True)
class Decision:
    """What a change to a window came to: `outcome` is a flow outcome (done, unchanged, refused, invalid); `code`
    names why it was not done (`maintenance.reason.<code>`)."""

    outcome: str
    code: str = ""


DONE = Decision("done")


def approve(session: AsyncSession, window: Maintenance, *, by: str, now: datetime) -> Decision:
    """Approve a draft (the policy has checked who): a second press by its approver changes nothing; an approved,
    cancelled or past window is refused with the reason."""
    if window.status == MaintenanceStatus.APPROVED:
        return Decision("unchanged", "twice") if window.approved_by == by else Decision("refused", "already_approved")
    if window.status == MaintenanceStatus.CANCELLED:
        return Decision("refused", "cancelled")
    if window.ends_at <= now:
        return Decision("refused", "over")
    window.status, window.approved_by, window.approved_at = MaintenanceStatus.APPROVED, by, now
    session.add(window)
    record(session, window.id or 0, APPROVED, actor=by, at=now, text=f"#{window.id}")
    return DONE


def request_changes(session: AsyncSession, window: Maintenance, *, by: str, comment: str) -> Decision:
    """Record what a reviewer wants changed; only a draft can be changed, and the comment must say something."""
    if window.status != MaintenanceStatus.DRAFT:
        return Decision("invalid", "not_draft")
    if not comment.strip():
        return Decision("invalid", "comment_missing")
    record(session, window.id or 0, CHANGES_REQUESTED, actor=by, text=comment.strip())
    return DONE


def cancel(session: AsyncSession, window: Maintenance, *, by: str, now: datetime) -> Decision:
    """Call the window off, draft or approved; cancelled twice is once, and a window already over stays in history."""
    if window.status == MaintenanceStatus.CANCELLED:
        return Decision("unchanged", "already_cancelled")
    if window.ends_at <= now:
        return Decision("refused", "over")
    was = window.status
    window.status, window.cancelled_by, window.cancelled_at = MaintenanceStatus.CANCELLED, by, now
    session.add(window)
    record(session, window.id or 0, CANCELLED, actor=by, at=now, text=f"#{window.id}", data={"was": was})
    return DONE


def _fields(starts_at: datetime, ends_at: datetime, components: Collection[str],
            text: dict[str, str]) -> dict[str, Any]:
    """A window's values by form field, to compare an edit with what it changes."""
    return {"starts_at": starts_at, "ends_at": ends_at, "components": list(components),
            **{text_field(code): text.get(code, "") for code in Language}}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def edit(session: AsyncSession, window: Maintenance, wanted: Window, *, by: str, now: datetime) -> list[str]:
    """Make a draft what its drafter asks for now (the policy has checked who, and that it is a draft), recording
    each field's old and new value; the form fields changed, none when it already was so (nothing is written)."""
    old = _fields(window.starts_at, window.ends_at, window.components, window.text)
    new = _fields(wanted.starts_at, wanted.ends_at, wanted.components, wanted.text)
    changed = [name for name in new if new[name] != old[name]]
    if not changed:
        return []
    window.starts_at, window.ends_at = wanted.starts_at, wanted.ends_at
    window.components, window.text = list(wanted.components), dict(wanted.text)
    session.add(window)
    record(session, window.id or 0, EDITED, actor=by, at=now, text=f"#{window.id} {', '.join(changed)}",
           data={"changes": {name: {"from": _plain(old[name]), "to": _plain(new[name])} for name in changed}})
    return changed


async def latest_change_request(session: AsyncSession, window_id: int) -> MaintenanceEvent | None:
    """The newest change request on a window not yet answered by an edit, shown on its review message until it is
    answered, approved or cancelled."""
    result = await session.exec(
        select(MaintenanceEvent)
        .where(MaintenanceEvent.maintenance_id == window_id,
               col(MaintenanceEvent.kind).in_((CHANGES_REQUESTED, EDITED)))
        .order_by(col(MaintenanceEvent.at).desc(), col(MaintenanceEvent.id).desc())
    )
    newest = result.first()
    return newest if newest is not None and newest.kind == CHANGES_REQUESTED else None
