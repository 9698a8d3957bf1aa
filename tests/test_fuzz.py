"""Bad input, fuzzed: signed but arbitrary requests to /slack/events never break the bot or change what they must not.

Each test owns one LocalStack for all its examples (stacks take a second to start) and its own event loop:
the tests are plain functions, hypothesis calls the inner `@given` function once per example, and that
drives the stack with `loop.run_until_complete`. Owning the loop also lets the test install an exception
handler on it, so "Task exception was never retrieved" and friends are caught like ERROR log records.

Properties, for every example:
- the answer is never a 5xx: 200 for a signed request shaped like Slack's, 400 for a signed body that is
  not one (not JSON / a form / a payload object, or fields of the wrong type), 401 for an unsigned one;
- nothing is logged at ERROR and the event loop is left holding no exception;
- an invalid request (defined per kind below: an unknown subcommand, an unknown action_id or callback_id,
  a value or form metadata that names no row, an event the bot does not take, a misshapen body) changes
  no row count of incidents, timeline events, outbox operations, role assignments, steps, statements
  or statement reviews;
- every message, form and ephemeral reply the bot sent passes the sandbox's own Block Kit checks, and no
  outbox operation was refused by Slack for its blocks or its length.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import col, select

from bot.playbooks import SHIPPED_DIR
from bot.models import Incident, RoleAssignment, SlackOp, Statement, StatementReview, Step, TimelineEvent
from bot.sandbox.actor import ActorResponse, sign
from bot.sandbox.blockkit import check_blocks, check_view
from bot.slack.text import escape
from tests.conftest import Database
from yingji.local import LocalStack

# -- the rules the bot is held to, written out here rather than taken from the bot ----------------------

SUBCOMMANDS = ("declare", "role", "roles", "severity", "status", "note", "steps", "done", "statement",
               "summary", "timeline", "list", "resolve", "close", "drill", "help", "repair")
INCIDENT_SCOPED = ("role", "roles", "severity", "status", "note", "steps", "done", "statement", "summary",
                   "timeline", "resolve", "close")
READ_ONLY = ("roles", "steps", "statement", "timeline", "list", "help")  # they answer or open a form, nothing more
SEVERITY_WORDS = ("sev1", "sev2", "sev3", "sev4", "1", "2", "3", "4")
SETTABLE = ("investigating", "identified", "monitoring", "resolved")
ROLES = ("commander", "tech", "comms", "legal", "support")
STAGES = ("investigating", "identified", "monitoring", "resolved")
KEY = re.compile(r"^INC-\d{1,9}$", re.IGNORECASE)
MENTION = re.compile(r"^<@[UW][A-Z0-9]+(?:\|[^>]*)?>$")
SLACK_TS = re.compile(r"^[0-9]{1,12}\.[0-9]{1,9}$")
ACTION_TARGETS = {  # action_id → the table its value names a row of
    "open_assign_roles": Incident, "open_status_form": Incident, "open_statement_form": Incident,
    "cadence_snooze": Incident, "step_done": Step, "statement_approve": Statement,
    "statement_changes": Statement, "statement_edit": Statement, "statement_publish": Statement,
}
READ_ONLY_ACTIONS = ("open_assign_roles", "open_status_form", "open_statement_form", "statement_changes",
                     "statement_edit")  # they only open a form
FORM_TARGETS = {  # callback_id → (metadata key, table) the form belongs to
    "assign_roles_form": ("incident", Incident), "statement_form": ("incident", Incident),
    "status_form": ("incident", Incident), "statement_changes_form": ("statement", Statement),
    "statement_publish_form": ("statement", Statement),
}
PLAYBOOKS = tuple(path.stem for path in SHIPPED_DIR.glob("*.yaml"))  # the shipped playbooks' slugs
EVENT_TYPES = ("pin_added", "reaction_added", "message", "app_mention", "member_joined_channel",
               "channel_created", "reaction_removed", "pin_removed")
COUNTED = (Incident, TimelineEvent, SlackOp, RoleAssignment, Step, Statement, StatementReview)
REFUSED_FOR_SHAPE = {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "invalid_arguments",
                     "view_too_large", "no_text"}
MAX_TEXT = 40_000  # Slack's (and the sandbox's) limit on a message's text

FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example, HealthCheck.filter_too_much])


def _config(users: dict[str, str]) -> dict[str, Any]:
    """Roles and approvers, so approvals, publishing and handovers have someone to act."""
    return {"default_roles": {"commander": users["zhang.wei"], "comms": users["wang.fang"]},
            "comms_approvers": [users["wang.fang"]], "legal_approvers": [users["li.na"]]}


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


@pytest.fixture
def harness(database: Database, tmp_path: Path) -> Iterator[Harness]:
    """A stack with one staffed incident and a statement draft, driven from a loop this test owns."""
    loop = asyncio.new_event_loop()
    watch = Watch()
    loop.set_exception_handler(watch.loop_exception)
    logging.getLogger().addHandler(watch)
    stack = loop.run_until_complete(LocalStack.start(tmp_path / "stack", config=_config, rate_limits=False))
    try:
        incident = loop.run_until_complete(_seed(stack))
        h = Harness(loop, stack, watch, incident)
        h.ids = loop.run_until_complete(_known_ids(h))
        assert watch.problems == [], watch.problems
        yield h
    finally:
        loop.run_until_complete(stack.stop())
        loop.close()
        logging.getLogger().removeHandler(watch)


async def _seed(stack: LocalStack) -> Incident:
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
             "customer_action": "请勿重复付款", "compensation": "", "data_lost": "no", "data_detail": "",
             "stage": "investigating", "language": "zh", "next_update": ""}
    values = {name: {"value": value} for name, value in facts.items()}
    values["stage"] = {"value": "resolved"}  # the resolved stage needs no next update time
    await stack.actor.submit_view(view_id, u["zhang.wei"], values=values)
    await stack.settle()
    return incident


async def _known_ids(h: Harness) -> dict[str, list[str]]:
    """Ids and timestamps that exist, so some fuzzed values hit real rows and messages."""
    async with h.stack.rt.sessions() as session:
        steps = (await session.exec(select(Step.id))).all()
        statements = (await session.exec(select(Statement.id))).all()
    channel = h.incident.channel_id or ""
    return {
        "rows": sorted({str(i) for i in [h.incident.id, *steps, *statements] if i is not None}),
        "ts": [m["ts"] for m in h.sb.channels[channel].messages][:8],
        "users": sorted(h.stack.users.values()),
        "channels": sorted([channel, *h.stack.channels.values()]),
    }


# -- sending, and checking what must hold -----------------------------------------------------------


async def _counts(stack: LocalStack) -> dict[str, int]:
    """Row counts of everything a request could add: an invalid one must leave them as they were."""
    async with stack.rt.sessions() as session:
        return {model.__name__: (await session.exec(select(func.count()).select_from(model))).one()
                for model in COUNTED}


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


def _blockkit_problems(h: Harness, reply: ActorResponse) -> list[str]:
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
        if len(str(reply.json.get("text") or "")) > MAX_TEXT:
            problems.append("ack: text too long")
    h.calls_seen, h.responses_seen = len(h.sb.calls), len(h.sb.responses)
    return problems


async def _refused_for_shape(stack: LocalStack) -> list[str]:
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
        assert await _counts(h.stack) == before, "an invalid request changed the database"
    assert _blockkit_problems(h, reply) == []
    assert await _refused_for_shape(h.stack) == []


def _fuzz(h: Harness, strategy: st.SearchStrategy[Case], examples: int,
          explicit: tuple[Case, ...] = ()) -> None:
    """Run `strategy`'s examples (and the explicit ones first) through one harness."""

    @settings(FUZZ, max_examples=examples)
    @given(case=strategy)
    def check(case: Case) -> None:
        h.run(_exercise(h, case))

    for case in explicit:
        h.run(_exercise(h, case))
    check()


