"""Slack's bad days: rate limits, errors, a Slack that stays down, and a bot that restarts mid-work."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot import roles
from bot.i18n import t
from bot.models import Incident, SlackOp
from bot.sandbox.faults import Fault, Faults
from bot.sandbox.server import Sandbox
from tests.helpers import StackFactory, incidents_in_db, timeline_kinds, wait_for
from yingji.local import LocalStack

READY = ("channel_created", "header_posted", "header_pinned", "announced")


def _headers(sb: Sandbox, channel_id: str) -> list[dict]:
    """Header messages (the ones with the Assign roles button)."""
    return [m for m in sb.messages(channel_id) if "open_assign_roles" in str(m.get("blocks"))]


def _checklists(sb: Sandbox, channel_id: str) -> list[dict]:
    return [m for m in sb.messages(channel_id) if "step_done" in str(m.get("blocks"))]


def _calls(sb: Sandbox, method: str) -> int:
    return len([c for c in sb.calls if c[0] == method])


async def _declare(stack: LocalStack, text: str = "declare sev2 payment-failure 银联通道超时"):
    return await stack.actor.slash("/incident", text, user_id=stack.users["zhang.wei"],
                                   channel_id=stack.channels["general"])


async def test_two_429s_on_create_still_give_one_channel(stack: LocalStack) -> None:
    sb = stack.sandbox
    sb.faults.add("conversations.create", "429", times=2, retry_after=1)
    assert (await _declare(stack)).status == 200
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    assert incident.channel_id is not None
    assert len([c for c in sb.channels.values() if c.name.startswith("inc-1")]) == 1
    assert set(READY) <= set(await timeline_kinds(stack, incident.id))


async def test_5xx_on_posting_never_posts_twice(stack: LocalStack) -> None:
    sb = stack.sandbox
    sb.faults.add("chat.postMessage", "5xx", times=2)
    sb.faults.add("pins.add", "reset", times=1)
    await _declare(stack)
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    headers = _headers(sb, incident.channel_id)
    assert len(headers) == 1 and sb.channels[incident.channel_id].pins == [headers[0]["ts"]]
    assert len(_checklists(sb, incident.channel_id)) == 1
    assert len(sb.messages(stack.channels["incidents"])) == 1


async def test_slack_down_tells_the_declarer_and_repair_finishes(stack: LocalStack) -> None:
    sb = stack.sandbox
    sb.faults.add("conversations.create", "5xx", times=None)
    ack = await _declare(stack)
    assert "INC-1" in ack.text
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    assert incident.channel_id is None
    assert (await timeline_kinds(stack, incident.id)) == ["declared"]
    notices = [r["text"] for r in sb.responses if "repair" in str(r.get("text"))]
    assert notices and "/incident repair INC-1" in notices[0] and "HTTP 503" in notices[0]

    sb.faults.clear()
    r = await stack.actor.slash("/incident", "repair INC-1", user_id=stack.users["zhang.wei"],
                                channel_id=stack.channels["general"])
    assert "INC-1" in r.text
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    assert incident.channel_id and sb.channels[incident.channel_id].pins == [incident.header_ts]
    assert _calls(sb, "chat.postMessage") >= 2
    assert len([c for c in sb.channels.values() if c.name.startswith("inc-1")]) == 1


async def test_repair_with_an_unknown_key_says_so(stack: LocalStack) -> None:
    r = await stack.actor.slash("/incident", "repair INC-99", user_id=stack.users["zhang.wei"],
                                channel_id=stack.channels["general"])
    assert "INC-99" in r.text


async def test_a_slack_hiccup_at_the_first_command_loses_nothing(stack: LocalStack) -> None:
    stack.sandbox.faults.add("auth.test", "5xx", times=None)  # bolt used to check the token here, once
    ack = await _declare(stack)
    assert ack.status == 200 and "INC-1" in ack.text
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    assert incident.channel_id is not None and incident.header_ts is not None


@pytest.mark.parametrize("in_flight", ["conversations.create", "chat.postMessage"],
                         ids=["create-in-flight", "post-in-flight"])
async def test_restart_finishes_interrupted_work_exactly_once(tmp_path: Path, in_flight: str) -> None:
    stack = await LocalStack.start(tmp_path / "bot")
    sb = stack.sandbox
    sb.latency = 0.3  # every Slack call is slow, so the stop lands in the middle of the work
    try:
        await _declare(stack)
        assert await wait_for(lambda: _calls(sb, in_flight) >= 1)  # it has reached Slack; the answer is on its way
    finally:
        await stack.stop(keep_sandbox=True)  # the process dies with work unfinished
    await asyncio.sleep(sb.latency + 0.05)  # the call lands in Slack, with nobody left to hear the answer
    sb.latency = 0.0
    assert _calls(sb, "conversations.create") == 1
    restarted = await LocalStack.start(tmp_path / "bot", sandbox=sb)
    try:
        # Nobody asks: the restarted process waits out the dead one's claims (2 s here) and finishes.
        await restarted.settle()
        assert {op.status for op in await _ops(restarted)} == {"done"}
        [incident] = await incidents_in_db(restarted)
        assert incident.channel_id is not None
        assert [c.name for c in sb.channels.values() if c.name.startswith("inc-1")] == [incident.channel_name]
        assert len(_headers(sb, incident.channel_id)) == 1
        assert len(_checklists(sb, incident.channel_id)) == 1
        assert len(sb.messages(restarted.channels["incidents"])) == 1
    finally:
        await restarted.stop()


async def test_a_stopped_bot_does_no_more_work(tmp_path: Path) -> None:
    """Once stop() returns, none of its Slack operations runs on: a restart in the same process (as above) must find
    Slack and the database as the stop left them, with no half-stopped runtime still calling and writing."""
    stack = await LocalStack.start(tmp_path / "bot")
    sb = stack.sandbox
    sb.latency = 0.3
    try:
        await _declare(stack)
        assert await wait_for(lambda: _calls(sb, "chat.postMessage") >= 1)  # a wave of operations is under way
    finally:
        await stack.stop(keep_sandbox=True)
    try:
        running = [task.get_name() for task in asyncio.all_tasks()
                   if not task.done() and "OutboxRunner" in getattr(task.get_coro(), "__qualname__", "")]
        assert running == []
        calls = len(sb.calls)
        await asyncio.sleep(sb.latency + 0.2)
        assert len(sb.calls) == calls
    finally:
        await sb.stop()


# -- the sweep: every Web API method of a whole story, every kind of fault ---------------------------

FAULT_KINDS = ("429", "5xx", "timeout", "reset")  # each distinct call fails once this way, then goes through
DOWN = "down"  # the method answers 503 until Slack is back: the bot gives up, says so, and repair finishes it
HANG_TIMEOUT = 2  # seconds the bot's Web API client waits for a hung call in the sweep (10 in production)
MAX_ATTEMPTS = 5  # OutboxRunner's max_attempts


class FirstTryFails(Faults):
    """Every distinct call of one method fails once with one kind of fault; its retry goes through.

    The sandbox records a call just before it takes a fault for it (with no latency, nothing runs in
    between), so the call being answered is the last one recorded."""

    def __init__(self, sb: Sandbox, method: str, kind: str) -> None:
        super().__init__()
        self.sb, self.method, self.kind = sb, method, kind
        self.seen: set[str] = set()

    def take(self, method: str, channel: str | None = None) -> Fault | None:
        """A fault for the first try of each distinct call of the method, else nothing."""
        if method != self.method:
            return super().take(method, channel)
        name, params = self.sb.calls[-1]
        call = json.dumps(params, sort_keys=True, default=str)
        if name != method or call in self.seen:
            return None
        self.seen.add(call)
        return Fault(method, self.kind, times=1, retry_after=1)


async def _story(stack: LocalStack) -> Incident:
    """Declare and wait for the channel; then wang.fang gives tech to li.na, adds a note, completes step 1.

    Inside the channel once it exists; without one (Slack refused to make it) the declarer does it by key."""
    await _declare(stack)
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    user, where, key = "wang.fang", incident.channel_id, ""
    if where is None:
        user, where, key = "zhang.wei", stack.channels["general"], f"{incident.key} "
    for text in (f"role {key}tech <@{stack.users['li.na']}>", f"note {key}回调队列积压 2 万条", f"done {key}1"):
        reply = await stack.actor.slash("/incident", text, user_id=stack.users[user], channel_id=where)
        assert reply.status == 200
        await stack.settle()
    [incident] = await incidents_in_db(stack)
    return incident


async def _ops(stack: LocalStack) -> list[SlackOp]:
    """Every queued Slack operation, oldest first."""
    async with stack.rt.sessions() as session:
        return list((await session.exec(select(SlackOp).order_by(SlackOp.id))).all())


async def _outcome(stack: LocalStack) -> dict[str, Any]:
    """What people can see and what the database says, in terms that do not depend on ids or timing."""
    sb = stack.sandbox
    [incident] = await incidents_in_db(stack)
    assert incident.id is not None and incident.channel_id is not None
    names = {uid: name for name, uid in stack.users.items()}
    kinds = {op.id: op.kind for op in await _ops(stack)}
    channel = sb.channels[incident.channel_id]
    messages = sb.messages(incident.channel_id)
    step_one = [b for m in _checklists(sb, incident.channel_id) for b in m["blocks"]
                if b.get("block_id", "").startswith("step-") and "~1." in str(b.get("text"))]
    return {
        "channels": sorted(c.name for c in sb.channels.values() if c.name.startswith("inc-")),
        "topic": channel.topic, "purpose": channel.purpose,
        "members": sorted(names.get(u, u) for u in channel.members),
        "posted": sorted(kinds[_op(m)] for m in messages if _op(m) is not None),
        "unmarked": [m["text"] for m in messages if _op(m) is None],
        "headers": len(_headers(sb, incident.channel_id)), "pinned": channel.pins == [incident.header_ts],
        "step_1_shown_done": len(step_one) == 1 and ":white_check_mark:" in str(step_one[0]["text"]),
        "announced": sorted(kinds.get(_op(m), "?") for m in sb.messages(stack.channels["incidents"])),
        "dms": {names[u]: sorted(kinds.get(_op(m), "?") for m in sb.dms(u)) for u in stack.users.values() if sb.dms(u)},
        "timeline": sorted(await timeline_kinds(stack, incident.id)),
        "roles": await _holders(stack, incident.id),
    }


def _op(message: dict[str, Any]) -> int | None:
    """The outbox operation that posted a message (from its metadata)."""
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    return int(payload["op"]) if "op" in payload else None


async def _holders(stack: LocalStack, incident_id: int) -> dict[str, str]:
    """Who holds each role, by name."""
    names = {uid: name for name, uid in stack.users.items()}
    async with stack.rt.sessions() as session:
        return {role: names[user] for role, user in (await roles.holders(session, incident_id)).items()}


def _doubled(sb: Sandbox) -> list[tuple[str, int, int]]:
    """(conversation, op, part) of any message posted more than once, anywhere."""
    tags = Counter((c.id, _op(m), ((m.get("metadata") or {}).get("event_payload") or {}).get("part", 0))
                   for c in sb.channels.values() for m in c.messages if _op(m) is not None)
    return [tag for tag, n in tags.items() if n > 1]


@dataclass
class CleanRun:
    """The story without faults: which methods it calls (how often) and what it leaves behind."""

    calls: Counter[str]
    outcome: dict[str, Any]


async def _clean_run(data_dir: Path) -> CleanRun:
    """The story on a fresh stack with Slack behaving."""
    stack = await LocalStack.start(data_dir, rate_limits=False)
    try:
        first = len(stack.sandbox.calls)  # after start-up's own calls (auth.test, finding channels)
        await _story(stack)
        return CleanRun(Counter(m for m, _ in stack.sandbox.calls[first:]), await _outcome(stack))
    finally:
        await stack.stop()


@functools.cache
def clean_run() -> CleanRun:
    """Run once per session (at collection, to parametrize the sweep by the methods actually called)."""
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_clean_run(Path(tmp)))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per (Web API method of the clean story, fault)."""
    if "method" in metafunc.fixturenames and "fault" in metafunc.fixturenames:
        methods = sorted(clean_run().calls)
        metafunc.parametrize(("method", "fault"), [(m, f) for m in methods for f in (*FAULT_KINDS, DOWN)],
                             ids=[f"{m}-{f}" for m in methods for f in (*FAULT_KINDS, DOWN)])


