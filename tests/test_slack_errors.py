"""Slack's error vocabulary: every code the sandbox can answer is classified, and each kind is handled as promised.

The codes are read from the sandbox's source (every `SlackError("…")` a handler can reach, and the server's own
answers), so a new refusal in the sandbox without a row in bot/slack/error_codes.py fails here by name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlmodel import select

import bot
from bot.models import Incident, SlackOp, TimelineEvent
from bot.sandbox.faults import RetryAfter
from bot.slack.error_codes import COMMON, METHODS, ErrorKind, kind_of
from bot.slack.errors import DEFAULT_RETRY_AFTER, MAX_RETRY_AFTER, MIN_RETRY_AFTER, retry_after
from tests.helpers import StackFactory, declare
from yingji.local import LocalStack

ROOT = Path(bot.__file__).resolve().parent.parent
SANDBOX = ROOT / "bot" / "sandbox"


# -- the sandbox's vocabulary, read off its source --------------------------------------------------------------

class SandboxSource:
    """Every function of the sandbox, and what each call inside it can reach, resolved the way the code names it."""

    def __init__(self) -> None:
        self.functions: dict[tuple[str, str], ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.handlers: dict[str, ast.AST] = {}
        for path in sorted(SANDBOX.glob("*.py")):
            module = ast.parse(path.read_text(encoding="utf-8"))
            for node in module.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self.functions[(path.stem, node.name)] = node
                elif isinstance(node, ast.ClassDef):
                    for item in node.body:
                        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                            self.functions[(node.name, item.name)] = item
                elif isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "HANDLERS":
                    assert isinstance(node.value, ast.Dict)
                    for key, value in zip(node.value.keys, node.value.values, strict=True):
                        if key is None:  # server.py's merge of the api_* tables
                            continue
                        # a handler is named (`invite`) or built by a call (`_set_text("topic")`)
                        named = isinstance(value, ast.Name) and self.functions.get((path.stem, value.id))
                        self.handlers[ast.literal_eval(key)] = named or value

    def _callee(self, call: ast.Call) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
        """The sandbox functions a call may run: a module function by name, a Workspace / Params method, a module's."""
        func = call.func
        if isinstance(func, ast.Name):
            return [f for (_, name), f in self.functions.items() if name == func.id]
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owners = {"sb": ("Sandbox", "Workspace"), "self": ("Sandbox", "Workspace"), "p": ("Params",),
                      "params": ("Params",)}.get(func.value.id, (func.value.id,))
            return [f for owner in owners if (f := self.functions.get((owner, func.attr)))]
        return []

    def codes(self, start: ast.AST) -> set[str]:
        """Every error code the code from `start` can answer, following the calls it makes."""
        found: set[str] = set()
        seen: set[int] = set()
        todo: list[ast.AST] = [start]
        while todo:
            node = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            for sub in ast.walk(node):
                found |= set(_literal_codes(sub))
                if isinstance(sub, ast.Call):
                    todo += self._callee(sub)
        return found

    def method_codes(self, method: str) -> set[str]:
        """What the sandbox can answer a call of `method` with: its handler's refusals and the server's own."""
        return self.codes(self.handlers[method]) | self.codes(self.functions[("Sandbox", "_api")])


def _literal_codes(node: ast.AST) -> Iterator[str]:
    """Codes written at this node: SlackError("…"), error="…" passed or defaulted, {"error": "…"}."""
    if isinstance(node, ast.Call):
        if getattr(node.func, "id", "") == "SlackError" and node.args and isinstance(node.args[0], ast.Constant):
            yield str(node.args[0].value)
        yield from (str(k.value.value) for k in node.keywords
                    if k.arg == "error" and isinstance(k.value, ast.Constant))
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = node.args.args[len(node.args.args) - len(node.args.defaults):]
        yield from (str(d.value) for a, d in zip(args, node.args.defaults, strict=True)
                    if a.arg == "error" and isinstance(d, ast.Constant))
    elif isinstance(node, ast.Dict):
        yield from (str(v.value) for k, v in zip(node.keys, node.values, strict=True)
                    if isinstance(k, ast.Constant) and k.value == "error" and isinstance(v, ast.Constant))


