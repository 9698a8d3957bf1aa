"""Slash commands answered after the ack: stored before an empty ack when they may change something, answered by
response_url, answered at the next start when a stop came between the two, and every subcommand classified."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import SQLModel, select, text

import commands
from bot.flows import notes
from bot.intake import Command
from bot.models import Intake, TimelineEvent
from commands.router import HANDLERS, IN_ACK, READS
from tests.helpers import declare
from yingji.local import LocalStack

NOTE = "note 切换到备用通道 B"


async def _intake(stack: LocalStack, word: str | None = "note") -> list[Intake]:
    """The stored commands (of one subcommand: the declaration that set the scene is stored too)."""
    async with stack.rt.sessions() as session:
        rows = (await session.exec(select(Intake).order_by(Intake.received_at))).all()
    return [row for row in rows if word is None or row.text.split(maxsplit=1)[0] == word]


async def _notes(stack: LocalStack, incident_id: int) -> list[str]:
    async with stack.rt.sessions() as session:
        rows = await session.exec(select(TimelineEvent.text).where(
            TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "note"))
        return list(rows.all())


def _answers(stack: LocalStack, response_url: str | None) -> list[dict[str, Any]]:
    rid = (response_url or "").rsplit("/", 1)[-1]
    return [entry["body"] for entry in stack.sandbox.responses if entry["response_id"] == rid]


async def test_a_note_is_stored_before_an_empty_ack_and_answered_after_it(stack: LocalStack,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    incident = await declare(stack)
    assert incident.id is not None
    release = asyncio.Event()
    add_note = notes.add_note

    async def held(*args: Any, **kwargs: Any) -> Any:
        await release.wait()
        return await add_note(*args, **kwargs)

    monkeypatch.setattr(notes, "add_note", held)
    stack.actor.answer_wait = 0
    reply = await stack.actor.slash("/incident", NOTE, user_id=stack.users["zhang.wei"], channel_id=incident.channel_id)
    # Acknowledged while the note's work has not even begun: what was acknowledged is already stored.
    assert reply.status == 200 and reply.body == ""
    [stored] = await _intake(stack)
    assert (stored.key, stored.text, stored.answered_at) == (f"slash:{reply.trigger_id}", NOTE, None)
    assert await _notes(stack, incident.id) == []
    release.set()
    await stack.settle()
    assert await _notes(stack, incident.id) == ["切换到备用通道 B"]
    [answer] = _answers(stack, reply.response_url)
    assert "INC-1" in answer["text"] and answer["response_type"] == "ephemeral"
    [stored] = await _intake(stack)
    assert stored.answered_at is not None


async def test_slacks_retry_of_a_stored_command_is_answered_once(stack: LocalStack) -> None:
    incident = await declare(stack)
    assert incident.id is not None
    reply = await stack.actor.slash("/incident", NOTE, user_id=stack.users["zhang.wei"], channel_id=incident.channel_id)
    again = await stack.actor.replay(retry_num=1)
    await stack.settle()
    assert again.status == 200 and again.body == ""
    assert await _notes(stack, incident.id) == ["切换到备用通道 B"]
    assert len(_answers(stack, reply.response_url)) == 1 and len(await _intake(stack)) == 1


async def test_a_command_stored_but_never_answered_is_answered_at_the_next_start(stack: LocalStack) -> None:
    incident = await declare(stack)
    assert incident.id is not None and incident.channel_id is not None
    url = stack.sandbox.new_response_url(incident.channel_id, stack.users["zhang.wei"])
    command = Command("slash:crashed-before-the-answer", stack.users["zhang.wei"], incident.channel_id, NOTE, url,
                      "crashed-before-the-answer")
    assert await stack.rt.commands.submit(command) is True  # stored and acknowledged; then the process stopped
    assert await commands.answer_unanswered(stack.rt) == 1
    await stack.settle()
    assert await _notes(stack, incident.id) == ["切换到备用通道 B"]
    assert "INC-1" in _answers(stack, url)[0]["text"]
    assert await commands.answer_unanswered(stack.rt) == 0
    # Stopped after the note was recorded but before the answer was marked: answered again, recorded once.
    async with stack.rt.sessions() as session:
        await session.exec(text("UPDATE intake SET answered_at = NULL WHERE key = 'slash:crashed-before-the-answer'"))  # type: ignore[call-overload]
        await session.commit()
    assert await commands.answer_unanswered(stack.rt) == 1
    await stack.settle()
    assert await _notes(stack, incident.id) == ["切换到备用通道 B"]
    assert len(_answers(stack, url)) == 2


async def test_every_subcommand_that_may_change_something_is_stored_before_its_ack(stack: LocalStack) -> None:
    incident = await declare(stack)
    stack.actor.answer_wait = 0
    stored = sorted(set(HANDLERS) - IN_ACK - READS)
    assert {"declare", "drill", "note", "done", "role", "status", "resolve", "close", "severity", "statement", "summary",
            "repair"} <= set(stored)
    for word in stored:
        reply = await stack.actor.slash("/incident", word, user_id=stack.users["zhang.wei"], channel_id=incident.channel_id)
        assert reply.status == 200 and reply.body == "", word
        assert f"slash:{reply.trigger_id}" in {row.key for row in await _intake(stack, None)}, word
    await stack.settle()
    assert all(row.answered_at is not None for row in await _intake(stack, None))


async def _everything(stack: LocalStack) -> dict[str, list[tuple[Any, ...]]]:
    async with stack.rt.sessions() as session:
        connection = await session.connection()
        return {table.name: sorted(map(tuple, (await connection.execute(table.select())).all()), key=repr)
                for table in SQLModel.metadata.sorted_tables}


async def test_reads_answered_after_the_ack_change_nothing_and_are_not_stored(stack: LocalStack) -> None:
    incident = await declare(stack)
    before = await _everything(stack)
    for word in sorted(READS):
        reply = await stack.actor.slash("/incident", word, user_id=stack.users["zhang.wei"], channel_id=incident.channel_id)
        await stack.settle()
        assert reply.status == 200 and reply.body == "" and reply.text, word
    assert await _everything(stack) == before


async def test_help_and_unknown_subcommands_are_answered_in_the_ack(stack: LocalStack) -> None:
    for text_ in ("help", "", "nonsense"):
        reply = await stack.actor.slash("/incident", text_, user_id=stack.users["zhang.wei"],
                                        channel_id=stack.channels["general"])
        assert reply.status == 200 and reply.json and reply.json["text"], text_
    await stack.settle()
    assert await _intake(stack, None) == []


async def test_a_declaration_is_stored_before_its_empty_ack_and_told_its_key_after(stack: LocalStack) -> None:
    reply = await stack.actor.slash("/incident", "declare sev3 payment-failure 退款接口超时", user_id=stack.users["zhang.wei"],
                                    channel_id=stack.channels["general"])
    await stack.settle()
    assert reply.status == 200 and reply.body == "" and "INC-1" in reply.text
    [stored] = await _intake(stack, "declare")
    assert stored.key == f"slash:{reply.trigger_id}" and stored.answered_at is not None


async def test_a_command_another_replica_stored_a_moment_ago_is_not_new(stack: LocalStack,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Slack's retry delivered to another replica: both look, neither sees the other's row, both insert; the one
    whose insert fails on the key acks empty and leaves the answer to the other (no 'oops', nothing twice)."""
    from bot import intake

    first = Command("slash:T-race", stack.users["zhang.wei"], "C1", NOTE, None, "T-race")
    other = Command("slash:T-other", stack.users["zhang.wei"], "C1", NOTE, None, "T-other")
    assert await stack.rt.commands.submit(first) is True  # the other replica's row
    monkeypatch.setattr(intake, "STORED", "SELECT key FROM intake WHERE key IN :keys AND 1 = 0")  # looked too early
    assert await stack.rt.commands.submit(first) is False
    # Arriving together with a new command: the batch fails on the key, each is stored alone, the new one is new.
    assert await asyncio.gather(stack.rt.commands.submit(first), stack.rt.commands.submit(other)) == [False, True]
    assert sorted(row.key for row in await _intake(stack)) == ["slash:T-other", "slash:T-race"]