@pytest.fixture
def errors() -> Iterator[list[logging.LogRecord]]:
    """ERROR records from any logger (an unhandled exception, a 'Task exception was never retrieved')."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)
    yield records
    logging.getLogger().removeHandler(handler)


async def test_every_method_every_fault(make_stack: StackFactory, errors: list[logging.LogRecord],
                                        method: str, fault: str) -> None:
    clean = clean_run()
    stack = await make_stack(rate_limits=False)  # the only 429s are the injected ones, so calls can be counted
    stack.rt.client.timeout = HANG_TIMEOUT
    sb = stack.sandbox
    first = len(sb.calls)
    if fault == DOWN:
        sb.faults.add(method, "5xx", times=None)
    else:
        sb.faults = FirstTryFails(sb, method, fault)
    incident = await _story(stack)
    if fault == DOWN:
        await _gave_up_and_said_so(stack, incident, method)
        sb.faults.clear()
        reply = await stack.actor.slash("/incident", f"repair {incident.key}", user_id=stack.users["zhang.wei"],
                                        channel_id=stack.channels["general"])
        assert incident.key in reply.text
        await stack.settle()
    else:
        made = Counter(m for m, _ in sb.calls[first:])
        assert made[method] == clean.calls[method] + len(sb.faults.seen), "each faulted call retried exactly once"
    assert await _outcome(stack) == clean.outcome
    assert _doubled(sb) == []
    assert {op.status for op in await _ops(stack)} == {"done"}
    assert all(op.attempts <= MAX_ATTEMPTS for op in await _ops(stack))
    assert stack.rt.tasks.failures == 0
    assert [r.getMessage() for r in errors] == []


async def _gave_up_and_said_so(stack: LocalStack, incident: Incident, method: str) -> None:
    """Slack stayed down: the operations that need it gave up after bounded retries (nothing left claimed),
    and the declarer and whoever asked were told what did not happen and to run /incident repair."""
    ops = await _ops(stack)
    failed = [op for op in ops if op.status == "failed"]
    assert failed, f"nothing failed with {method} down"
    assert {op.status for op in ops} <= {"done", "failed"}
    assert any(op.attempts == MAX_ATTEMPTS and op.error == "HTTP 503" for op in failed)
    assert all(op.attempts <= MAX_ATTEMPTS for op in failed)
    told = _notices(stack, incident)
    for op in (op for op in failed if op.kind != "tell_declarer_ready"):  # its own failure needs no notice
        who = {stack.users["zhang.wei"], op.args.get("by") or stack.users["zhang.wei"]}
        what = t(f"op.{op.kind}", incident.language)
        for user in who:
            assert any(what in text for text in told.get(user, [])), f"{user} not told: {op.kind}"


def _notices(stack: LocalStack, incident: Incident) -> dict[str, list[str]]:
    """The 'run /incident repair' messages each person got, privately (response_url or DM)."""
    sb, needle = stack.sandbox, f"/incident repair {incident.key}"
    told: dict[str, list[str]] = {}
    for response in sb.responses:
        if needle in str(response.get("text")):
            told.setdefault(response["user"], []).append(response["text"])
    for user in stack.users.values():
        told.setdefault(user, []).extend(m["text"] for m in sb.dms(user) if needle in m.get("text", ""))
    return told
