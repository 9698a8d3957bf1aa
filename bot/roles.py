"""Who holds which role in an incident (统一指挥): one holder per role, one person may hold several."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import timeline
from bot.config import ROLES
from bot.db import utcnow
from bot.models import RoleAssignment


async def holders(session: AsyncSession, incident_id: int) -> dict[str, str]:
    """Current holder of each filled role."""
    result = await session.exec(
        select(RoleAssignment).where(
            RoleAssignment.incident_id == incident_id, col(RoleAssignment.ended_at).is_(None)
        )
    )
    return {row.role: row.user_id for row in result.all()}


async def assign(
    session: AsyncSession, incident_id: int, role: str, user_id: str, *, by: str
) -> str | None:
    """Give `role` to `user_id`, ending the previous holder's turn; returns that previous holder."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    result = await session.exec(
        select(RoleAssignment).where(
            RoleAssignment.incident_id == incident_id,
            RoleAssignment.role == role,
            col(RoleAssignment.ended_at).is_(None),
        )
    )
    current = result.first()
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
        text=f"{role}: <@{user_id}>",
        data={"role": role, "user": user_id, "previous": previous},
        at=now,
    )
    return previous