# -- strategies -------------------------------------------------------------------------------------

ODD_PIECES = ("payload", "payload=", "payload=%7B", '"', "'", "“引号”", "「」", "*bold*", "_it_", "~s~", "`code`",
              "```block```", "> quote", "&amp;", "&lt;", "&gt;", "<!here>", "<!channel>", "\n", "\r\n", "\t",
              "\x00", "\x1b[31m", "\u200b", "\u202e", "😀", "🇨🇳", "ﷺ", "İ", "ß", "²", "٣", "١٢", "　",
              "sev1", "2", "SEV3", "critical", "INC-1", "INC-999999999", "inc-0", "INC-٣", "action:", "行动项：",
              "site-outage", "payment-failure", "data-breach", *SETTABLE, *ROLES, "zh", "en", "show", "-1", "0",
              "99999999999999999999", "1e9", "NaN", "{", "{\"a\":", "[]", "null", "<>", "<@>", "<#>", "<", ">")


def _ids(h: Harness) -> st.SearchStrategy[str]:
    """Slack user ids: the workspace's people, and well-formed ids of nobody."""
    return st.sampled_from([*h.ids["users"], "U0NOBODY1", "W0NOBODY2", "U"])


def _junk(h: Harness) -> st.SearchStrategy[str]:
    """Words people (and mistakes) put in commands: any Unicode, mentions, links, markup."""
    users, channels = _ids(h), st.sampled_from([*h.ids["channels"], "C0NOPE"])
    piece = st.one_of(
        st.text(max_size=30),
        st.sampled_from(ODD_PIECES),
        users.map(lambda u: f"<@{u}>"),
        st.tuples(users, st.text(max_size=12)).map(lambda t: f"<@{t[0]}|{t[1]}>"),
        channels.map(lambda c: f"<#{c}>"),
        st.tuples(channels, st.text(max_size=12)).map(lambda t: f"<#{t[0]}|{t[1]}>"),
    )
    separator = st.sampled_from([" ", "  ", "\n", "\t", "", " \u3000 "])
    return st.tuples(st.lists(piece, max_size=10), separator).map(lambda t: t[1].join(t[0]))


