"""The statement's life: draft, approve (comms, and legal where the playbook says), request changes,
edit into a new version, publish. Every step is a timeline event; approved versions are frozen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import timeline
from bot.db import lock_row, utcnow
from bot.i18n import t
from bot.models import Incident, Statement, StatementReview
from bot.vocabulary import Outlet, Role

DRAFT, APPROVED, SUPERSEDED = "draft", "approved", "superseded"


def required_roles(legal_review: bool) -> tuple[str, ...]:
    """Whose approval a statement needs: comms always, legal when the playbook asks for legal review."""
    return (Role.COMMS, Role.LEGAL) if legal_review else (Role.COMMS,)


@dataclass(frozen=True)
class Approvers:
    """Who may approve as which role: the role's current holder, or a configured approver."""

    holders: dict[str, str]
    configured: dict[str, list[str]]

    def qualifies(self, role: str, user: str) -> bool:
        return self.holders.get(role) == user or user in self.configured.get(role, [])


async def _take_turns(session: AsyncSession, incident_id: int, statement: Statement | None) -> None:
    """Changes to an incident's statements take turns (the incident row is locked until commit), and each
    then reads the version as the one before left it: two approvals at once both count and the second
    freezes the version; an edit and an approval never both win; two edits get versions n+1 and n+2."""
    await lock_row(session, Incident, incident_id)
    if statement is not None and statement.id is not None:
        await session.refresh(statement)


async def by_id(session: AsyncSession, statement_id: int) -> Statement | None:
    """One version by its id."""
    return await session.get(Statement, statement_id)


async def latest_approved(session: AsyncSession, incident_id: int) -> Statement | None:
    """The most recently approved version: what the public may be told."""
    result = await session.exec(
        select(Statement)
        .where(Statement.incident_id == incident_id, col(Statement.approved_at).is_not(None))
        .order_by(col(Statement.approved_at).desc())
    )
    return result.first()


async def approvals(session: AsyncSession, statement_id: int) -> dict[str, str]:
    """Approvals so far, role → approver."""
    result = await session.exec(
        select(StatementReview)
        .where(StatementReview.statement_id == statement_id, StatementReview.decision == "approve")
        .order_by(col(StatementReview.at))
    )
    return {review.as_role: review.reviewer for review in result.all()}


async def reviews(session: AsyncSession, statement_id: int) -> list[StatementReview]:
    """Every review of one version, oldest first."""
    result = await session.exec(
        select(StatementReview).where(StatementReview.statement_id == statement_id).order_by(col(StatementReview.at))
    )
    return list(result.all())


async def create_draft(
    session: AsyncSession,
    incident: Incident,
    *,
    stage: str,
    language: str,
    facts: dict[str, Any],
    text: str,
    outlets: dict[str, Any],
    by: str,
    edit_of: Statement | None = None,
) -> Statement:
    """A new version (n+1); an edited version is marked superseded by it."""
    assert incident.id is not None
    await _take_turns(session, incident.id, edit_of)
    latest = await session.exec(select(func.max(Statement.version)).where(Statement.incident_id == incident.id))
    version = (latest.one() or 0) + 1
    statement = Statement(
        incident_id=incident.id, version=version, stage=stage, language=language, facts=facts, text=text,
        outlets=outlets, drafted_by=by, drafted_at=utcnow(),
    )
    session.add(statement)
    await session.flush()
    if edit_of is not None:
        edit_of.superseded_by = statement.id
        if edit_of.status == DRAFT:
            edit_of.status = SUPERSEDED
        session.add(edit_of)
    timeline.record(
        session, incident.id, "statement_drafted", actor=by,
        text=f"v{version} ({stage}, {language})" + (f" ← v{edit_of.version}" if edit_of else ""),
        data={"statement": statement.id, "version": version, "stage": stage, "language": language,
              "edit_of": edit_of.version if edit_of else None, "flagged": [k for k, o in outlets.items() if o.get("over")]},
    )
    return statement


@dataclass(frozen=True)
class Decision:
    """What pressing Approve did: refused (with why), unchanged (already theirs), counted as one role, or completed it."""

    outcome: str
    role: str | None = None
    reason: str = ""
    missing: tuple[str, ...] = ()


def _reason(statement: Statement, code: str, **values: Any) -> str:
    """Why approving `statement` was refused or changed nothing (`statement.reason.<code>`), in its language."""
    return t(f"statement.reason.{code}", statement.language, v=statement.version, **values)


