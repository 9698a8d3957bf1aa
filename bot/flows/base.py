"""What every flow shares: who acts, how a request names its incident, what a flow answers, and the gate."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from enum import StrEnum
from typing import Any, Required, TypedDict

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import deliveries, incidents, roles, timeline
from bot.config import FileConfig
from bot.db import lock_row
from bot.deployment import Learned, not_started
from bot.i18n import t
from bot.models import Incident
from bot.playbooks import Playbook
from bot.policy import Action, Refusal, Rules, Standing, decide, standing
from bot.vocabulary import Role


@dataclass(frozen=True)
class Actor:
    """Who acts, from which channel, and the key that makes a repeat of the same request change nothing."""

    user: str
    channel: str | None = None  # where a command was typed: typing in the incident's channel proves membership
    request: str | None = None  # slash:<trigger_id>, action:<trigger_id>, view:<id>:<values>, event:<event_id>
    reply_to: str | None = None  # the response_url of where they acted: what later goes wrong is told there


class Asker(TypedDict, total=False):
    """Who asked for a queued operation, and where to tell them (their keys never clash with enqueue's own)."""

    by: Required[str]
    response_url: str


def asker(actor: Actor) -> Asker:
    """Arguments for a queued operation that someone's action asked for: if Slack refuses it, the runner tells
    them where they acted, not only the declarer."""
    asked: Asker = {"by": actor.user}
    if actor.reply_to:
        asked["response_url"] = actor.reply_to
    return asked


def view_request(view_id: object, user: str, values: object) -> str | None:
    """The once-only key of a form submission: the same form sent by the same person with the same answers
    is one request (a double submit); changed answers after an error are a new one."""
    if not isinstance(view_id, str) or not view_id:
        return None
    digest = hashlib.sha256(json.dumps([user, values], sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"view:{view_id}:{digest}"


@dataclass(frozen=True)
class Ref:
    """How a request names its incident: an id (a button, a form), a key INC-n, or the channel it came from."""

    id: int | None = None
    key: str | None = None
    channel: str | None = None

    def shown(self) -> str:
        """The name the person used, for "there is no incident …"."""
        return self.key.upper()[:20] if self.key else ""


class Outcome(StrEnum):
    """How a flow ended."""

    DONE = "done"  # the change was applied
    UNCHANGED = "unchanged"  # nothing to do: it already was so
    REFUSED = "refused"  # the policy said no (recorded on the timeline)
    INVALID = "invalid"  # the values make no sense for this incident (no such step, not a draft any more)
    REPEAT = "repeat"  # the same request again: answered, nothing done twice
    NOT_FOUND = "not_found"  # no such incident, or one this person may not know exists


@dataclass(frozen=True)
class Result:
    """What a flow tells the person, and whose queued Slack work to start."""

    outcome: Outcome
    text: str = ""
    incident_id: int | None = None
    value: Any = None  # what the flow made or found, for the caller's reply (a step, a statement, a view's data)

    @property
    def done(self) -> bool:
        return self.outcome is Outcome.DONE


@dataclass
class Context:
    """The deployment's choices that flows need, set once by the runtime."""

    file: FileConfig = field(default_factory=FileConfig)
    tz: tzinfo = UTC
    playbooks: dict[str, Playbook] = field(default_factory=dict)
    cadence: Callable[[str, str], float | None] = lambda severity, playbook: None
    deployment: Learned = not_started
    status_page_changed: Callable[[], None] = lambda: None  # what the public page shows changed: rebuild it soon

    @property
    def bot_user_id(self) -> str:
        return self.deployment().bot_user_id

    @property
    def language(self) -> str:
        return self.file.language

    def roles_of(self, playbook: str, held: Iterable[str] = ()) -> list[str]:
        """The roles of an incident of this playbook with these roles held now (see bot/roles.py)."""
        return roles.of_incident(self.playbooks.get(playbook), self.file.holders_for(playbook), held)

    @property
    def rules(self) -> Rules:
        """Standing the deployment gives beyond the incident (configured managers and approvers)."""
        return Rules(frozenset(self.file.incident_managers),
                     {Role.COMMS: frozenset(self.file.comms_approvers), Role.LEGAL: frozenset(self.file.legal_approvers)})


def not_found(ref: Ref, language: str) -> Result:
    """The one answer for an unknown incident and for one the person may not know of: the same words."""
    if ref.key:
        return Result(Outcome.NOT_FOUND, t("flow.base.no_incident", language, key=ref.shown()))
    if ref.id is not None:
        return Result(Outcome.NOT_FOUND, t("flow.base.gone", language))
    return Result(Outcome.NOT_FOUND, t("flow.base.not_incident_channel", language))


def repeat(language: str, incident_id: int | None) -> Result:
    """A request seen before: Slack's retry, a replay, a double submit."""
    return Result(Outcome.REPEAT, t("flow.base.repeat", language), incident_id)


async def find(session: AsyncSession, ref: Ref, *, lock: bool = False) -> Incident | None:
    """The incident a request names (locked until commit when it is about to change), or None."""
    incident_id = ref.id
    if incident_id is None:
        found = await (incidents.by_key(session, ref.key) if ref.key else incidents.by_channel(session, ref.channel or ""))
        incident_id = found.id if found else None
        if not lock:
            return found
    if not incident_id:
        return None
    if lock:
        return await lock_row(session, Incident, incident_id)
    return await session.get(Incident, incident_id)


@dataclass(frozen=True)
class Entry:
    """An incident the person may act on, and who they are to it."""

    incident: Incident
    who: Standing

    @property
    def id(self) -> int:
        assert self.incident.id is not None
        return self.incident.id

    @property
    def language(self) -> str:
        return self.incident.language


async def enter(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref, action: Action, *,
                role: str | None = None, approver_roles: tuple[str, ...] = ()) -> Entry | Result:
    """The gate every flow passes: the incident (locked when it may change), once-only, and the policy.

    An incident the person may not see answers exactly as a missing one. A refusal is recorded on the
    timeline (once per person, action and minute) and told; a repeat of an accepted request does nothing.
    """
    changes = action is not Action.VIEW
    incident = await find(session, ref, lock=changes)
    if incident is None or incident.id is None:
        return not_found(ref, ctx.language)
    in_channel = actor.channel is not None and actor.channel == incident.channel_id
    who = await standing(session, incident, actor.user, ctx.rules, in_channel=in_channel)
    refusal = decide(action, who, incident.language, role=role, approver_roles=approver_roles)
    if refusal is not None and refusal.hidden:
        return not_found(ref, ctx.language)
    if changes and actor.request and not await deliveries.claim(session, actor.request):
        return repeat(incident.language, incident.id)
    if refusal is not None:
        return await refuse(session, incident, actor, action, refusal)
    return Entry(incident, who)


async def may(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref, action: Action, **policy: Any) -> Result:
    """Whether `actor` may do `action` now, without doing it (before opening its form); a refusal is
    recorded like any other. The result's value is the incident."""
    entry = await enter(session, ctx, Actor(actor.user, actor.channel, None, actor.reply_to), ref, action, **policy)
    if isinstance(entry, Result):
        return entry
    await session.commit()  # nothing was changed; this lets the incident's lock go and keeps its values readable
    return Result(Outcome.DONE, incident_id=entry.id, value=entry.incident)


async def refuse(session: AsyncSession, incident: Incident, actor: Actor, action: Action, refusal: Refusal,
                 **data: Any) -> Result:
    """Record the refusal (aggregated per person, action and minute), commit, and say why."""
    assert incident.id is not None
    await timeline.refusal(session, incident.id, actor=actor.user, action=action.value, text=refusal.text, data=data)
    await session.commit()
    return Result(Outcome.REFUSED, refusal.text, incident.id)


async def settle(session: AsyncSession, result: Result) -> Result:
    """Commit what the flow did and hand back its answer."""
    await session.commit()
    return result