def _bot_methods() -> set[str]:
    """The Web API methods the bot's own code calls (`client.chat_postMessage(…)` is chat.postMessage)."""
    methods: set[str] = set()
    for folder in ("bot", "commands", "yingji"):
        for path in (ROOT / folder).rglob("*.py"):
            if SANDBOX in path.parents:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and (getattr(node.func.value, "id", "") == "client"
                             or getattr(node.func.value, "attr", "") == "client")):
                    methods |= UPLOAD_V2 if node.func.attr == "files_upload_v2" else {node.func.attr.replace("_", ".")}
    return methods


UPLOAD_V2 = {"files.getUploadURLExternal", "files.completeUploadExternal"}


def test_the_table_covers_every_method_the_bot_calls() -> None:
    assert _bot_methods() == set(METHODS)


def test_every_code_the_sandbox_answers_is_classified() -> None:
    source = SandboxSource()
    missing = [(method, code) for method in sorted(METHODS) for code in sorted(source.method_codes(method))
               if kind_of(method, code) is None]
    assert missing == [], "codes the sandbox answers that bot/slack/error_codes.py does not classify"


def test_the_sandbox_source_reading_finds_what_it_should() -> None:
    """A guard on the reading itself: known refusals of known methods are found, the server's too."""
    source = SandboxSource()
    assert {"ura_max_channels", "user_is_restricted", "user_is_deleted", "not_in_channel",
            "missing_scope", "ratelimited"} <= source.method_codes("conversations.invite")
    assert {"user_disabled", "cannot_dm_bot", "users_list_not_supplied"} <= source.method_codes("conversations.open")
    assert {"invalid_blocks_format", "invalid_metadata_format", "no_text"} <= source.method_codes("chat.postMessage")


def test_only_slacks_own_trouble_is_retried() -> None:
    """Nothing a method documents as its own refusal is retried, bar Slack's own internal failures."""
    retried = {code for codes in (COMMON, *METHODS.values()) for code, kind in codes.items()
               if kind is ErrorKind.TRANSIENT}
    assert retried == {"internal_error", "fatal_error", "service_unavailable", "request_timeout",
                       "update_failed", "file_update_failed", "list_record_comment_fetch_failed"}
    assert kind_of("conversations.invite", "no_permission") is ErrorKind.PERSON  # the method's own entry wins
    assert kind_of("chat.update", "no_permission") is ErrorKind.PERMANENT


# -- Retry-After in every form -------------------------------------------------------------------------------

NOW = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("header", "seconds"), [
    ("7", 7.0), ("2.5", 2.5), (["3"], 3.0), ("0", MIN_RETRY_AFTER), ("-4", MIN_RETRY_AFTER),
    (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
    (format_datetime(NOW - timedelta(hours=1), usegmt=True), MIN_RETRY_AFTER),
    ("86400", MAX_RETRY_AFTER),
    ("soon", DEFAULT_RETRY_AFTER), ("", DEFAULT_RETRY_AFTER), (None, DEFAULT_RETRY_AFTER), ("nan", DEFAULT_RETRY_AFTER),
    ("inf", DEFAULT_RETRY_AFTER), ("Mon, 99 Foo 2015", DEFAULT_RETRY_AFTER),
])
def test_retry_after_reads_every_form(header: str | list[str] | None, seconds: float) -> None:
    headers = {} if header is None else {"Retry-After": header}
    assert retry_after(headers, now=NOW) == seconds


# -- each kind, handled as promised by the outbox ------------------------------------------------------------

def _calls(stack: LocalStack, method: str) -> int:
    return [m for m, _ in stack.sandbox.calls].count(method)


async def _op(stack: LocalStack, kind: str) -> SlackOp:
    async with stack.rt.sessions() as session:
        return (await session.exec(select(SlackOp).where(SlackOp.kind == kind))).one()