def _long(h: Harness) -> st.SearchStrategy[str]:
    """Up to 10,000 characters: a short stretch repeated, or one long stretch."""
    return st.one_of(
        st.tuples(st.one_of(st.text(min_size=1, max_size=20), _junk(h).filter(bool)), st.integers(50, 10_000))
        .map(lambda t: (t[0] * t[1])[:10_000]),
        st.text(min_size=300, max_size=10_000),
    )


def slash_invalid(text: str, from_incident: bool) -> bool:
    """Whether `/incident <text>` must change nothing: the rules written out, independent of the bot's parser.

    The text is read as the bot must read it: without U+0000, and with Slack's escaping (&lt; &gt; &amp;) undone.
    """
    text = text.replace("\x00", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    words = text.split()
    if not words:
        return True
    keyed = KEY.match(words[0]) is not None and len(words) > 1 and words[1].lower() in SUBCOMMANDS
    sub, args = (words[1].lower(), words[2:]) if keyed else (words[0].lower(), words[1:])
    if sub not in SUBCOMMANDS:
        return True
    if sub in READ_ONLY or (sub == "declare" and not args):
        return True
    if args and KEY.match(args[0]) and sub in INCIDENT_SCOPED:
        keyed, args = True, args[1:]
    if sub in INCIDENT_SCOPED and not from_incident and not keyed:
        return True  # outside an incident channel, an incident's command needs its key
    first = args[0].lower() if args else ""
    return (
        (sub == "declare" and first not in SEVERITY_WORDS)
        or (sub == "severity" and first not in SEVERITY_WORDS)
        or (sub == "status" and first not in SETTABLE)
        or (sub == "done" and not (first.isascii() and first.isdigit()))
        or (sub == "role" and (first not in ROLES or len(args) < 2 or not MENTION.match(args[1])))
        or (sub == "note" and not args)
        or (sub == "drill" and first not in PLAYBOOKS)
    )


def slash_cases(h: Harness) -> st.SearchStrategy[Case]:
    """`/incident` with arbitrary text, from #general and from inside the incident channel."""
    args = st.one_of(_junk(h), _long(h))
    plausible = st.one_of(  # a first argument the subcommand may take, so the junk after it is read too
        st.sampled_from([*SEVERITY_WORDS, *SETTABLE, *ROLES, *STAGES, *PLAYBOOKS, "show", "zh", "en", "1", "2", "INC-1"]),
        st.tuples(st.sampled_from(ROLES), _ids(h)).map(lambda t: f"{t[0]} <@{t[1]}>"),
        st.tuples(st.sampled_from(SEVERITY_WORDS), st.sampled_from(PLAYBOOKS)).map(" ".join),
    )
    separator = st.sampled_from([" ", "  ", "\n", ""])
    text = st.one_of(
        st.tuples(st.sampled_from(SUBCOMMANDS), separator, plausible, st.just(" "), args).map("".join),
        st.tuples(st.sampled_from(SUBCOMMANDS), separator, plausible, st.just(" "), args).map("".join),
        st.tuples(st.sampled_from(SUBCOMMANDS), separator, args).map("".join),
        st.tuples(st.sampled_from(["INC-1 ", "inc-1 ", "INC-42 "]), st.sampled_from(SUBCOMMANDS), args)
        .map(lambda t: f"{t[0]}{t[1]} {t[2]}"),
        args,
        st.text(max_size=200),
    )
    channel = st.sampled_from([h.stack.channels["general"], h.incident.channel_id or ""])
    users = st.sampled_from([h.stack.users[name] for name in ("zhang.wei", "li.na", "liu.yang", "guest")])
    return st.builds(
        lambda t, c, u: Case("slash", t, user=u, channel=c, invalid=slash_invalid(t, c == h.incident.channel_id)),
        text, channel, users,
    )


def _values(h: Harness) -> st.SearchStrategy[Any]:
    """What comes back in a button's value or a form's metadata: ours, or anything at all."""
    return st.one_of(
        st.sampled_from(h.ids["rows"]),
        st.sampled_from(["0", "-1", "1.5", "²", "٣", "99999999999999999999999", "9223372036854775808", "1:0",
                         "1:99999999999", "1:-1", "x:y", "{", '{"a":', "[]", "null", "", " 1"]),
        st.text(max_size=40),
        st.integers(-5, 10**25).map(str),
    )


def _metadata(h: Harness) -> st.SearchStrategy[str | None]:
    """A form's private_metadata: ours with real, wrong or odd ids, or anything at all."""
    number = st.one_of(st.sampled_from([int(r) for r in h.ids["rows"]]), st.integers(-2, 10**22), st.none(),
                       st.text(max_size=8), st.floats(allow_nan=False), st.lists(st.integers(0, 3), max_size=2))
    return st.one_of(
        st.none(),
        st.text(max_size=40),
        st.sampled_from(["{", "[]", "null", "1", '"x"', "{}"]),
        st.fixed_dictionaries({}, optional={"incident": number, "statement": number, "edit_of": number,
                                            "channel": st.one_of(st.text(max_size=12), st.integers())}).map(json.dumps),
    )


def _state(h: Harness) -> st.SearchStrategy[Any]:
    """state.values of a form: known fields and unknown ones, each in some element's shape, with junk."""
    blocks = st.sampled_from(["title", "playbook", "severity", "summary", "options", "status", "note", "comment",
                              "outlets", "stage", "language", "what_happened", "next_update", *ROLES, "zzz"])
    text = st.one_of(st.text(max_size=40), st.sampled_from(["site-outage", "sev1", "resolved", "zh", "monitoring",
                                                            "2030-01-01 09:00", *h.ids["users"]]))
    element = st.one_of(
        st.fixed_dictionaries({"type": st.just("plain_text_input"), "value": st.one_of(text, st.none())}),
        st.fixed_dictionaries({"type": st.just("static_select"),
                               "selected_option": st.one_of(st.none(), st.fixed_dictionaries({"value": text}))}),
        st.fixed_dictionaries({"type": st.just("users_select"), "selected_user": st.one_of(text, st.none())}),
        st.fixed_dictionaries({"type": st.just("checkboxes"), "selected_options": st.lists(
            st.one_of(st.fixed_dictionaries({"value": text}), st.just({})), max_size=3)}),
        st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=8), st.integers(), st.none()), max_size=3),
    )
    values = st.dictionaries(blocks, st.dictionaries(st.sampled_from(["value", "user", "x"]), element, max_size=2),
                             max_size=6)
    return st.one_of(st.none(), st.just({}), st.builds(lambda v: {"values": v}, values))