async def _refuse(session: AsyncSession, statement: Statement, by: str, code: str, action: str = "approve_statement",
                  **values: Any) -> Decision:
    reason = _reason(statement, code, **values)
    await timeline.refusal(session, statement.incident_id, actor=by, action=action, text=reason,
                           data={"code": code, "statement": statement.id, "version": statement.version})
    return Decision("refused", reason=reason)


async def approve(
    session: AsyncSession, statement: Statement, *, by: str, approvers: Approvers, legal_review: bool
) -> Decision:
    """Count an approval from a qualified person other than the drafter; the last one freezes the version."""
    await _take_turns(session, statement.incident_id, statement)
    given = await approvals(session, statement.id or 0)
    if by in given.values():  # a double click, or a second role asked of the same person
        return Decision("unchanged", reason=_reason(statement, "twice"))
    if statement.status != DRAFT:
        return await _refuse(session, statement, by, "not_draft")
    if by == statement.drafted_by:
        return await _refuse(session, statement, by, "own_draft")
    needed = [role for role in required_roles(legal_review) if role not in given]
    role = next((r for r in needed if approvers.qualifies(r, by)), None)
    if role is None:
        return await _refuse(session, statement, by, "not_approver", roles="/".join(needed))
    now = utcnow()
    session.add(StatementReview(statement_id=statement.id or 0, reviewer=by, as_role=role, decision="approve", at=now))
    missing = tuple(r for r in needed if r != role)
    if missing:
        timeline.record(session, statement.incident_id, "statement_approval", actor=by,
                        text=f"v{statement.version}: {role} ✓", at=now,
                        data={"statement": statement.id, "version": statement.version, "role": role, "missing": list(missing)})
        return Decision("counted", role=role, missing=missing)
    statement.status, statement.approved_at = APPROVED, now
    session.add(statement)
    timeline.record(session, statement.incident_id, "statement_approved", actor=by,
                    text=f"v{statement.version} ({statement.stage}, {statement.language})", at=now,
                    data={"statement": statement.id, "version": statement.version, "role": role,
                          "approvals": {**given, role: by}})
    return Decision("approved", role=role)


async def request_changes(session: AsyncSession, statement: Statement, *, by: str, comment: str) -> bool:
    """Record a change request on a draft; False when the version is no longer a draft."""
    await _take_turns(session, statement.incident_id, statement)
    if statement.status != DRAFT:
        return False
    session.add(StatementReview(statement_id=statement.id or 0, reviewer=by, as_role="reviewer",
                                decision="request_changes", comment=comment))
    timeline.record(session, statement.incident_id, "statement_changes_requested", actor=by,
                    text=f"v{statement.version}: {comment}", data={"statement": statement.id, "version": statement.version})
    return True


async def mark_published(session: AsyncSession, statement: Statement, *, by: str, outlets: list[str],
                         auto: bool = False) -> bool:
    """Record where an approved version went out and when; False for a version that is not approved. Published to
    the status page again after a withdrawal, it shows there again. `auto`: the status page took it at approval."""
    await _take_turns(session, statement.incident_id, statement)
    if statement.approved_at is None or not outlets:
        return False
    now = utcnow()
    statement.published_at = now
    statement.published_to = sorted(set(statement.published_to) | set(outlets))
    if Outlet.STATUS_PAGE in outlets:
        statement.withdrawn_at, statement.withdrawn_by = None, None
    session.add(statement)
    data: dict[str, Any] = {"statement": statement.id, "version": statement.version, "outlets": outlets}
    if auto:
        data["auto"] = True
    timeline.record(session, statement.incident_id, "statement_published", actor=by,
                    text=f"v{statement.version}: {', '.join(outlets)}", at=now, data=data)
    return True


async def withdraw(session: AsyncSession, statement: Statement, *, by: str) -> str:
    """Take a version off the status page: "withdrawn", "unchanged" when it already is, "not_published" when it
    never went there (or went back to being a draft, which cannot happen: approved versions are frozen)."""
    await _take_turns(session, statement.incident_id, statement)
    if Outlet.STATUS_PAGE not in statement.published_to:
        return "not_published"
    if statement.withdrawn_at is not None:
        return "unchanged"
    now = utcnow()
    statement.withdrawn_at, statement.withdrawn_by = now, by
    session.add(statement)
    timeline.record(session, statement.incident_id, "statement_withdrawn", actor=by, at=now,
                    text=f"v{statement.version}: {Outlet.STATUS_PAGE}",
                    data={"statement": statement.id, "version": statement.version, "outlet": Outlet.STATUS_PAGE})
    return "withdrawn"
