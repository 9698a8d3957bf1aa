"""The fuzz tests' harness: a stack on a loop of its own, signed requests, and the checks each example must pass."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import col, select

from bot.models import (
    Incident,
    Maintenance,
    MaintenanceEvent,
    RoleAssignment,
    SlackOp,
    Statement,
    StatementReview,
    Step,
    TimelineEvent,
)
from bot.sandbox.actor import ActorResponse, sign
from bot.sandbox.blockkit import check_blocks, check_view
from yingji.local import LocalStack

# -- the rules the bot is held to, written out here rather than taken from the bot ----------------------

COUNTED = (Incident, TimelineEvent, SlackOp, RoleAssignment, Step, Statement, StatementReview, Maintenance,
           MaintenanceEvent)
REFUSED = "refused"  # the kind of a refusal's record, on an incident's timeline and on a window's
COMPONENTS = ("checkout", "payment")  # the status page's components, for maintenance windows
REFUSED_FOR_SHAPE = {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "invalid_arguments",
                     "view_too_large", "no_text"}
MAX_TEXT = 40_000  # Slack's (and the sandbox's) limit on a message's text

FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example, HealthCheck.filter_too_much])


def config(users: dict[str, str]) -> dict[str, Any]:
    """Roles and approvers, so approvals, publishing and handovers have someone to act; components for windows."""
    return {"default_roles": {"commander": users["zhang.wei"], "comms": users["wang.fang"]},
            "comms_approvers": [users["wang.fang"]], "legal_approvers": [users["li.na"]],
            "status_page": {"components": [{"id": c, "name": {"zh": c, "en": c}} for c in COMPONENTS]}}


# -- watching for what goes wrong unseen ------------------------------------------------------------


class Watch(logging.Handler):
    """ERROR log records from anywhere, and exceptions the event loop was left holding."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        traceback = " (with traceback)" if record.exc_info else ""
        self.problems.append(f"{record.name}: {record.getMessage()[:300]}{traceback}")

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The event loop's exception handler: 'Task exception was never retrieved' and the like."""
        self.problems.append(f"event loop: {context.get('message')} {context.get('exception')!r}")


@dataclass
class Case:
    """One request and what must hold after it."""

    kind: str                 # slash | interactive | event | raw
    payload: Any              # the text, the payload / event object, or the raw bytes
    expect: int = 200
    invalid: bool = False     # decided now when it does not depend on the database
    user: str = ""
    channel: str = ""
    content_type: str = "application/x-www-form-urlencoded"
    signed: bool = True
    row_check: tuple[type, Any] | None = None  # invalid unless this value names a row of this table


@dataclass
class Harness:
    """One stack, its event loop, and what the examples need to know about it."""

    loop: asyncio.AbstractEventLoop
    stack: LocalStack
    watch: Watch
    incident: Incident
    ids: dict[str, list[str]] = field(default_factory=dict)
    calls_seen: int = 0
    responses_seen: int = 0

    def run(self, coro: Any) -> Any:
        """Run one coroutine on the harness's loop to its end."""
        return self.loop.run_until_complete(coro)

    @property
    def sb(self) -> Any:
        """The sandbox: what Slack holds and every Web API call the bot made."""
        return self.stack.sandbox


async def seed(stack: LocalStack) -> Incident:
    """INC-1 with its commander and comms, a note, and statement v1 drafted by the commander."""
    u = stack.users
    await stack.actor.slash("/incident", "declare sev2 payment-failure 支付宝回调超时", user_id=u["zhang.wei"],
                            channel_id=stack.channels["general"])
    await stack.settle()
    async with stack.rt.sessions() as session:
        incident = (await session.exec(select(Incident))).one()
    await stack.actor.slash("/incident", "note 已切换备用通道", user_id=u["li.na"], channel_id=incident.channel_id)
    await stack.actor.slash("/incident", "statement", user_id=u["zhang.wei"], channel_id=incident.channel_id)
    await stack.settle()
    [view_id] = [k for k, v in stack.sandbox.views.items() if v.get("callback_id") == "statement_form"]
    facts = {"what_happened": "部分用户付款后订单仍显示待支付", "affected": "部分支付宝用户", "doing": "已切换备用通道",
             "customer_action": "请勿重复付款", "compensation": "", "data": "unknown", "data_detail": "",
             "stage": "investigating", "language": "zh", "next_update": ""}
    values = {name: {"value": value} for name, value in facts.items()}
    values["stage"] = {"value": "resolved"}  # the resolved stage needs no next update time
    await stack.actor.submit_view(view_id, u["zhang.wei"], values=values)
    await stack.actor.slash("/incident", "maintenance", user_id=u["zhang.wei"], channel_id=stack.channels["general"])
    await stack.settle()
    [form] = [k for k, v in stack.sandbox.views.items() if v.get("callback_id") == "maintenance_form"]
    start = int(time.time()) + 3600  # a window drafted by the commander, for comms to approve
    await stack.actor.submit_view(form, u["zhang.wei"], values={
        "starts_at": {"value": start}, "ends_at": {"value": start + 7200}, "components": {"value": ["payment"]},
        "text_zh": {"value": "支付渠道切换"}, "text_en": {"value": "Payment channel switch"}})
    await stack.settle()
    return incident


async def known_ids(h: Harness) -> dict[str, list[str]]:
    """Ids and timestamps that exist, so some fuzzed values hit real rows and messages."""
    async with h.stack.rt.sessions() as session:
        steps = (await session.exec(select(Step.id))).all()
        statements = (await session.exec(select(Statement.id))).all()
        windows = (await session.exec(select(Maintenance.id))).all()
    channel = h.incident.channel_id or ""
    return {
        "rows": sorted({str(i) for i in [h.incident.id, *steps, *statements, *windows] if i is not None}),
        "ts": [m["ts"] for m in h.sb.channels[channel].messages][:8],
        "users": sorted(h.stack.users.values()),
        "channels": sorted([channel, *h.stack.channels.values()]),
    }


