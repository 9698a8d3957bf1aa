"""A maintenance window's Slack work against Slack's errors: a permanent refusal is tried once, recorded on the
window's own timeline and told to its drafter by DM, once; Slack's passing trouble is retried until it succeeds.
And every operation kind has an owner who is told when Slack refuses it for good, so a new kind without one fails
here by name. Through signed requests, on both databases."""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlmodel import col, select

import bot
from bot import outbox
from bot.i18n import t
from bot.metrics import REGISTRY
from bot.models import Maintenance, MaintenanceEvent, SlackOp
from bot.slack import gave_up
from bot.slack.ops import OPERATIONS, OWNERS
from bot.vocabulary import OpOwner, OpStatus
from tests.helpers import StackFactory
from tests.test_maintenance import _config, _draft, _open, _press, _said, _soon, _submit, _values
from yingji.local import LocalStack

ROOT = Path(bot.__file__).resolve().parent.parent
Row = TypeVar("Row")

# Operations nobody asked for, whose refusal is logged at WARNING and counted (yingji_outbox_untold_total) with
# nobody to tell. A kind belongs here only when no person is waiting for it.
NOBODY_TO_TELL = {"post_digest"}  # the leadership digest, queued by the deployment's schedule

@pytest.fixture
async def shop(make_stack: StackFactory) -> LocalStack:
    """A deployment with comms approvers and status-page components, as tests/test_maintenance.py has."""
    return await make_stack(config=_config)


# Each maintenance operation and each method it calls, with a code Slack answers that method when it will never
# take the request, and how the operation comes to run: on drafting the window, or on approving it.
PERMANENT = [
    ("post_maintenance", "conversations.join", "channel_is_limited_access", "draft"),
    ("post_maintenance", "chat.postMessage", "msg_too_long", "draft"),
    ("redraw_maintenance", "chat.update", "cant_update_message", "approve"),
    ("maintenance_thread", "chat.postMessage", "restricted_action_thread_locked", "approve"),
]


async def _run(stack: LocalStack, method: str, when: str, **fault: object) -> Maintenance:
    """Draft a window (and approve it, for the operations an approval queues) with `fault` on `method` meanwhile."""
    channel = stack.channels["general"]  # where the window is asked for and reviewed; the DMs go through
    if when == "draft":
        view_id = await _open(stack)
        stack.sandbox.faults.add(method, "error", channel=channel, **fault)  # type: ignore[arg-type]
        await _submit(stack, _values(*_soon()), view_id=view_id)
        window = (await _rows(stack, Maintenance))[-1]
    else:
        window = await _draft(stack)
        stack.sandbox.faults.add(method, "error", channel=channel, **fault)  # type: ignore[arg-type]
        await _press(stack, window, "maintenance_approve", "wang.fang")
    assert not stack.sandbox.faults.planned  # the fault hit the method
    return window


async def _rows(stack: LocalStack, table: type[Row]) -> list[Row]:
    by: Any = table
    async with stack.rt.sessions() as session:
        return list((await session.exec(select(table).order_by(col(by.id)))).all())


async def _last_op(stack: LocalStack, kind: str) -> SlackOp:
    return [op for op in await _rows(stack, SlackOp) if op.kind == kind][-1]


async def _gave_up(stack: LocalStack, window: Maintenance) -> list[MaintenanceEvent]:
    return [e for e in await _rows(stack, MaintenanceEvent)
            if e.maintenance_id == window.id and e.kind == gave_up.GAVE_UP]


def _told(stack: LocalStack, window: Maintenance) -> list[str]:
    """The drafter's DMs about Slack refusing this window's work."""
    head = t("gave_up.window", "zh", n=window.id, what="", channel="").split("：")[0]
    return [line for line in _said(stack, "zhang.wei").split("\n") if line.startswith(head)]


