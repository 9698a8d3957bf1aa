"""Private incidents stay private and secrets stay secret: a sweep of everything an outsider can read.

One run, with every log record of every logger captured at DEBUG, plays three private incidents —
one declared through the form's private option, a drill of the (private) breach playbook, one opened
by an alert for that playbook — and a public one, with every path that could carry their words out:
the announce and leadership channels (sev1 notice, escalation, digest), escalation DMs,
`/incident list`, summaries, timelines, roles, steps and statements asked by outsiders from shared
channels, a forged timeline button, `/metrics`, `yingji report`, `yingji drills`. Slack then has a
bad day (invalid_auth, not_in_channel, 5xx, dropped connections), forged, stale and unsigned
requests arrive, and the bot restarts in Socket Mode with an operator's explicit DEBUG on
slack_sdk and slack_bolt. The tables below say, path by path, how to read what outsiders see (no
secret word may be there), what members see (the same words must be there, so the sweep can fail),
and where a token or the signing secret could surface (never).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
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
from yingji.cli import main
from yingji.local import LocalStack

# -- what must never leak ------------------------------------------------------------------------

# Each private fact starts with an ASCII token found nowhere else (it survives JSON's \u escapes,
# URL encoding and channel-name slugs); its Chinese tail is looked for too.
SECRETS: dict[str, str] = {
    "title": "ZQXJTITLE4471 会员手机号批量导出",
    "summary": "ZQXJSUMMARY9203 合作方接口越权读取收货地址",
    "severity reason": "ZQXJREASON5518 涉及人数超过一万",
    "status note": "ZQXJSTATUS6640 定位到旧版导出接口",
    "note": "ZQXJNOTE3382 攻击者出口地址已封禁",
    "action item": "ZQXJACTION1207 轮换合作方访问密钥",
    "pinned message": "ZQXJPINNED8854 导出日志截图在工单里",
    "statement": "ZQXJSTATEMENT2719 部分会员的收货信息可能被访问",
    "resolution": "ZQXJRESOLVED0416 导出接口已下线",
    "drill title": "ZQXJDRILL7732 撞库演练",
    "alert title": "ZQXJALERT5093 异常批量导出告警",
    "alert summary": "ZQXJALERTSUM6128 单个令牌一分钟导出两万行",
}
PUBLIC_TITLE = "PUBLICVISIBLE 首页白屏"  # a public incident's title: outsiders do see this one

BOT_TOKEN = "xoxb-confid-bot-3f9a1c77e2d5"
APP_TOKEN = "xapp-confid-app-8b2d44f1a06c"
SIGNING_SECRET = "confid-signing-c41e9d0b5718"
ALERT_TOKEN = "confid-alert-6d2f0a93b1e4"
TOKENS: dict[str, str] = {
    "bot token": BOT_TOKEN, "app token": APP_TOKEN, "signing secret": SIGNING_SECRET, "alert token": ALERT_TOKEN,
}

OUTSIDERS = ("guest", "liu.yang")  # in #general, #incidents and #leadership; never in a private incident
# Libraries that log message bodies or SQL parameters at DEBUG: reset as in a fresh process, so the
# run shows that the bot itself keeps them quiet (and not an earlier test).
CONTENT_LIBRARIES = ("slack_sdk", "slack_bolt", "aiosqlite", "asyncpg")
DEFAULT, OPTED_IN = "root at DEBUG", "slack_sdk and slack_bolt explicitly at DEBUG"


def needles(secret: str) -> list[str]:
    """The distinctive parts of a secret: its leading token and its tail."""
    head, _, tail = secret.partition(" ")
    return [part for part in (head, tail) if part]


def token_needles(token: str) -> list[str]:
    """A token and its random tail, so a cut-off token is caught too."""
    return [token, token.rsplit("-", 1)[-1]]


def leaks(text: str, secrets: dict[str, str], split: Callable[[str], list[str]] = needles) -> list[str]:
    """Which secrets (by name) show up in `text`, ignoring case (channel names are lowercased)."""
    folded = text.casefold()
    return [name for name, secret in secrets.items() if any(part.casefold() in folded for part in split(secret))]


def dump(value: Any) -> str:
    """Everything a person could read in Slack objects (text, blocks, files, metadata), as one string."""
    return json.dumps(value, ensure_ascii=False, default=str)


# -- capturing every log record ------------------------------------------------------------------


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
    """Run `/incident <text>` as `user` and let the work settle; returns the ack body."""
    reply = await stack.actor.slash("/incident", text, user_id=stack.users[user],
                                    channel_id=channel_id or stack.channels[channel])
    await stack.settle()
    assert reply.status == 200, (text, reply.status, reply.body)
    return reply.body


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
             "customer_action": "请留意异常短信", "compensation": "", "data_lost": "unknown", "data_detail": ""}
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
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack.server.url}/metrics") as resp:
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


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One run for the whole module (on its own event loop); every check below reads what it left."""
    return asyncio.run(play(tmp_path_factory.mktemp("confidentiality")))