@pytest.mark.parametrize(("method", "op", "code"), [
    ("pins.add", "pin_header", "not_pinnable"),
    ("pins.add", "pin_header", "permission_denied"),
    ("conversations.setTopic", "set_topic", "user_is_restricted"),
    ("conversations.setPurpose", "set_purpose", "a_code_slack_has_not_documented_yet"),
])
async def test_a_permanent_error_is_tried_once(stack: LocalStack, method: str, op: str, code: str) -> None:
    stack.sandbox.faults.add(method, "error", error=code, times=None)
    incident = await declare(stack)
    failed = await _op(stack, op)
    assert (_calls(stack, method), failed.status, failed.attempts, failed.error) == (1, "failed", 1, code)
    told = [r["text"] for r in stack.sandbox.responses if f"/incident repair {incident.key}" in str(r.get("text"))]
    assert told and code in told[0]


async def test_slacks_own_trouble_is_retried(stack: LocalStack) -> None:
    stack.sandbox.faults.add("pins.add", "error", error="internal_error", times=2)
    incident = await declare(stack)
    assert _calls(stack, "pins.add") == 3
    assert stack.sandbox.channels[incident.channel_id].pins == [incident.header_ts]


RETRY_AFTERS: list[RetryAfter] = [1, 1.5, "soon", None]


@pytest.mark.parametrize("header", [*RETRY_AFTERS, "date"], ids=[repr(h) for h in [*RETRY_AFTERS, "date"]])
async def test_a_rate_limit_with_any_retry_after_is_waited_out(make_stack: StackFactory, header: RetryAfter) -> None:
    stack = await make_stack(rate_limits=False)
    when = datetime.now(UTC) + timedelta(seconds=2) if header == "date" else header
    stack.sandbox.faults.add("pins.add", "429", retry_after=when)
    incident = await declare(stack)
    assert _calls(stack, "pins.add") == 2
    assert stack.sandbox.channels[incident.channel_id].pins == [incident.header_ts]
    assert (await _op(stack, "tell_declarer_ready")).status == "done"
    assert stack.rt.tasks.failures == 0


# -- a person Slack will not let in keeps only themselves out --------------------------------------------------

GUESTS = {
    "single-channel guest": ({"is_ultra_restricted": True}, "ura_max_channels", "single-channel guest"),
    "multi-channel guest": ({"is_restricted": True}, "user_is_restricted", "guest account"),
    "deactivated": ({"deleted": True}, "user_is_deleted", "deactivated"),
}


@pytest.mark.parametrize("who", list(GUESTS))
async def test_a_default_holder_slack_refuses_keeps_only_themselves_out(make_stack: StackFactory, who: str) -> None:
    stack = await make_stack(config=lambda users: {
        "language": "en", "default_roles": {"comms": users["wang.fang"], "support": users["guest"]}})
    sb, u = stack.sandbox, stack.users
    flags, code, reason = GUESTS[who]
    for name, value in flags.items():
        setattr(sb.users[u["guest"]], name, value)
    incident = await declare(stack)
    members = sb.channels[incident.channel_id].members
    assert {u["zhang.wei"], u["wang.fang"]} <= members and u["guest"] not in members
    singles = [params["users"] for method, params in sb.calls if method == "conversations.invite"][1:]
    assert sorted(singles) == sorted([u["zhang.wei"], u["wang.fang"], u["guest"]])  # each once, after the batch
    [event] = await _events(stack, incident, "members_invited")
    assert event.data == {"invited": [u["zhang.wei"], u["wang.fang"]], "refused": {u["guest"]: code}}
    [ready] = [r["text"] for r in sb.responses if ":white_check_mark:" in str(r.get("text"))]
    assert f"<@{u['guest']}>" in ready and reason in ready and f"<@{u['wang.fang']}>" not in ready
    assert (await _op(stack, "invite")).attempts == 1


async def test_with_nobody_refused_the_ready_notice_says_only_that(stack: LocalStack) -> None:
    incident = await declare(stack)
    [event] = await _events(stack, incident, "members_invited")
    assert event.data == {"invited": [stack.users["zhang.wei"]], "refused": {}}
    [ready] = [r["text"] for r in stack.sandbox.responses if "已就绪" in str(r.get("text"))]
    assert "未能" not in ready


async def _events(stack: LocalStack, incident: Incident, kind: str) -> list[TimelineEvent]:
    """An incident's timeline events of one kind."""
    async with stack.rt.sessions() as session:
        return list((await session.exec(select(TimelineEvent).where(
            TimelineEvent.incident_id == incident.id, TimelineEvent.kind == kind))).all())