@pytest.mark.parametrize(("kind", "method", "code", "when"), PERMANENT, ids=[f"{k}-{m}" for k, m, _, _ in PERMANENT])
async def test_a_permanent_error_is_tried_once_recorded_on_the_window_and_told(
        shop: LocalStack, kind: str, method: str, code: str, when: str) -> None:
    window = await _run(shop, method, when, error=code, times=1)  # once: a second try would succeed
    failed = await _last_op(shop, kind)
    assert (failed.status, failed.attempts, failed.error) == (OpStatus.FAILED, 1, code)
    [event, *others] = await _gave_up(shop, window)  # the post's thread line, blocked after it, follows
    assert (event.actor, event.data["op"], event.data["error"]) == ("yingji", kind, code)
    assert event.at.tzinfo is not None and all(e.data["op"] != kind for e in others)
    [told] = _told(shop, window)
    assert t(f"op.{kind}", "zh") in told and code in told


async def test_a_thread_left_without_its_review_message_is_told_with_the_post(shop: LocalStack) -> None:
    window = await _run(shop, "chat.postMessage", "draft", error="msg_too_long", times=1)
    events = await _gave_up(shop, window)
    assert [e.data["op"] for e in events] == ["post_maintenance", "maintenance_thread"]
    [told] = _told(shop, window)  # one DM naming both
    assert t("op.post_maintenance", "zh") in told and t("op.maintenance_thread", "zh") in told


@pytest.mark.parametrize(("kind", "method", "_code", "when"), PERMANENT, ids=[f"{k}-{m}" for k, m, _, _ in PERMANENT])
async def test_slacks_passing_trouble_is_retried_until_it_succeeds(
        shop: LocalStack, kind: str, method: str, _code: str, when: str) -> None:
    window = await _run(shop, method, when, error="internal_error", times=2)
    done = await _last_op(shop, kind)
    assert (done.status, done.attempts) == (OpStatus.DONE, 3)
    assert await _gave_up(shop, window) == [] and _told(shop, window) == []
    channel, ts = window.channel_id or "", window.message_ts or ""
    posted = [m for m in shop.sandbox.messages(channel) + shop.sandbox.replies(channel, ts)
              if ((m.get("metadata") or {}).get("event_payload") or {}).get("op") == done.id]
    assert len(posted) == (0 if kind == "redraw_maintenance" else 1)  # done once, never twice


async def test_a_rate_limit_is_waited_out(shop: LocalStack) -> None:
    view_id = await _open(shop)
    shop.sandbox.faults.add("chat.postMessage", "429", retry_after=1, channel=shop.channels["general"])
    await _submit(shop, _values(*_soon()), view_id=view_id)
    [window] = await _rows(shop, Maintenance)
    assert window.message_ts and (await _last_op(shop, "post_maintenance")).status == OpStatus.DONE
    assert await _gave_up(shop, window) == []


async def test_a_drafter_slack_will_not_dm_keeps_the_moved_review_and_the_refusal_is_on_the_window(
        shop: LocalStack) -> None:
    """Asked for in a private channel the bot is not in, the review goes to the announce channel; Slack refusing the
    DM that says so leaves the review up (its ts stored, its thread posted) and the refusal on the window's timeline."""
    drafter = shop.users["zhang.wei"]
    secret = shop.sandbox.add_channel("pay-team", is_private=True, members=[drafter])
    view_id = await _open(shop, channel=secret)
    shop.sandbox.faults.add("chat.postMessage", "error", error="messages_tab_disabled", times=None, channel=drafter)
    await _submit(shop, _values(*_soon()), view_id=view_id)
    [window] = await _rows(shop, Maintenance)
    posted = await _last_op(shop, "post_maintenance")
    assert (posted.status, posted.attempts) == (OpStatus.DONE, 1)
    assert window.channel_id == shop.channels["incidents"] and window.message_ts
    assert shop.sandbox.replies(window.channel_id, window.message_ts)  # its thread, which needs the stored ts
    [event] = await _gave_up(shop, window)
    assert event.data == {"op": "post_maintenance", "op_id": posted.id, "error": "messages_tab_disabled",
                          "part": "moved"}