def block_action_cases(h: Harness) -> st.SearchStrategy[Case]:
    """Button presses: known and unknown action_ids, with right, wrong, missing and malformed values."""
    channel = h.incident.channel_id or ""
    known = st.sampled_from([*ACTION_TARGETS, "timeline_page_next", "timeline_page_prev"])
    action_id = st.one_of(known, known, known, st.text(max_size=30))

    def build(action: str, value: Any, user: str, ts: str | None, trigger: bool, response: bool, drop_value: bool) -> Case:
        pressed: dict[str, Any] = {"action_id": action, "block_id": "b", "type": "button", "action_ts": "1.2"}
        if not drop_value:
            pressed["value"] = value
        payload: dict[str, Any] = {"type": "block_actions", "user": {"id": user}, "api_app_id": "A0SANDBOX",
                                   "team": {"id": "T0SANDBOX"}, "actions": [pressed],
                                   "channel": {"id": channel, "name": "inc"}, "state": {"values": {}}}
        if ts is not None:
            payload["container"] = {"type": "message", "message_ts": ts, "channel_id": channel}
        if trigger:
            payload["trigger_id"] = "$trigger"
        if response:
            payload["response_url"] = "$response_url"
        read_only = action in READ_ONLY_ACTIONS or action.startswith("timeline_page_")
        table = ACTION_TARGETS.get(action)
        known = table is not None or action.startswith("timeline_page_")
        return Case("interactive", payload, channel=channel, invalid=not known or read_only or drop_value,
                    row_check=(table, value) if table is not None else None)

    values = st.one_of(st.sampled_from(h.ids["rows"]), _values(h))
    return st.builds(build, action_id, values, _ids(h), st.one_of(st.none(), st.sampled_from(h.ids["ts"]),
                                                                  st.text(max_size=12)),
                     st.booleans(), st.booleans(), st.integers(0, 7).map(lambda n: n == 0))


