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