async def test_a_refusal_is_recorded_and_told_once_however_often_it_is_given_up(shop: LocalStack) -> None:
    """A process whose claim lapsed and another took over gives up nothing: only the holder records and tells."""
    window = await _run(shop, "chat.update", "approve", error="cant_update_message", times=1)
    op = await _last_op(shop, "redraw_maintenance")
    runner = shop.rt.runner
    assert (await runner._give_up(op, "cant_update_message")).result == "skipped"  # already given up
    async with shop.rt.sessions() as session:  # claimed anew (a repair), then given up by two processes
        row = await session.get(SlackOp, op.id)
        assert row is not None
        row.status, row.attempts = OpStatus.RUNNING, 2
        session.add(row)
        await session.commit()
        await session.refresh(row)
    assert [(await runner._give_up(row, "x")).result for _ in range(2)] == ["failed", "skipped"]
    assert len(await _gave_up(shop, window)) == 2  # the first refusal, and this one once
    await runner.resume()
    await shop.settle()
    assert len(_told(shop, window)) == 1 and len(await _gave_up(shop, window)) == 2


async def test_work_with_nobody_to_tell_is_logged_and_counted(
        shop: LocalStack, caplog: pytest.LogCaptureFixture) -> None:
    before = REGISTRY.get_sample_value("yingji_outbox_untold_total", {"kind": "post_digest"}) or 0
    shop.sandbox.faults.add("chat.postMessage", "error", error="channel_not_found", channel=shop.channels["general"])
    async with shop.rt.sessions() as session:
        outbox.enqueue(session, None, "post_digest", channel=shop.channels["general"])
        await session.commit()
    with caplog.at_level(logging.WARNING, logger="bot.slack.gave_up"):
        shop.rt.runner.kick(None)
        await shop.settle()
    assert any("post_digest" in r.getMessage() and "channel_not_found" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records if r.name == "bot.slack.gave_up")
    assert REGISTRY.get_sample_value("yingji_outbox_untold_total", {"kind": "post_digest"}) == before + 1


# -- every operation kind has someone to tell ------------------------------------------------------------------

def test_every_operation_kind_has_an_owner_who_is_told() -> None:
    untold = {kind: OWNERS.get(kind) for kind in OPERATIONS if OWNERS.get(kind) not in (OpOwner.INCIDENT, OpOwner.WINDOW)}
    assert untold == dict.fromkeys(NOBODY_TO_TELL, OpOwner.WORKSPACE), "operation kinds nobody is told about"
    assert set(OWNERS) == set(OPERATIONS)


def test_every_owner_has_a_way_to_be_told() -> None:
    teller = gave_up.Teller(None, None)  # type: ignore[arg-type]
    assert set(teller.by_owner) == set(OpOwner)


def test_work_queued_without_an_incident_is_no_incidents() -> None:
    """An operation queued with no incident (the workspace's queue) would reach nobody as an incident's."""
    queued = _queued_without_incident()
    assert {"post_maintenance", "maintenance_thread", "redraw_maintenance", "post_digest"} <= queued
    assert {kind: OWNERS.get(kind) for kind in queued if OWNERS.get(kind) in (None, OpOwner.INCIDENT)} == {}


def _queued_without_incident() -> set[str]:
    """Kinds the code queues with `enqueue(session, None, "<kind>", …)`."""
    kinds: set[str] = set()
    for folder in ("bot", "commands", "yingji"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("enqueue", "enqueue_once")
                        and len(node.args) >= 3 and isinstance(node.args[1], ast.Constant)
                        and node.args[1].value is None and isinstance(node.args[2], ast.Constant)):
                    kinds.add(str(node.args[2].value))
    return kinds