def view_submission_cases(h: Harness) -> st.SearchStrategy[Case]:
    """Form submissions: known and unknown callback_ids, odd or missing metadata and state."""
    callback = st.one_of(st.sampled_from(["declare_form", *FORM_TARGETS]), st.text(max_size=30))

    def build(callback_id: str, metadata: str | None, state: Any, user: str, closed: bool) -> Case:
        view: dict[str, Any] = {"id": "V0FUZZ", "type": "modal", "callback_id": callback_id, "hash": "1.a"}
        if metadata is not None:
            view["private_metadata"] = metadata
        if state is not None:
            view["state"] = state
        payload = {"type": "view_closed" if closed else "view_submission", "user": {"id": user},
                   "team": {"id": "T0SANDBOX"}, "view": view, "trigger_id": "$trigger"}
        if closed or callback_id not in FORM_TARGETS and callback_id != "declare_form":
            return Case("interactive", payload, invalid=True)
        if callback_id == "declare_form":  # nothing to declare without the three fields
            fields = (state or {}).get("values", {}) if isinstance(state, dict) else {}
            return Case("interactive", payload, invalid=not {"title", "playbook", "severity"} <= set(fields))
        key, table = FORM_TARGETS[callback_id]
        try:
            meta = json.loads(metadata or "{}")
        except ValueError:
            meta = None
        named = meta.get(key) if isinstance(meta, dict) else None
        return Case("interactive", payload, row_check=(table, named))

    return st.builds(build, callback, _metadata(h), _state(h), _ids(h), st.booleans())