# -- how to read each path -----------------------------------------------------------------------

Reader = Callable[[Run], str]


def _messages(run: Run, channel_id: str) -> str:
    """Every message, thread reply and pin of a channel, and the files shared there with their contents."""
    channel = run.sb.channels[channel_id]
    parts = [dump(channel.messages)]
    for message in channel.messages:
        for shared in message.get("files") or []:
            stored = run.sb.files.get(shared.get("id", ""), {})
            parts.append(dump({k: v for k, v in stored.items() if k != "bytes"}))
            parts.append(bytes(stored.get("bytes") or b"").decode("utf-8", "replace"))
    return "\n".join(parts)


def _shared(name: str) -> Reader:
    """A shared channel, as its members (the outsiders among them) read it."""

    def read(run: Run) -> str:
        channel = run.sb.channels[run.channels[name]]
        assert run.outsider_ids <= channel.members, f"the outsiders should be in #{name}"
        return _messages(run, channel.id)

    return read


def _other_channels_of_outsiders(run: Run) -> str:
    """Any other channel an outsider was brought into (an incident channel would be a leak in itself)."""
    seeded = set(run.channels.values())
    return "\n".join(_messages(run, c.id) for c in run.sb.channels.values()
                     if not c.is_im and c.id not in seeded and c.members & run.outsider_ids)


def _directory(run: Run) -> str:
    """What anyone sees of channels without joining them: public names, topics, purposes, bookmarks."""
    return dump([[c.name, c.topic, c.purpose, c.bookmarks] for c in run.sb.channels.values()
                 if not c.is_private and not c.is_im])


def _dms_to_outsiders(run: Run) -> str:
    """Direct messages from the bot to outsiders (the escalation notice among them)."""
    return "\n".join(_messages(run, c.id) for c in run.sb.channels.values() if c.is_im and c.im_user in run.outsider_ids)


def _ephemerals_to_outsiders(run: Run) -> str:
    """Command replies and chat.postEphemeral messages shown only to outsiders."""
    return dump([e for e in run.sb.ephemerals if e.get("user") in run.outsider_ids])


def _responses_to_outsiders(run: Run) -> str:
    """Everything posted to the response_urls of outsiders' commands and clicks."""
    return dump([r for r in run.sb.responses if r.get("user") in run.outsider_ids])


def _everything_people_see(run: Run) -> str:
    """Every channel, DM, thread, file, reply, response_url post and form, members' and outsiders' alike."""
    channels = "\n".join(_messages(run, channel_id) for channel_id in run.sb.channels)
    return "\n".join([channels, dump(run.sb.ephemerals), dump(run.sb.responses), dump(run.sb.views)])


def _output(name: str) -> Reader:
    """A captured output (CLI, /metrics, a member's reply), read as its reader would."""
    return lambda run: run.outputs[name]


def _private_channel(key: str) -> Reader:
    """A private incident's channel, as its members read it."""
    return lambda run: _messages(run, run.private_channels[key])


def _logs(phase: str | None) -> Reader:
    """The log records of one phase of the run, as the log's readers see them."""
    return lambda run: run.logs.text(phase)


def _http_answers(run: Run) -> str:
    """What the bot answered to requests it refused (the sender reads these)."""
    return "\n".join(run.http_answers)


def _outputs(run: Run) -> str:
    """Every captured output together."""
    return "\n".join(run.outputs.values())


# -- outsiders never see a private word ----------------------------------------------------------

# (path, how to read what outsiders see there, words proving the reading found the path's content)
OUTSIDER_PATHS: list[tuple[str, Reader, tuple[str, ...]]] = [
    ("#general, where the incidents were declared", _shared("general"), ()),
    ("#incidents, the announcements", _shared("incidents"), ("INC-1", "INC-2", "INC-3", "PUBLICVISIBLE")),
    ("#leadership: sev1 notice, escalation, digest", _shared("leadership"),
     (":arrow_double_up: 事件升级为 INC-1", ":rotating_light: INC-1", "每日应急摘要", "PUBLICVISIBLE")),
    ("other channels an outsider is in", _other_channels_of_outsiders, ()),
    ("public channel names, topics and bookmarks", _directory, ("incidents",)),
    ("escalation and other DMs to outsiders", _dms_to_outsiders, ("INC-1",)),
    ("replies to outsiders' list / summary / timeline / roles / steps / statement", _ephemerals_to_outsiders,
     ("找不到事件 INC-1", "找不到事件 INC-3", "PUBLICVISIBLE")),
    ("response_url posts to outsiders", _responses_to_outsiders, ("invalid_auth",)),
    ("/metrics", _output("/metrics"), ('yingji_incidents_30d{severity="sev1"}',)),
    ("yingji report", _output("yingji report"), ("By severity", "payment-failure")),
    ("yingji drills", _output("yingji drills"), ("INC-2", "data-breach")),
    ("logs, every logger at DEBUG from the root", _logs(DEFAULT), ("DEBUG", "invalid_auth", "not_in_channel")),
    ("the bot's HTTP answers to refused requests", _http_answers, ("401",)),
]


