"""Slash commands answered after the ack: the ack waits for nothing but the command's storage (group-committed
with every command arriving at the same moment), then the command runs and its answer goes to the person
through the response_url Slack gave with it, as Slack's own guide to slow commands advises."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from bot import intake
from bot.i18n import t
from bot.intake import Command
from bot.runtime import Runtime
from bot.slack.notify import respond
from commands.context import Invocation, Reply
from commands.router import HANDLERS, IN_ACK, READS, dispatch, subcommand

log = logging.getLogger(__name__)


def oops(language: str) -> Reply:
    """The answer when something inside failed: nothing changed, try again."""
    return Reply(text=t("command.oops", language))


def command_of(inv: Invocation) -> Command:
    """The invocation as it is stored; Slack's retries of it share its key (slash:<trigger_id>)."""
    key = inv.actor.request or f"slash-untriggered:{uuid.uuid4().hex}"
    return Command(key, inv.user_id, inv.channel_id, inv.text, inv.response_url, inv.trigger_id)


def invocation_of(rt: Runtime, command: Command) -> Invocation:
    """A stored command as it arrived."""
    return Invocation(rt=rt, user_id=command.user_id, channel_id=command.channel_id, text=command.text,
                      response_url=command.response_url, trigger_id=command.trigger_id)


async def take(inv: Invocation) -> Reply:
    """The ack's reply: the answer itself when it is group-committed or needs no database (and for an unknown
    subcommand); otherwise nothing yet, and the answer once the ack is out. A command that may change something is
    stored before the ack; Slack's retry of one already stored is answered once, by the first delivery."""
    word, _ = subcommand(inv)
    if word.lower() in IN_ACK or word.lower() not in HANDLERS:
        return await dispatch(inv)
    if word.lower() in READS:
        return Reply(text="", after=[lambda: answer(inv)])
    command = command_of(inv)
    if not await inv.rt.commands.submit(command):
        return Reply(text="")
    return Reply(text="", after=[lambda: answer(inv, command.key)])


async def answer(inv: Invocation, stored: str | None = None) -> None:
    """Run the command once the acks waiting are out, answer the person, start its Slack work, and mark the
    stored command answered."""
    rt = inv.rt
    await rt.requests.wait()
    try:
        reply = await dispatch(inv)
    except Exception:
        log.exception("/incident failed after the ack")
        reply = oops(rt.language)
    await deliver(inv, reply)
    for job in reply.after:
        rt.tasks.spawn(job(), name="after:/incident")
    if stored is not None and not reply.settled:
        await rt.answered.submit(stored)


async def deliver(inv: Invocation, reply: Reply) -> None:
    """The answer where the person typed the command (ephemeral, by response_url); by DM if that is refused."""
    message: dict[str, Any] = reply.ack_kwargs()
    if not message:
        return
    if inv.response_url and await respond(inv.response_url, replace_original=False, **message):
        return
    message.pop("response_type", None)
    try:
        await inv.rt.client.chat_postMessage(channel=inv.user_id, **message)
    except Exception as exc:  # noqa: BLE001 — an answer we cannot deliver is logged, never raised
        log.warning("could not answer %s: %s", inv.user_id, type(exc).__name__)


async def answer_unanswered(rt: Runtime) -> int:
    """At start-up: answer the commands stored before a stop that came between their ack and their answer (the
    flows' once-only keys keep what was already done from being done again)."""
    async with rt.sessions() as session:
        waiting = await intake.unanswered(session)
    for command in waiting:
        rt.tasks.spawn(answer(invocation_of(rt, command), command.key), name="answer:stored")
    if waiting:
        log.info("answering %s slash commands stored before the last stop", len(waiting))
    return len(waiting)
