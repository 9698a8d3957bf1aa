"""Who is told when Slack refuses an operation for good: one decision, by whose work the operation is (its owner).

An incident's declarer, and whoever asked for the operation, read what Slack did not do and how to finish it. A
maintenance window's refusal goes on the window's own timeline in the transaction that gives the operation up (so
a retry of the request or a replay after a crash never records it twice), and its drafter is told by DM. The
deployment's own work (the daily digest) has nobody to tell: it is logged at WARNING and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import maintenance as windows
from bot import timeline
from bot.i18n import t
from bot.metrics import OUTBOX_UNTOLD
from bot.models import Incident, Maintenance, SlackOp
from bot.slack.notify import tell_person
from bot.slack.ops import OWNERS, SlackEnv
from bot.slack.ops.base import GAVE_UP
from bot.slack.text import channel_link
from bot.vocabulary import Language, OpOwner

log = logging.getLogger(__name__)

Failure = tuple[SlackOp, str]  # an operation given up, and Slack's error code


@dataclass(frozen=True)
class Owner:
    """Whose work an operation is: an incident or a maintenance window (with its id), or the workspace (no id)."""

    kind: OpOwner
    id: int | None = None


def owner_of(op: SlackOp) -> Owner:
    """The owner its kind declares (bot/slack/ops OWNERS), found on the operation; the workspace when it names none."""
    declared = OWNERS.get(op.kind, OpOwner.WORKSPACE)
    if declared is OpOwner.INCIDENT and op.incident_id is not None:
        return Owner(declared, op.incident_id)
    window = op.args.get("maintenance_id")
    if declared is OpOwner.WINDOW and isinstance(window, int):
        return Owner(declared, window)
    return Owner(OpOwner.WORKSPACE)


async def record(session: AsyncSession, op: SlackOp, error: str) -> None:
    """In the transaction that gives `op` up: what its owner keeps of the refusal (a window's timeline event)."""
    owner = owner_of(op)
    if owner.kind is not OpOwner.WINDOW or owner.id is None:
        return
    if await session.get(Maintenance, owner.id) is None:
        log.warning("op %s %s gave up (%s) for maintenance window %s, which no longer exists",
                    op.id, op.kind, error, owner.id)
        return
    windows.record(session, owner.id, GAVE_UP, actor=timeline.BOT_ACTOR, text=f"{op.kind}: {error}",
                   data={"op": op.kind, "op_id": op.id, "error": error})


class Teller:
    """Tells each owner's people, once the refusals are committed, what Slack would not do."""

    def __init__(self, env: SlackEnv, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.env = env
        self.sessions = sessions
        self.by_owner: dict[OpOwner, Callable[[int | None, list[Failure]], Awaitable[None]]] = {
            OpOwner.INCIDENT: self._incident, OpOwner.WINDOW: self._window, OpOwner.WORKSPACE: self._nobody}

    async def tell(self, failures: list[Failure]) -> None:
        """One message per owner, naming everything of theirs Slack refused in this drain."""
        grouped: dict[Owner, list[Failure]] = {}
        for op, error in failures:
            grouped.setdefault(owner_of(op), []).append((op, error))
        for owner, theirs in grouped.items():
            await self.by_owner[owner.kind](owner.id, theirs)

    async def _incident(self, incident_id: int | None, failures: list[Failure]) -> None:
        """Tell the declarer plainly what Slack did not do, and how to finish it; and whoever asked for one
        of those operations (a role handed over by someone else), who would otherwise wait for it in vain."""
        async with self.sessions() as session:
            incident = await session.get(Incident, incident_id)
        if incident is None:
            return
        await self.env.tell(incident, _incident_text(incident, failures))
        askers: dict[str, list[Failure]] = {}
        for op, error in failures:
            by = op.args.get("by")
            if by and by not in (incident.declared_by, timeline.BOT_ACTOR):
                askers.setdefault(str(by), []).append((op, error))
        for user, theirs in askers.items():
            url = next((op.args["response_url"] for op, _ in theirs if op.args.get("response_url")), None)
            await tell_person(self.env.client, user, _incident_text(incident, theirs), response_url=url)

    async def _window(self, window_id: int | None, failures: list[Failure]) -> None:
        """Tell the window's drafter by DM what Slack would not do for it, with Slack's code, and what they can do."""
        async with self.sessions() as session:
            window = await session.get(Maintenance, window_id)
        if window is None:  # deleted since: its refusal was logged when it was given up
            return
        lang = next((str(op.args["language"]) for op, _ in failures if op.args.get("language")), Language.ZH)
        what = ", ".join(dict.fromkeys(f"{t(f'op.{op.kind}', lang)} ({error})" for op, error in failures))
        await tell_person(self.env.client, window.drafted_by, t(
            "gave_up.window", lang, n=window.id, what=what, channel=channel_link(window.channel_id)))

    async def _nobody(self, _: int | None, failures: list[Failure]) -> None:
        """The deployment's own work: nobody asked for it, so it is logged and counted where operators look."""
        for op, error in failures:
            log.warning("op %s %s gave up with nobody to tell: %s", op.id, op.kind, error)
            OUTBOX_UNTOLD.labels(op.kind).inc()


def _incident_text(incident: Incident, failures: list[Failure]) -> str:
    """What Slack did not do, the error, and `/incident repair` to finish it."""
    lang = incident.language
    what = ", ".join(t(f"op.{op.kind}", lang) for op, _ in failures if op.kind != "tell_declarer_ready")
    return t("declare.slack_gave_up", lang, key=incident.key, what=what, error=failures[0][1])
