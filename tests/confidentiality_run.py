"""The confidentiality sweep's one whole run: the scenario, played with every log record captured, and what it left."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.db import utcnow
from bot.incidents import by_key
from bot.models import Incident
from bot.sandbox import Sandbox, people
from bot.scheduler import fire
from tests.confidentiality_secrets import (
    ALERT_TOKEN,
    APP_TOKEN,
    BOT_TOKEN,
    OUTSIDERS,
    PUBLIC_TITLE,
    SECRETS,
    SIGNING_SECRET,
)
from yingji.cli import main
from yingji.local import LocalStack

# -- capturing every log record ------------------------------------------------------------------

# Libraries that log message bodies or SQL parameters at DEBUG: reset as in a fresh process, so the
# run shows that the bot itself keeps them quiet (and not an earlier test).
CONTENT_LIBRARIES = ("slack_sdk", "slack_bolt", "aiosqlite", "asyncpg")
DEFAULT, OPTED_IN = "root at DEBUG", "slack_sdk and slack_bolt explicitly at DEBUG"


class LogSink(logging.Handler):
    """Keeps every record as a handler would write it (message, arguments, traceback), from any thread."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.phase = DEFAULT
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 — a broken record is still searched, as written
            text = f"{record.name}: {record.msg!r} {record.args!r}"
        self.records.append((self.phase, text))

    def text(self, phase: str | None = None) -> str:
        """The records of one phase (or all), one per line."""
        return "\n".join(line for when, line in self.records if phase is None or when == phase)


@contextlib.contextmanager
def capture_all_logs() -> Iterator[LogSink]:
    """The root logger at DEBUG, as an operator chasing a problem sets it, and a sink on it and on
    every logger that does not propagate, so no record escapes; everything is put back afterwards."""
    sink = LogSink()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in CONTENT_LIBRARIES}
    before = root.level
    for name in CONTENT_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET)
    root.setLevel(logging.DEBUG)
    root.addHandler(sink)
    loners = [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger) and not lg.propagate]
    for logger in loners:
        logger.addHandler(sink)
    try:
        yield sink
    finally:
        root.removeHandler(sink)
        root.setLevel(before)
        for logger in loners:
            logger.removeHandler(sink)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


# -- one whole run -------------------------------------------------------------------------------


@dataclass
class Run:
    """What the run left behind: the sandbox's Slack, outputs, the bot's HTTP answers, the logs."""

    sb: Sandbox
    users: dict[str, str]
    channels: dict[str, str]
    logs: LogSink
    private_channels: dict[str, str] = field(default_factory=dict)   # incident key -> its channel id
    outputs: dict[str, str] = field(default_factory=dict)            # CLI outputs, /metrics, members' replies
    http_answers: list[str] = field(default_factory=list)            # the bot's answers to refused requests

    @property
    def outsider_ids(self) -> set[str]:
        """The people who are in no private incident."""
        return {self.users[name] for name in OUTSIDERS}


def _config(users: dict[str, str]) -> dict[str, Any]:
    """A comms approver, and an outsider among the escalation people (to be told key and severity only)."""
    return {"comms_approvers": [users["wang.fang"]], "escalation": [users["guest"]]}


async def _slash(stack: LocalStack, user: str, text: str, channel: str = "general", channel_id: str | None = None) -> str:
    """Run `/incident <text>` as `user` and let the work settle; returns what the person was shown in reply."""
    reply = await stack.actor.slash("/incident", text, user_id=stack.users[user],
                                    channel_id=channel_id or stack.channels[channel])
    await stack.settle()
    assert reply.status == 200, (text, reply.status, reply.body)
    return json.dumps(reply.message) if reply.message else reply.body


async def _incident(stack: LocalStack, key: str) -> Incident:
    """An incident by key, once its channel exists (every path below needs the channel)."""
    async with stack.rt.sessions() as session:
        found = await by_key(session, key)
    assert found is not None and found.channel_id, f"{key} should exist with a channel"
    return found


def _statement_values(stack: LocalStack) -> dict[str, dict[str, Any]]:
    """A statement draft whose facts carry the secret."""
    later = (utcnow() + timedelta(minutes=30)).astimezone(stack.rt.settings.tz).strftime("%Y-%m-%d %H:%M")
    facts = {"what_happened": SECRETS["statement"], "affected": "部分会员", "doing": "已下线相关接口并排查",
             "customer_action": "请留意异常短信", "compensation": "", "data": "unknown", "data_detail": ""}
    values = {name: {"value": value} for name, value in facts.items()}
    values.update(stage={"value": "investigating"}, language={"value": "zh"}, next_update={"value": later})
    return values


async def _declare_private_by_form(stack: LocalStack, run: Run) -> Incident:
    """张伟 opens the form in #general and declares a payment incident, ticking "private" (INC-1)."""
    await _slash(stack, "zhang.wei", "declare")
    view_id = [k for k, v in stack.sandbox.views.items() if v.get("callback_id") == "declare_form"][-1]
    submitted = await stack.actor.submit_view(view_id, stack.users["zhang.wei"], values={
        "title": {"value": SECRETS["title"]}, "playbook": {"value": "payment-failure"},
        "severity": {"value": "sev3"}, "summary": {"value": SECRETS["summary"]}, "options": {"value": ["private"]},
    })
    assert submitted.status == 200, submitted.body
    await stack.settle()
    incident = await _incident(stack, "INC-1")
    assert incident.private, "the form's private option should make INC-1 private"
    run.private_channels["INC-1"] = incident.channel_id or ""
    return incident