def event_cases(h: Harness) -> st.SearchStrategy[Case]:
    """Events API deliveries: random types, missing fields, and odd pins, reactions and messages in incident channels."""
    channel = h.incident.channel_id or ""
    channels = st.one_of(st.sampled_from([channel, channel, h.stack.channels["general"], "C0NOPE"]), st.none())
    ts = st.one_of(st.sampled_from(h.ids["ts"]), st.sampled_from(["", "1.2", "abc", "1e5", "١.٢", "-1.0"]),
                   st.text(max_size=15), st.none())
    message = st.fixed_dictionaries({}, optional={
        "ts": ts, "text": st.one_of(st.text(max_size=60), st.integers(), st.none()), "user": _ids(h),
        "files": st.one_of(st.just([{"id": "F1", "name": "x.png"}]), st.just("x"), st.just([1, None])),
        "thread_ts": st.one_of(st.none(), st.text(max_size=5)),
    })
    item = st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["message", "file", "", "MESSAGE"]), "channel": channels, "ts": ts, "message": message,
    })
    event = st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(EVENT_TYPES), st.text(max_size=20))},
        optional={"channel": channels, "channel_id": channels, "user": _ids(h), "item": item,
                  "reaction": st.sampled_from(["pushpin", "eyes", "", "📌"]), "ts": ts, "text": st.text(max_size=40),
                  "subtype": st.sampled_from(["message_changed", "message_deleted", "bot_message", "channel_join", "x"]),
                  "message": message, "previous_message": message, "deleted_ts": ts, "hidden": st.booleans()},
    )

    real_ts = st.sampled_from(h.ids["ts"])
    real_message = st.fixed_dictionaries({"ts": real_ts}, optional={
        "text": st.one_of(st.text(max_size=60), st.integers()), "user": _ids(h),
        "files": st.one_of(st.just([{"id": "F1", "name": "x.png"}]), st.just("x"), st.just([1, None])),
        "thread_ts": st.one_of(st.none(), real_ts, st.text(max_size=5)),
    })
    in_channel = st.one_of(  # what people do in an incident channel, with odd extras
        st.fixed_dictionaries({"type": st.just("pin_added"), "user": _ids(h), "channel_id": st.just(channel),
                               "item": st.fixed_dictionaries({"type": st.just("message"), "channel": st.just(channel),
                                                              "message": real_message})}),
        st.fixed_dictionaries({"type": st.just("reaction_added"), "user": _ids(h), "reaction": st.just("pushpin"),
                               "item": st.fixed_dictionaries({"type": st.just("message"), "channel": st.just(channel),
                                                              "ts": real_ts})}),
        st.fixed_dictionaries({"type": st.just("message"), "channel": st.just(channel), "message": real_message,
                               "subtype": st.sampled_from(["message_changed", "message_deleted"]),
                               "deleted_ts": real_ts}),
    )
    event = st.one_of(event, in_channel, in_channel)

    def build(event_: dict[str, Any]) -> Case:
        payload = {"token": "x", "team_id": "T0SANDBOX", "api_app_id": "A0SANDBOX", "type": "event_callback",
                   "event_id": "Ev" + uuid.uuid4().hex[:12].upper(), "event_time": int(time.time()), "event": event_}
        return Case("event", payload, invalid=event_invalid(event_, channel))

    return st.builds(build, event)


