"""Who is in an incident's channel now: the bot's own invites and Slack's join and leave events keep it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Membership, RoleAssignment
from bot.timeline import BOT_ACTOR


async def join(session: AsyncSession, incident_id: int, users: Iterable[str]) -> list[str]:
    """Record people as in the channel (a repeat is harmless); returns those who were not yet."""
    present = await members(session, [incident_id])
    joined = []
    for user in dict.fromkeys(users):
        if not user or user == BOT_ACTOR or user in present[incident_id]:
            continue
        try:
            async with session.begin_nested():  # a join event racing the invite that caused it
                session.add(Membership(incident_id=incident_id, user_id=user))
        except IntegrityError:
            continue
        joined.append(user)
    return joined


async def leave(session: AsyncSession, incident_id: int, user: str) -> bool:
    """Record that a person left (or was removed from) the channel; False if they were not in it."""
    result = await session.exec(
        delete(Membership).where(col(Membership.incident_id) == incident_id, col(Membership.user_id) == user))
    return bool(result.rowcount)


async def members(session: AsyncSession, incident_ids: list[int]) -> dict[int, set[str]]:
    """The people in each incident's channel now."""
    inside: dict[int, set[str]] = {i: set() for i in incident_ids}
    if incident_ids:
        rows = await session.exec(select(Membership).where(col(Membership.incident_id).in_(incident_ids)))
        for row in rows.all():
            inside[row.incident_id].add(row.user_id)
    return inside


async def is_member(session: AsyncSession, incident_id: int, user: str) -> bool:
    """Whether `user` is in the incident's channel now."""
    return await session.get(Membership, (incident_id, user)) is not None


async def insiders(session: AsyncSession, incident_ids: list[int]) -> dict[int, set[str]]:
    """Who may see each incident if it is private: the people in its channel and its current role holders."""
    inside = await members(session, incident_ids)
    if incident_ids:
        holding = await session.exec(select(RoleAssignment).where(
            col(RoleAssignment.incident_id).in_(incident_ids), col(RoleAssignment.ended_at).is_(None)))
        for row in holding.all():
            inside[row.incident_id].add(row.user_id)
    return inside
