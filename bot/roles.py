"""Who holds which role in an incident (统一指挥): one holder per role, one person may hold several.

Which roles an incident has (`of_incident`), everywhere they are listed — the header's roles block, `/incident
roles`, the Assign roles form, the summary and the review — and the roles `/incident role` accepts:
- the five core roles (CORE_ROLES), for every incident whatever its playbook lists, as before;
- then the other roles its playbook's `roles:` lists: the optional built-in ones (`ops`, `finance`) and the
  deployment's own (yingji.yaml `roles:`);
- then the ones yingji.yaml gives a default holder for that playbook (`default_roles`, `playbook_roles`):
  that is the deployment asking for them;
- and any role someone holds now, so a holder is never hidden (a playbook or yingji.yaml changed since).
Beyond the core five they come in the canonical order (Role's, then yingji.yaml's). Any other role is refused
with this list. A deployment role's name comes from yingji.yaml (`configure`), a built-in one's from the
catalogs (`role.<role>`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import timeline
from bot.db import lock_row, utcnow
from bot.i18n import has, t
from bot.models import Incident, RoleAssignment
from bot.vocabulary import CORE_ROLES, Role

if TYPE_CHECKING:
    from bot.playbooks import Playbook

# The deployment's own roles (yingji.yaml `roles:`): id -> language -> name. Set whole at start-up.
_DEPLOYMENT: dict[str, dict[str, str]] = {}


def configure(names: Mapping[str, Mapping[str, str]]) -> None:
    """Make the deployment's own roles known, with their names (replacing any configured before)."""
    _DEPLOYMENT.clear()
    _DEPLOYMENT.update({role: dict(by_language) for role, by_language in names.items()})


def known(role: str) -> bool:
    """Whether `role` is a role of this deployment: a built-in one or one yingji.yaml adds."""
    return Role.known(role) or role in _DEPLOYMENT


def all_roles() -> list[str]:
    """Every role of this deployment, in the canonical order."""
    return [*Role, *_DEPLOYMENT]


def role_name(role: str, language: str) -> str:
    """A role as people call it, in the incident's language: a deployment role by the name yingji.yaml gives it,
    a built-in one by the catalogs' `role.<role>`; a role without a name as it is."""
    if role in _DEPLOYMENT:
        names = _DEPLOYMENT[role]
        return names.get("zh" if language.lower().startswith("zh") else "en") or role
    return t(f"role.{role}", language) if has(f"role.{role}") else role


def of_incident(playbook: Playbook | None, configured: Iterable[str] = (), held: Iterable[str] = ()) -> list[str]:
    """The roles of one incident (see the module's docstring): the core five, then those its playbook lists,
    those yingji.yaml gives a holder for it (`configured`) and those held now (`held`)."""
    extra = {role for role in (*(playbook.roles if playbook else ()), *configured, *held) if role not in CORE_ROLES}
    order = all_roles()
    return [*CORE_ROLES, *sorted(extra, key=lambda role: (order.index(role) if role in order else len(order), role))]


def listing(roles: Iterable[str], language: str) -> str:
    """Roles as a reply lists them: "`ops` (Ops), `finance` (Finance)"."""
    return ", ".join(f"`{role}` ({role_name(role, language)})" for role in roles)



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
    if not known(role):
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