# -- sending, and checking what must hold -----------------------------------------------------------


async def _counts(stack: LocalStack) -> dict[str, int]:
    """Row counts of everything a request could add: an invalid one must leave them as they were. A refusal's own
    record (one per person, action and minute, with a count) is the policy's audit of the attempt, not a change."""
    async with stack.rt.sessions() as session:
        counts = {model.__name__: (await session.exec(select(func.count()).select_from(model))).one()
                  for model in COUNTED}
        for model in (TimelineEvent, MaintenanceEvent):
            refused = select(func.count()).select_from(model).where(col(model.kind) == REFUSED)
            counts[model.__name__] -= (await session.exec(refused)).one()
        return counts


async def _names_row(stack: LocalStack, table: type, value: Any) -> bool:
    """Whether `value` is a row id of `table` (ASCII digits of an existing row), as the bot must read it."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and int(value) < 2**31):
        return False  # ids are INTEGER primary keys (32 bits on PostgreSQL): no row has a larger one
    async with stack.rt.sessions() as session:
        return await session.get(table, int(value)) is not None


def _fill(value: Any, h: Harness, user: str, channel: str) -> Any:
    """Put fresh trigger ids and response URLs where the example asked for them."""
    if value == "$trigger":
        return h.sb.new_trigger_id()
    if value == "$response_url":
        return h.sb.new_response_url(channel_id=channel or None, user_id=user or None)
    if isinstance(value, dict):
        return {k: _fill(v, h, user, channel) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, h, user, channel) for v in value]
    return value


async def _send(h: Harness, case: Case) -> ActorResponse:
    """Deliver the case as Slack would (signed), or exactly as given."""
    if case.kind == "slash":
        return await h.stack.actor.slash("/incident", case.payload, user_id=case.user, channel_id=case.channel)
    if case.kind == "raw":
        body = case.payload
    else:
        who = case.payload.get("user")
        user = who.get("id") if isinstance(who, dict) else None
        filled = _fill(case.payload, h, user if isinstance(user, str) else "", case.channel)
        body = (urlencode({"payload": json.dumps(filled)}) if case.kind == "interactive" else json.dumps(filled)).encode()
        case.content_type = "application/x-www-form-urlencoded" if case.kind == "interactive" else "application/json"
    headers: dict[str, str] = {}
    if case.signed:
        stamp = str(int(time.time()))
        headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sign(h.sb.signing_secret, stamp, body)}
    return await h.stack.actor.raw(body, case.content_type, headers)


def blockkit_problems(h: Harness, reply: ActorResponse) -> list[str]:
    """What the sandbox's own checks say about everything the bot sent since the last example."""
    problems: list[str] = []
    for method, params in h.sb.calls[h.calls_seen:]:
        blocks, view, text = params.get("blocks"), params.get("view"), params.get("text")
        if blocks not in (None, ""):
            problems += [f"{method}: {e}" for e in check_blocks(json.loads(blocks) if isinstance(blocks, str) else blocks)]
        if view not in (None, ""):
            problems += [f"{method}: {e}" for e in check_view(json.loads(view) if isinstance(view, str) else view)]
        if isinstance(text, str) and len(text) > MAX_TEXT:
            problems.append(f"{method}: msg_too_long ({len(text)})")
    for response in h.sb.responses[h.responses_seen:]:
        problems += [f"response_url: {e}" for e in check_blocks(response.get("blocks") or [])]
    if isinstance(reply.json, dict):
        problems += [f"ack: {e}" for e in check_blocks(reply.json.get("blocks") or [])]
        if reply.json.get("view") is not None:
            problems += [f"ack view: {e}" for e in check_view(reply.json["view"])]
        if len(str(reply.text or "")) > MAX_TEXT:
            problems.append("ack: text too long")
    h.calls_seen, h.responses_seen = len(h.sb.calls), len(h.sb.responses)
    return problems


async def refused_for_shape(stack: LocalStack) -> list[str]:
    """Outbox operations that Slack refused for their blocks or length."""
    async with stack.rt.sessions() as session:
        failed = (await session.exec(select(SlackOp).where(col(SlackOp.status) == "failed"))).all()
    return [f"{op.kind}: {op.error}" for op in failed if (op.error or "").split(":")[0].strip() in REFUSED_FOR_SHAPE]


async def _exercise(h: Harness, case: Case) -> None:
    """Send one case and check every property."""
    invalid = case.invalid
    if case.row_check is not None and not invalid:
        table, value = case.row_check
        invalid = not await _names_row(h.stack, table, value)
    before = await _counts(h.stack)
    reply = await _send(h, case)
    await h.stack.settle()
    assert reply.status < 500, (reply.status, reply.body)
    assert reply.status == case.expect, (reply.status, reply.body[:300])
    assert h.watch.problems == [], h.watch.problems
    if invalid:
        after = await _counts(h.stack)
        assert after == before, f"an invalid request changed the database: {before} → {after}"
    assert blockkit_problems(h, reply) == []
    assert await refused_for_shape(h.stack) == []


def fuzz(h: Harness, strategy: st.SearchStrategy[Case], examples: int,
         explicit: tuple[Case, ...] = ()) -> None:
    """Run `strategy`'s examples (and the explicit ones first) through one harness."""

    @settings(FUZZ, max_examples=examples)
    @given(case=strategy)
    def check(case: Case) -> None:
        h.run(_exercise(h, case))

    for case in explicit:
        h.run(_exercise(h, case))
    check()