@pytest.mark.parametrize("path, read, proof", OUTSIDER_PATHS, ids=[p[0] for p in OUTSIDER_PATHS])
def test_outsiders_never_see_private_words(run: Run, path: str, read: Reader, proof: tuple[str, ...]) -> None:
    seen = read(run)
    missing = [word for word in proof if word not in seen]
    assert not missing, f"{path}: the sweep did not find what this path should show ({missing})"
    found = leaks(seen, SECRETS)
    assert not found, f"{path} shows a private incident's {', '.join(found)} to people outside it"


# -- members do see them (so the sweep above can fail) -------------------------------------------

MEMBER_PATHS: list[tuple[str, Reader, tuple[str, ...]]] = [
    ("INC-1's private channel", _private_channel("INC-1"),
     ("title", "summary", "note", "status note", "pinned message", "statement", "resolution")),
    ("INC-2's private channel", _private_channel("INC-2"), ("drill title",)),
    ("INC-3's private channel", _private_channel("INC-3"), ("alert title", "alert summary")),
    ("a member's summary INC-1 from #general", _output("member: summary INC-1 from #general"), ("title", "note")),
    ("a member's timeline INC-1 from #general", _output("member: timeline INC-1 from #general"),
     ("severity reason", "note", "status note", "pinned message")),
    ("a member's list from #general", _output("member: list from #general"), ("title",)),
    ("a member's summary INC-1 over Socket Mode", _output("member: summary INC-1 over Socket Mode"), ("title", "resolution")),
    ("yingji export INC-1 md", _output("yingji export md"), ("title", "summary", "note", "action item", "resolution")),
    ("yingji export INC-1 json", _output("yingji export json"), ("title", "summary", "note", "status note")),
    ("yingji export INC-1 csv", _output("yingji export csv"), ("note", "status note", "pinned message")),
    ("logs with slack_sdk and slack_bolt explicitly at DEBUG", _logs(OPTED_IN), ("title",)),
]


@pytest.mark.parametrize("path, read, expected", MEMBER_PATHS, ids=[p[0] for p in MEMBER_PATHS])
def test_members_do_see_them(run: Run, path: str, read: Reader, expected: tuple[str, ...]) -> None:
    found = set(leaks(read(run), SECRETS))
    missing = [name for name in expected if name not in found]
    assert not missing, f"{path} should show the incident's {', '.join(missing)} to its members"


# -- tokens and the signing secret appear nowhere ------------------------------------------------

TOKEN_PATHS: list[tuple[str, Reader, tuple[str, ...]]] = [
    ("logs, every logger at DEBUG from the root", _logs(DEFAULT),
     ("invalid_auth", "not_in_channel", "HTTP 503", "connection: ")),
    ("logs with slack_sdk and slack_bolt explicitly at DEBUG (request headers included)", _logs(OPTED_IN),
     ("'Authorization': '(redacted)'", "apps.connections.open", "invalid_auth")),
    ("every message, DM, reply, response_url post and form shown to anyone", _everything_people_see,
     ("invalid_auth",)),
    ("the bot's HTTP answers to forged, stale, unsigned and wrong-bearer requests", _http_answers,
     ("forged request: 401", "stale request: 401", "unsigned request: 401", "wrong bearer: 401")),
    ("/metrics, reports and exports", _outputs, ("yingji_",)),
]


@pytest.mark.parametrize("path, read, proof", TOKEN_PATHS, ids=[p[0] for p in TOKEN_PATHS])
def test_tokens_and_signing_secret_appear_nowhere(run: Run, path: str, read: Reader, proof: tuple[str, ...]) -> None:
    seen = read(run)
    missing = [word for word in proof if word not in seen]
    assert not missing, f"{path}: the sweep did not find the errors and requests it should hold ({missing})"
    found = leaks(seen, TOKENS, token_needles)
    assert not found, f"{path} shows the {', '.join(found)}"


def test_the_run_used_every_secret(run: Run) -> None:
    """The checks above mean something only if each secret was really in play."""
    methods = {method for method, _ in run.sb.calls}
    assert {"apps.connections.open", "chat.postMessage", "conversations.create"} <= methods  # app and bot tokens
    assert sum(1 for answer in run.http_answers if ": 401" in answer) == 4  # forged, stale, unsigned, wrong bearer
