"""What every outbox operation shares: its environment, its outcome, and idempotent posting."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import roles
from bot.config import OutletWebhook
from bot.deployment import Learned, not_started
from bot.models import Incident, SlackOp
from bot.playbooks import Playbook

OP_EVENT_TYPE = "yingji_op"
GAVE_UP = "slack_gave_up"  # the event of an operation (or a part of one) Slack refused for good, on its owner's timeline


class Blocked(Exception):
    """An operation needs the result of one that has not succeeded (no channel yet, no header)."""


@dataclass
class SlackEnv:
    """What operations need besides the incident: the client and the deployment's choices."""

    client: AsyncWebClient
    tz: ZoneInfo
    channel_prefix: str
    playbook_name: Callable[[str, str], str]
    sessions: async_sessionmaker[AsyncSession]
    playbooks: dict[str, Playbook]
    channel_taken: Callable[[str, int], Awaitable[bool]]
    tell: Callable[[Incident, str], Coroutine[Any, Any, None]]  # an async function: the runner spawns it as a task
    schedule: Callable[[str, datetime, str, int], Awaitable[None]]
    unschedule: Callable[[str], Awaitable[None]]
    outlet_webhooks: dict[str, OutletWebhook] = field(default_factory=dict)
    webhook_backoff: float = 0.5
    cadence_of: Callable[[str, str], float | None] = lambda severity, playbook: None
    escalate_of: Callable[[str], float | None] = lambda severity: None
    archive_after_days: float = 7
    escalation: list[str] = field(default_factory=list)
    legal_approvers: list[str] = field(default_factory=list)
    deployment: Learned = not_started
    roles_of: Callable[[str, Iterable[str]], list[str]] = lambda playbook, held: roles.of_incident(None, (), held)  # an incident's roles

    @property
    def bot_user_id(self) -> str:
        return self.deployment().bot_user_id

    @property
    def announce_channel_id(self) -> str | None:
        return self.deployment().announce_channel_id

    @property
    def leadership_channel_id(self) -> str | None:
        return self.deployment().leadership_channel_id


@dataclass
class Outcome:
    """What an operation changed: incident fields to store and the timeline event to write."""

    updates: dict[str, Any] = field(default_factory=dict)
    event: str | None = None
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    apply: Callable[[AsyncSession], Awaitable[None]] | None = None


Operation = Callable[[SlackEnv, Incident, SlackOp], Awaitable[Outcome]]


def need_channel(incident: Incident) -> str:
    if not incident.channel_id:
        raise Blocked("the incident channel does not exist yet")
    return incident.channel_id


def op_metadata(op: SlackOp, part: int = 0) -> dict[str, Any]:
    """Message metadata naming the operation (and which of its messages), so a retry can find what it posted."""
    return {"event_type": OP_EVENT_TYPE, "event_payload": {"op": op.id, "part": part}}


async def already_posted(env: SlackEnv, channel: str, op: SlackOp, part: int = 0) -> str | None:
    """The ts of a message an earlier attempt of `op` posted, if it got through before failing."""
    if op.attempts <= 1:
        return None
    history = await env.client.conversations_history(channel=channel, limit=100, include_all_metadata=True)
    for message in history.get("messages") or []:
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("op") == op.id and payload.get("part", 0) == part:
            return str(message["ts"])
    return None


async def current_holders(env: SlackEnv, incident_id: int) -> dict[str, str]:
    """Who holds each role now, read fresh for rendering."""
    async with env.sessions() as session:
        return await roles.holders(session, incident_id)


async def dm(env: SlackEnv, user_id: str, text: str, op: SlackOp) -> str:
    """Send a direct message once: a retried attempt first looks for the message it may have sent."""
    if op.attempts > 1:
        im = await env.client.conversations_open(users=user_id)
        ts = await already_posted(env, str(im["channel"]["id"]), op)
        if ts:
            return ts
    response = await env.client.chat_postMessage(channel=user_id, text=text, metadata=op_metadata(op))
    return str(response["ts"])
