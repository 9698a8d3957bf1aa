"""What a subcommand receives (the invocation) and what it gives back (the reply)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import Block

from bot.flows.base import Actor, Result
from bot.runtime import Runtime

Flow = Callable[..., Awaitable[Result]]
Job = Callable[[], Coroutine[Any, Any, Any]]  # work started after the ack: an async function (spawned as a task)


@dataclass(frozen=True)
class Invocation:
    """One `/incident …` as Slack sent it, with the text unescaped."""

    rt: Runtime
    user_id: str
    channel_id: str
    text: str
    response_url: str | None
    trigger_id: str | None

    @property
    def language(self) -> str:
        """The language replies are written in."""
        return self.rt.language

    @property
    def actor(self) -> Actor:
        """Who typed it, where, and the key that makes Slack's retry of it (same trigger) change nothing."""
        return Actor(self.user_id, self.channel_id, f"slash:{self.trigger_id}" if self.trigger_id else None,
                     self.response_url)


@dataclass
class Reply:
    """The ack's ephemeral message, and work to start once the ack is sent."""

    text: str
    blocks: list[Block] | None = None
    after: list[Job] = field(default_factory=list)
    settled: bool = False  # the change marked its stored command answered itself (see intake.settle)

    def ack_kwargs(self) -> dict[str, Any]:
        """Arguments for bolt's ack(): always private to the person who typed the command."""
        if not self.text and not self.blocks:
            return {}
        kwargs: dict[str, Any] = {"text": self.text, "response_type": "ephemeral"}
        if self.blocks:
            kwargs["blocks"] = [block.to_dict() for block in self.blocks]
        return kwargs


def start_work(rt: Runtime, incident_id: int | None) -> list[Job]:
    """Follow-up work for a Reply: once the ack is sent, run the incident's queued Slack operations."""

    async def start() -> None:
        rt.runner.kick(incident_id)

    return [start]


async def run(rt: Runtime, flow: Flow, *args: Any, **kwargs: Any) -> Result:
    """Run one flow in its own session; the flow commits what it did."""
    async with rt.sessions() as session:
        return await flow(session, rt.context, *args, **kwargs)


def answer(rt: Runtime, result: Result) -> Reply:
    """A flow's answer as a reply; its Slack work starts after the ack when it changed something."""
    return Reply(text=result.text, after=start_work(rt, result.incident_id) if result.done else [])