def event_invalid(event: dict[str, Any], incident_channel: str) -> bool:
    """Whether an event must change nothing: a kind the bot does not take, elsewhere, or naming no message."""
    kind, item = event.get("type"), event.get("item") or {}
    if kind == "pin_added":
        where = event.get("channel_id") or item.get("channel")
        ts = (item.get("message") or {}).get("ts")
    elif kind == "reaction_added":
        where, ts = item.get("channel"), item.get("ts")
        if event.get("reaction") != "pushpin" or item.get("type") != "message":
            return True
    elif kind == "message":
        if event.get("subtype") not in ("message_changed", "message_deleted"):
            return True
        return event.get("channel") != incident_channel  # an edit of a message nobody imported only changes text
    else:
        return True
    return where != incident_channel or not (isinstance(ts, str) and SLACK_TS.match(ts) is not None)


BREAKS_ANY: list[Callable[[dict[str, Any]], dict[str, Any]]] = [
    lambda p: {**p, "user": 5},
    lambda p: {**p, "user": {"id": "not-an-id"}},
    lambda p: {**p, "user": ["U1"]},
    lambda p: {**p, "channel": 7},
    lambda p: {**p, "team_id": 123},
    lambda p: {**p, "trigger_id": "../../etc"},
    lambda p: {**p, "type": "not_a_type"},
    lambda p: {k: v for k, v in p.items() if k != "type"},
    lambda p: {**p, "container": [1]},
    lambda p: {**p, "state": {"values": {"title": "x"}}},
    lambda p: {**p, "event": {**(p.get("event") or {}), "type": "pin_added", "item": {"message": "x"}}},
    lambda p: {**p, "event": {**(p.get("event") or {}), "type": "message", "channel": {"id": 5}}},
]
BREAKS_BY_TYPE: dict[str, list[Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "block_actions": [lambda p: {**p, "actions": "x"}, lambda p: {**p, "actions": [5]},
                      lambda p: {**p, "actions": []}, lambda p: {**p, "actions": [{"value": "1"}]}],
    "view_submission": [lambda p: {**p, "view": "x"}, lambda p: {**p, "view": {"callback_id": "status_form"}},
                        lambda p: {k: v for k, v in p.items() if k != "view"},
                        lambda p: {**p, "view": {**p["view"], "callback_id": 5}}],
    "event_callback": [lambda p: {**p, "event": "x"}, lambda p: {**p, "event": {"type": 5}},
                       lambda p: {k: v for k, v in p.items() if k != "event_id"},
                       lambda p: {k: v for k, v in p.items() if k != "event"}],
}
BREAKS_BY_TYPE["view_closed"] = BREAKS_BY_TYPE["view_submission"]


def misshapen_cases(h: Harness) -> st.SearchStrategy[Case]:
    """Signed payloads with one field of the wrong type or missing: not Slack requests, so 400 and nothing done."""
    shaped = st.one_of(block_action_cases(h), view_submission_cases(h), event_cases(h))

    def broken(case: Case, pick: int) -> Case:
        breaks = BREAKS_ANY + BREAKS_BY_TYPE[case.payload["type"]]
        return Case(case.kind, breaks[pick % len(breaks)](case.payload), expect=400, invalid=True)

    return st.builds(broken, shaped, st.integers(0, 100))


def _json_values() -> st.SearchStrategy[Any]:
    """Any JSON value, nested a little."""
    return st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                        max_leaves=10)


def _no_slack_keys(body: bytes) -> bool:
    """Random bytes must not happen to spell a Slack request."""
    return not any(word in body for word in (b"type", b"command", b"ssl_check"))


def malformed_cases() -> st.SearchStrategy[Case]:
    """Bodies that are not Slack requests at all, signed (400) or not (401)."""
    json_ct, form_ct = "application/json", "application/x-www-form-urlencoded"
    bodies = st.one_of(
        st.tuples(st.binary(max_size=200), st.sampled_from([json_ct, form_ct, "text/plain", "application/json; charset=bogus"])),
        st.tuples(_json_values().filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()), st.just(json_ct)),
        st.tuples(st.dictionaries(st.text(max_size=8), _json_values(), max_size=4).map(lambda v: json.dumps(v).encode()),
                  st.just(json_ct)),
        st.tuples(st.text(max_size=60).map(lambda t: urlencode({"payload": t}).encode()), st.just(form_ct)),
        st.tuples(st.sampled_from([b'{"type": "block_actions", ', b"{", b"[" * 50_000, b"\xff\xfe{}", b"payload=%FF",
                                   b'payload={"type":"view_submission"', b"a=b&c", b""]), st.sampled_from([json_ct, form_ct])),
    ).filter(lambda t: _no_slack_keys(t[0]))
    return st.builds(lambda b, signed: Case("raw", b[0], expect=400 if signed else 401, invalid=True,
                                            content_type=b[1], signed=signed), bodies, st.booleans())