async def _work_the_incident(stack: LocalStack, incident: Incident) -> None:
    """Raise to sev1 (leadership is told), escalate (no commander yet), staff it, write into it."""
    u, inside = stack.users, incident.channel_id
    await _slash(stack, "zhang.wei", f"severity sev1 {SECRETS['severity reason']}", channel_id=inside)
    await asyncio.to_thread(fire, "escalate", incident.id)  # what the timer does when no commander came
    await stack.settle()
    for role, person in (("commander", "chen.jie"), ("comms", "wang.fang"), ("legal", "li.na")):
        await _slash(stack, "zhang.wei", f"role {role} <@{u[person]}>", channel_id=inside)
    await _slash(stack, "zhang.wei", f"note {SECRETS['note']}", channel_id=inside)
    await _slash(stack, "zhang.wei", f"note action: {SECRETS['action item']}", channel_id=inside)
    await _slash(stack, "chen.jie", f"status identified {SECRETS['status note']}", channel_id=inside)
    said = people.say(stack.actor, u["chen.jie"], inside or "", SECRETS["pinned message"])
    await people.pin(stack.actor, u["zhang.wei"], inside or "", said["ts"])
    await stack.settle()
    await _slash(stack, "zhang.wei", "statement", channel_id=inside)
    view_id = [k for k, v in stack.sandbox.views.items() if v.get("callback_id") == "statement_form"][-1]
    drafted = await stack.actor.submit_view(view_id, u["zhang.wei"], values=_statement_values(stack))
    assert drafted.status == 200 and not (drafted.json or {}).get("errors"), drafted.body
    await stack.settle()
    await _slash(stack, "zhang.wei", "done 1", channel_id=inside)


async def _private_drill(stack: LocalStack, run: Run) -> None:
    """A drill of the breach playbook (private by its playbook), run to its scorecard (INC-2)."""
    await _slash(stack, "zhang.wei", f"drill data-breach {SECRETS['drill title']}")
    drill = await _incident(stack, "INC-2")
    assert drill.drill and drill.private, "a drill of a private playbook should be private"
    run.private_channels["INC-2"] = drill.channel_id or ""
    await _slash(stack, "zhang.wei", f"role commander <@{stack.users['zhang.wei']}>", channel_id=drill.channel_id)
    await _slash(stack, "zhang.wei", "resolve 演练结束", channel_id=drill.channel_id)
    await _slash(stack, "zhang.wei", "close", channel_id=drill.channel_id)


async def _alert(stack: LocalStack, run: Run) -> None:
    """Monitoring opens a breach incident through the alert hook (INC-3); a wrong bearer is refused."""
    body = {"title": SECRETS["alert title"], "summary": SECRETS["alert summary"], "dedup_key": "export-anomaly",
            "playbook": "data-breach", "severity": "sev2", "source": "siem"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{stack.server.url}/hooks/alert", json=body,
                             headers={"Authorization": f"Bearer {ALERT_TOKEN}"}) as resp:
            assert resp.status == 200, await resp.text()
        async with http.post(f"{stack.server.url}/hooks/alert", json=body,
                             headers={"Authorization": "Bearer not-the-token"}) as resp:
            run.http_answers.append(f"alert hook, wrong bearer: {resp.status} {await resp.text()}")
    await stack.settle()
    run.private_channels["INC-3"] = (await _incident(stack, "INC-3")).channel_id or ""


async def _outsiders_ask(stack: LocalStack, run: Run) -> None:
    """Outsiders ask about every incident from the shared channels they are in; a member asks too."""
    await _slash(stack, "li.na", f"declare sev2 site-outage {PUBLIC_TITLE}")  # INC-4, public
    for user, channel in (("guest", "general"), ("guest", "incidents"), ("liu.yang", "leadership")):
        for key in ("INC-1", "INC-2", "INC-3", "INC-4"):
            for sub in ("summary", "timeline", "roles", "steps", "statement show"):
                await _slash(stack, user, f"{sub} {key}", channel)
            if key != "INC-4":
                await _slash(stack, user, f"note {key} 我也想看看", channel)
                await _slash(stack, user, f"severity {key} sev1 外部人员升级", channel)
        await _slash(stack, user, "list", channel)
    for key in ("INC-1", "INC-3"):  # a Next button of a private timeline, as a forged click would carry it
        found = await _incident(stack, key)
        await stack.actor.block_action(stack.users["guest"], "timeline_page_next", value=f"{found.id}:0",
                                       channel_id=stack.channels["general"], message_ts=stack.sandbox.new_ts())
        await stack.settle()
    for command in ("summary INC-1", "timeline INC-1", "list"):
        run.outputs[f"member: {command} from #general"] = await _slash(stack, "zhang.wei", command)


