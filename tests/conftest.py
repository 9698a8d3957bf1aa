"""Fixtures: a local Slack sandbox and the bot running against it on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.models import Incident, TimelineEvent
from yingji.local import LocalStack

StackFactory = Callable[..., Awaitable[LocalStack]]


@pytest.fixture
async def make_stack(tmp_path: Path) -> AsyncIterator[StackFactory]:
    """Start stacks on demand (with options); all are stopped at the end of the test."""
    stacks: list[LocalStack] = []

    async def factory(**options: Any) -> LocalStack:
        stack = await LocalStack.start(tmp_path / f"stack{len(stacks)}", **options)
        stacks.append(stack)
        return stack

    yield factory
    for stack in stacks:
        await stack.stop()


@pytest.fixture
async def stack(make_stack: StackFactory) -> LocalStack:
    """The bot and the sandbox with the default settings."""
    return await make_stack()


async def incidents_in_db(stack: LocalStack) -> list[Incident]:
    """Every incident the bot stored."""
    async with stack.rt.sessions() as session:
        return list((await session.exec(select(Incident).order_by(Incident.id))).all())


async def timeline_kinds(stack: LocalStack, incident_id: int) -> list[str]:
    """The kinds of an incident's timeline events, in order."""
    async with stack.rt.sessions() as session:
        rows = await session.exec(
            select(TimelineEvent).where(TimelineEvent.incident_id == incident_id).order_by(TimelineEvent.id)
        )
        return [row.kind for row in rows.all()]


def fast_playbooks(directory: Path, due: dict[str, dict[str, float]], extra_steps: dict[str, int] | None = None) -> Path:
    """Copies of shipped playbooks with some steps due sooner (minutes), or padded with extra steps."""
    import yaml

    from bot.playbooks import SHIPPED_DIR

    directory.mkdir(parents=True, exist_ok=True)
    for slug in set(due) | set(extra_steps or {}):
        data = yaml.safe_load((SHIPPED_DIR / f"{slug}.yaml").read_text(encoding="utf-8"))
        for step in data["steps"]:
            if step["id"] in due.get(slug, {}):
                step["due_minutes"] = due[slug][step["id"]]
        for n in range((extra_steps or {}).get(slug, 0)):
            data["steps"].append({
                "id": f"extra-{n}", "phase": "handle", "owner": "tech", "due_minutes": 600 + n,
                "title": {"zh": f"附加检查 {n}", "en": f"Extra check {n}"},
            })
        (directory / f"{slug}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return directory


async def declare(stack: LocalStack, text: str = "declare sev2 payment-failure 支付宝回调超时", user: str = "zhang.wei") -> Incident:
    """Declare from #general and wait until the incident is ready; returns it."""
    await stack.actor.slash("/incident", text, user_id=stack.users[user], channel_id=stack.channels["general"])
    await stack.settle()
    return (await incidents_in_db(stack))[-1]


async def in_channel(stack: LocalStack, incident: Incident, text: str, user: str = "zhang.wei"):
    """Run `/incident <text>` inside the incident's channel, as `user`, and let the work settle."""
    reply = await stack.actor.slash("/incident", text, user_id=stack.users[user], channel_id=incident.channel_id)
    await stack.settle()
    return reply


async def wait_for(predicate: Callable[[], object], seconds: float = 12.0) -> bool:
    """Poll until `predicate()` is true (for timers that fire on their own), at most `seconds`."""
    import asyncio

    for _ in range(int(seconds / 0.1)):
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return False