# -- the tests --------------------------------------------------------------------------------------


def test_slash_command_texts(harness: Harness) -> None:
    h = harness
    general, inside, user = h.stack.channels["general"], h.incident.channel_id or "", h.stack.users["liu.yang"]
    explicit = tuple(Case("slash", text, user=user, channel=channel, invalid=slash_invalid(text, channel == inside))
                     for channel in (general, inside)
                     for text in ("payload", "note payload=%7B", "bogus " + "x" * 10_000, "done ²", "done ٣٣",
                                  "role tech <@U0NOBODY1|nobody>", "\x00\x01\x02", "statement show INC-1 x",
                                  "INC-1 role", "severity 99999999999999999999", "timeline INC-1 x"))
    _fuzz(h, slash_cases(h), examples=120, explicit=explicit)


def test_button_presses(harness: Harness) -> None:
    _fuzz(harness, block_action_cases(harness), examples=150)


def test_form_submissions(harness: Harness) -> None:
    _fuzz(harness, view_submission_cases(harness), examples=150)


def test_events(harness: Harness) -> None:
    _fuzz(harness, event_cases(harness), examples=150)


def test_misshapen_and_malformed_bodies(harness: Harness) -> None:
    _fuzz(harness, st.one_of(misshapen_cases(harness), malformed_cases()), examples=150)


# -- valid but over-long input: stored whole, shown within Slack's limits ----------------------------

LONG_TEXT = st.one_of(
    st.text(min_size=1, max_size=10_000),
    st.tuples(st.text(min_size=1, max_size=12), st.integers(1, 10_000)).map(lambda t: (t[0] * t[1])[:10_000]),
)


async def _latest(stack: LocalStack, model: type, column: Any) -> Any:
    """The newest row of a table."""
    async with stack.rt.sessions() as session:
        return (await session.exec(select(model).order_by(col(column).desc()))).first()


def test_over_long_notes_and_titles_are_stored_whole(harness: Harness) -> None:
    h = harness
    inside, general, user = h.incident.channel_id or "", h.stack.channels["general"], h.stack.users["li.na"]

    async def note_and_declare(body: str) -> None:
        body = body[:10_000 - len("Fuzz ")]  # titles are kept up to 10,000 characters (bot.incidents.MAX_TITLE)
        expected = ("Fuzz " + body).replace("\x00", "").strip()  # U+0000 is dropped at the edge; the rest is kept
        for kind, text, channel in (("note", f"note Fuzz {body}", inside),
                                    ("declare", f"declare sev4 site-outage Fuzz {body}", general)):
            reply = await h.stack.actor.slash("/incident", escape(text), user_id=user, channel_id=channel)
            await h.stack.settle()
            assert reply.status == 200 and h.watch.problems == [], h.watch.problems
            if kind == "note":
                stored = (await _latest(h.stack, TimelineEvent, TimelineEvent.id)).text
            else:
                stored = (await _latest(h.stack, Incident, Incident.id)).title
            assert stored == expected, (kind, len(stored), len(expected))
            assert _blockkit_problems(h, reply) == []
        assert await _refused_for_shape(h.stack) == []

    @settings(FUZZ, max_examples=12)
    @given(body=LONG_TEXT)
    @example(body="x" * 10_000)
    @example(body="长" * 10_000)
    @example(body="*加粗* <@U0NOBODY1|某人> <#C0NOPE|频道> `代码` payload \x00 " * 200)
    def check(body: str) -> None:
        h.run(note_and_declare(body))

    check()