async def _reports(stack: LocalStack, run: Run) -> None:
    """/metrics, and the offline reports as anyone with the database runs them."""
    async with aiohttp.ClientSession() as http, http.get(f"{stack.server.url}/metrics") as resp:
        run.outputs["/metrics"] = await resp.text()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", stack.rt.settings.database_url)
        patch.setenv("YINGJI_CONFIG", str(stack.rt.settings.config_path))
        run.outputs["yingji report"] = await asyncio.to_thread(_cli, ["report", "--since", "30d"])
        run.outputs["yingji drills"] = await asyncio.to_thread(_cli, ["drills"])
        for fmt in ("md", "json", "csv"):
            target = stack.data_dir / f"export.{fmt}"
            await asyncio.to_thread(_cli, ["export", "INC-1", "--format", fmt, "-o", str(target)])
            run.outputs[f"yingji export {fmt}"] = target.read_text(encoding="utf-8")


def _cli(argv: list[str]) -> str:
    """Run the console script; returns what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0, argv
    return out.getvalue()


async def _bad_day(stack: LocalStack, run: Run) -> None:
    """Slack refuses and fails; forged, stale and unsigned requests arrive. People hear of the errors."""
    sb, inside = stack.sandbox, run.private_channels["INC-1"]
    for kind, error in (("error", "invalid_auth"), ("error", "not_in_channel"), ("5xx", ""), ("reset", "")):
        sb.faults.add("chat.postMessage", kind, **({"error": error} if error else {}))
        await _slash(stack, "zhang.wei", f"note 故障注入 {kind} {error}", channel_id=inside)
    sb.faults.add("views.open", "error", error="invalid_auth")
    await _slash(stack, "guest", "declare")  # the form cannot open: the guest is told why
    sb.faults.add("users.info", "error", times=5, error="invalid_auth")
    await _slash(stack, "zhang.wei", f"role tech <@{stack.users['liu.yang']}>", channel_id=inside)
    sb.faults.add("*", "error", times=40, error="invalid_auth")  # the token was revoked mid-incident
    await _slash(stack, "zhang.wei", "declare sev3 site-outage 令牌失效时的声明")
    sb.faults.clear()
    for what, kwargs in (("forged", {"bad_signature": True}), ("stale", {"timestamp": int(time.time()) - 600}),
                         ("unsigned", {"sign": False})):
        refused = await stack.actor.slash("/incident", "list", user_id=stack.users["guest"],
                                          channel_id=stack.channels["general"], **kwargs)
        run.http_answers.append(f"{what} request: {refused.status} {refused.body} {refused.headers}")


async def _socket_mode_restart(sb: Sandbox, data_dir: Path, run: Run) -> None:
    """The bot restarts in Socket Mode (the app token in use), with slack_sdk and slack_bolt explicitly at
    DEBUG: an operator's choice that may log bodies, but never a token."""
    chosen = {name: logging.getLogger(name) for name in ("slack_sdk", "slack_bolt")}
    for logger in chosen.values():
        logger.setLevel(logging.DEBUG)
    run.logs.phase = OPTED_IN
    stack = await LocalStack.start(data_dir, sandbox=sb, socket_mode=True, config=_config, alert_token=ALERT_TOKEN)
    try:
        for _ in range(250):
            if sb.socket_connected:
                break
            await asyncio.sleep(0.02)
        assert sb.socket_connected, "Socket Mode should connect"
        await _slash(stack, "guest", "list")
        await _slash(stack, "guest", "summary INC-1")
        run.outputs["member: summary INC-1 over Socket Mode"] = await _slash(stack, "zhang.wei", "summary INC-1")
        sb.faults.add("chat.postMessage", "error", error="invalid_auth")
        sb.faults.add("chat.postMessage", "5xx")
        await _slash(stack, "zhang.wei", "note 重启后的故障注入", channel_id=run.private_channels["INC-1"])
    finally:
        await stack.stop(keep_sandbox=True)
        for logger in chosen.values():
            logger.setLevel(logging.NOTSET)


async def play(data_dir: Path) -> Run:
    """The whole run, start to finish, with every log record captured."""
    with capture_all_logs() as sink:
        sb = Sandbox(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, app_token=APP_TOKEN)
        await sb.start()
        try:
            stack = await LocalStack.start(data_dir, sandbox=sb, config=_config, alert_token=ALERT_TOKEN)
            run = Run(sb=sb, users=stack.users, channels=stack.channels, logs=sink)
            try:
                incident = await _declare_private_by_form(stack, run)
                await _work_the_incident(stack, incident)
                await _private_drill(stack, run)
                await _alert(stack, run)
                await _outsiders_ask(stack, run)
                await asyncio.to_thread(fire, "digest")  # what the scheduler does at digest_time
                await stack.settle()
                await _slash(stack, "chen.jie", f"resolve {SECRETS['resolution']}", channel_id=incident.channel_id)
                await _reports(stack, run)
                await _bad_day(stack, run)
            finally:
                await stack.stop(keep_sandbox=True)
            await _socket_mode_restart(sb, data_dir, run)
        finally:
            await sb.stop()
    return run

