"""Who holds which role in an incident (统一指挥): one holder per role, one person may hold several."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import timeline
from bot.db import lock_row, utcnow
from bot.i18n import has, t
from bot.models import Incident, RoleAssignment
from bot.vocabulary import Role


def role_name(role: str, language: str) -> str:
    """A role as people call it, in the incident's language (`role.<role>`); a role without a name as it is."""
    return t(f"role.{role}", language) if has(f"role.{role}") else role



async def holders(session: AsyncSession, incident_id: int) -> dict[str, str]:
    """Current holder of each filled role."""
    result = await session.exec(
        select(RoleAssignment).where(
            RoleAssignment.incident_id == incident_id, col(RoleAssignment.ended_at).is_(None)
        )
    )
    return {row.role: row.user_id for row in result.all()}


def handover_text(role: str, previous: str | None, user_id: str) -> str:
    """The timeline line of a role changing hands (or given for the first time)."""
    return f"{role}: " + (f"<@{previous}> → " if previous else "") + f"<@{user_id}>"


async def _current(session: AsyncSession, incident_id: int, role: str) -> RoleAssignment | None:
    """The open turn of `role`: its current holder's row."""
    result = await session.exec(select(RoleAssignment).where(
        RoleAssignment.incident_id == incident_id, RoleAssignment.role == role, col(RoleAssignment.ended_at).is_(None)))
    return result.first()


async def assign(
    session: AsyncSession, incident_id: int, role: str, user_id: str, *, by: str
) -> str | None:
    """Give `role` to `user_id`, ending the previous holder's turn; returns that previous holder."""
    if not Role.known(role):
        raise ValueError(f"unknown role {role!r}")
    # Two handovers of one role at once (two replicas, two people) take turns: the later one ends the
    # earlier one's turn instead of both ending the same holder and leaving two open rows.
    await lock_row(session, Incident, incident_id)
    current = await _current(session, incident_id, role)
    if current and current.user_id == user_id:
        return user_id
    now = utcnow()
    previous = None
    if current:
        previous = current.user_id
        current.ended_at = now
        session.add(current)
    session.add(
        RoleAssignment(
            incident_id=incident_id, role=role, user_id=user_id, assigned_by=by, assigned_at=now
        )
    )
    timeline.record(
        session,
        incident_id,
        "role_assigned",
        actor=by,
        text=handover_text(role, previous, user_id),
        data={"role": role, "user": user_id, "previous": previous},
        at=now,
    )
    return previous


async def end(session: AsyncSession, incident_id: int, role: str, *, by: str) -> str | None:
    """End the current holder's turn with nobody after them (an assignment undone); returns who held it."""
    await lock_row(session, Incident, incident_id)
    current = await _current(session, incident_id, role)
    if current is None:
        return None
    current.ended_at = utcnow()
    session.add(current)
    timeline.record(session, incident_id, "role_unassigned", actor=by, text=f"{role}: <@{current.user_id}> ✗",
                    data={"role": role, "user": current.user_id}, at=current.ended_at)
    return current.user_id
