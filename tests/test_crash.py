"""SIGKILL at any moment: every acknowledged action survives, and each incident's Slack side ends up
complete and done exactly once.

`yingji serve` runs as a real process against a Slack sandbox living in this test process. People
declare incidents, assign roles, add notes and complete steps (inside the incident channels once they
exist) while the process is killed with SIGKILL at seeded points: right after an ack, in the middle of
a burst of requests, and while Slack answers slowly so its work is in flight. Each time it is started
again on the same SQLite file and the same sandbox. At the end the database must hold every action
that got an HTTP 200, and Slack must hold one channel per incident with its topic, purpose, invites,
one pinned header, one checklist and one announcement, every note echoed once, nothing posted twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bench.serving import free_port
from bot.sandbox.actor import SlackActor
from bot.sandbox.server import Sandbox
from yingji.local import _seed

SEED = 8_2024
ROOT = Path(__file__).resolve().parents[1]
PLAYBOOKS = ("payment-failure", "site-outage", "traffic-surge", "order-anomaly", "logistics-disruption")
ROLES = ("commander", "tech", "comms", "legal", "support")
PEOPLE = ("zhang.wei", "li.na", "wang.fang", "chen.jie", "liu.yang")
STEPS = 11  # every playbook above has at least this many steps
LOST_LEASE = "2000-01-01 00:00:00.000000"
# What a successful ack says (yingji.yaml sets language: en), per kind of action.
ACKED = {"declare": "Recorded *INC-", "role": "Giving ", "note": "Recorded on INC-", "done": "done:"}


@dataclass
class Action:
    """One thing a person does, and what the bot answered (acked: HTTP 200 with the success text)."""

    kind: str
    text: str
    user: str
    channel: str
    key: str | None = None
    want: dict[str, Any] = field(default_factory=dict)
    status: int | None = None
    reply: str = ""

    @property
    def acked(self) -> bool:
        """Whether the bot said it recorded this: the promise the database must keep."""
        return self.status == 200 and ACKED[self.kind] in self.reply


@dataclass
class Incidents:
    """What the test knows it asked for on each incident, so no action is asked for twice."""

    roles: dict[str, set[str]] = field(default_factory=dict)
    steps: dict[str, set[int]] = field(default_factory=dict)


class BotProcess:
    """`yingji serve` as its own process, started again after each kill on the same database."""

    def __init__(self, sb: Sandbox, work: Path) -> None:
        self.sb = sb
        self.work = work
        self.db = work / "yingji.db"
        self.config = work / "yingji.yaml"
        self.config.write_text(yaml.safe_dump({"announce_channel": "#incidents", "leadership_channel": "#leadership",
                                               "language": "en"}), encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None
        self.actor: SlackActor | None = None
        self.logs: list[Path] = []

    async def start(self) -> SlackActor:
        """Start the process and wait until /healthz says it is ready; returns an actor pointed at it."""
        port = free_port()
        env = {**os.environ, "SLACK_BOT_TOKEN": self.sb.bot_token, "SLACK_SIGNING_SECRET": self.sb.signing_secret,
               "SLACK_API_URL": self.sb.api_url, "DATABASE_URL": f"sqlite+aiosqlite:///{self.db}",
               "YINGJI_CONFIG": str(self.config), "HOST": "127.0.0.1", "PORT": str(port),
               "PYTHONPATH": str(ROOT)}
        log = self.work / f"serve-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "yingji.cli", "serve"], env=env, cwd=self.work,
                                         stdout=out, stderr=subprocess.STDOUT)
        await self._wait_ready(port)
        self.actor = SlackActor(self.sb, request_url=f"http://127.0.0.1:{port}/slack/events")
        return self.actor

    async def _wait_ready(self, port: int) -> None:
        """Poll /healthz (the schema upgrade and the resumed outbox come first)."""
        assert self.proc is not None
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                if self.proc.poll() is not None:
                    raise AssertionError(f"yingji serve exited: {self.logs[-1].read_text(errors='replace')}")
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("yingji serve did not become ready in 30 s")

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs; whatever was in flight is cut off."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.proc.wait)
        if self.actor is not None:
            await self.actor.close()

    async def terminate(self) -> int:
        """SIGTERM: the ordinary shutdown; returns the exit code."""
        if self.actor is not None:
            await self.actor.close()
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.proc.wait, 20)


# -- the database, read as the next process would -------------------------------------------------


def _rows(db: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    """Read straight from the SQLite file, as any other process could."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute(sql, args).fetchall())


def _age_dead_claims(db: Path) -> None:
    """The dead process's claims expire after the outbox lease (30 s); let that time pass at once."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE slackop SET lease_until = ? WHERE status = 'running'", (LOST_LEASE,))


def _open_channels(db: Path) -> list[tuple[str, str]]:
    """(key, channel id) of every incident whose channel exists, oldest first."""
    return [(r["key"], r["channel_id"]) for r in _rows(db, "SELECT key, channel_id FROM incident "
                                                            "WHERE channel_id IS NOT NULL ORDER BY id")]


async def _quiet(db: Path, seconds: float = 30.0) -> None:
    """Wait until no Slack operation is waiting or running (twice in a row, a moment apart)."""
    calm = 0
    for _ in range(int(seconds / 0.1)):
        left = _rows(db, "SELECT count(*) AS n FROM slackop WHERE status IN ('pending', 'running')")[0]["n"]
        calm = calm + 1 if left == 0 else 0
        if calm >= 3:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("Slack work still pending after 30 s: " + str(
        [dict(r) for r in _rows(db, "SELECT id, incident_id, kind, status, attempts, error FROM slackop "
                                    "WHERE status IN ('pending', 'running')")]))


# -- the people ------------------------------------------------------------------------------------


class Load:
    """Seeded actions: declarations from #general, and role/note/done inside incident channels."""

    def __init__(self, sb: Sandbox, users: dict[str, str], channels: dict[str, str], db: Path) -> None:
        self.sb, self.users, self.channels, self.db = sb, users, channels, db
        self.rng = random.Random(SEED)
        self.sent: list[Action] = []
        self.asked = Incidents()
        self.titles = 0
        self.notes = 0

    def declare(self) -> Action:
        """A new declaration with a unique title."""
        self.titles += 1
        playbook = self.rng.choice(PLAYBOOKS)
        title = f"crash {self.titles} {playbook.replace('-', ' ')}"
        user = self.rng.choice(PEOPLE)
        return Action("declare", f"declare sev{self.rng.choice((2, 3))} {playbook} {title}", self.users[user],
                      self.channels["general"], want={"title": title, "declared_by": self.users[user]})

    def inside(self) -> Action | None:
        """A role, note or step completion in one existing incident channel (None: no channel yet)."""
        open_channels = _open_channels(self.db)
        if not open_channels:
            return None
        key, channel = self.rng.choice(open_channels)
        user = self.users[self.rng.choice(PEOPLE)]
        kind = self.rng.choice(("role", "note", "note", "done"))
        free_roles = [r for r in ROLES if r not in self.asked.roles.setdefault(key, set())]
        free_steps = [n for n in range(1, STEPS + 1) if n not in self.asked.steps.setdefault(key, set())]
        if kind == "role" and free_roles:
            role, holder = self.rng.choice(free_roles), self.users[self.rng.choice(PEOPLE)]
            self.asked.roles[key].add(role)
            return Action("role", f"role {role} <@{holder}>", user, channel, key, {"role": role, "user": holder})
        if kind == "done" and free_steps:
            number = self.rng.choice(free_steps[:4])
            self.asked.steps[key].add(number)
            return Action("done", f"done {number}", user, channel, key, {"number": number})
        self.notes += 1
        note = f"crash note {self.notes} {self.rng.choice(('queue backlog', 'failover', 'rollback', '回调超时'))}"
        return Action("note", f"note {note}", user, channel, key, {"text": note})

    def mixed(self, count: int, declares: int) -> list[Action]:
        """`count` actions: `declares` declarations, the rest inside channels (declarations if none exist)."""
        actions = [self.declare() for _ in range(declares)]
        for _ in range(count - declares):
            actions.append(self.inside() or self.declare())
        self.rng.shuffle(actions)
        return actions

    async def send(self, actor: SlackActor, action: Action) -> Action:
        """Run the slash command; a request the kill cut off stays without an ack."""
        self.sent.append(action)
        try:
            response = await actor.slash("/incident", action.text, user_id=action.user, channel_id=action.channel)
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError):
            return action
        action.status = response.status
        action.reply = str((response.json or {}).get("text", "")) if isinstance(response.json, dict) else response.body
        return action


async def _kill_after_acks(bot: BotProcess, load: Load, actor: SlackActor, actions: list[Action], acks: int) -> None:
    """Send one by one and kill the moment the `acks`-th ack arrives (its Slack work has just begun)."""
    got = 0
    for action in actions:
        await load.send(actor, action)
        got += action.acked
        if got >= acks:
            break
    await bot.kill()


async def _kill_mid_burst(bot: BotProcess, load: Load, actor: SlackActor, actions: list[Action], acks: int) -> None:
    """Send everything at once and kill when the `acks`-th ack arrives, the rest still being answered."""
    sending = [asyncio.create_task(load.send(actor, action)) for action in actions]
    while sum(a.acked for a in actions) < acks and not all(task.done() for task in sending):
        await asyncio.sleep(0.005)
    await bot.kill()
    await asyncio.gather(*sending)


async def _kill_on_call(bot: BotProcess, load: Load, actor: SlackActor, actions: list[Action], method: str,
                        nth: int) -> dict[str, Any]:
    """Send one by one and kill while the `nth` call of `method` is at Slack: it lands, its answer is lost.

    Returns that call's arguments, so the test can follow the operation that made it."""
    sb, first = load.sb, len(load.sb.calls)
    sender = asyncio.create_task(_one_by_one(load, actor, actions))
    for _ in range(3000):
        calls = [params for name, params in sb.calls[first:] if name == method]
        if len(calls) >= nth:
            break
        await asyncio.sleep(0.005)
    else:
        raise AssertionError(f"no {method} call {nth} within 15 s")
    await bot.kill()
    sender.cancel()
    await asyncio.gather(sender, return_exceptions=True)
    return calls[nth - 1]


async def _one_by_one(load: Load, actor: SlackActor, actions: list[Action]) -> None:
    """Each person waits for their answer before the next one types."""
    for action in actions:
        await load.send(actor, action)


def _op_of(call: dict[str, Any]) -> int:
    """The outbox operation named in a posted message's metadata."""
    metadata = call["metadata"]
    return int((json.loads(metadata) if isinstance(metadata, str) else metadata)["event_payload"]["op"])


async def _restart(bot: BotProcess, sb: Sandbox) -> SlackActor:
    """Let Slack finish the calls that had reached it, expire the dead claims, start again."""
    settle = sb.latency + 0.2
    sb.latency = 0.0
    await asyncio.sleep(settle)
    _age_dead_claims(bot.db)
    return await bot.start()


# -- what must hold in the end ---------------------------------------------------------------------


def _check_acked_in_db(db: Path, sent: list[Action]) -> None:
    """Every acked action is stored; nothing was declared twice."""
    incidents = {r["key"]: r for r in _rows(db, "SELECT * FROM incident")}
    titles = Counter(r["title"] for r in incidents.values())
    assert all(n == 1 for n in titles.values()), f"declared twice: {titles}"
    assert set(titles) <= {a.want["title"] for a in sent if a.kind == "declare"}
    for action in (a for a in sent if a.acked):
        if action.kind == "declare":
            key = re.search(r"INC-\d+", action.reply)
            assert key and incidents[key.group(0)]["title"] == action.want["title"], action
            continue
        incident_id = incidents[action.key]["id"]
        if action.kind == "role":
            assert _rows(db, "SELECT 1 FROM roleassignment WHERE incident_id = ? AND role = ? AND user_id = ?",
                         incident_id, action.want["role"], action.want["user"]), action
        elif action.kind == "note":
            assert len(_rows(db, "SELECT 1 FROM timelineevent WHERE incident_id = ? AND kind = 'note' AND text = ?",
                             incident_id, action.want["text"])) == 1, action
        else:
            assert _rows(db, "SELECT 1 FROM step WHERE incident_id = ? AND number = ? AND done_at IS NOT NULL",
                         incident_id, action.want["number"]), action


def _check_outbox(db: Path) -> None:
    """Every Slack operation finished: none waiting, none claimed forever, none given up."""
    unfinished = [dict(r) for r in _rows(db, "SELECT id, incident_id, kind, status, error FROM slackop "
                                             "WHERE status != 'done'")]
    assert unfinished == []


def _op_tags(sb: Sandbox) -> Iterator[tuple[str, int, int]]:
    """(channel, op, part) of every message an outbox operation posted, in every conversation."""
    for channel in sb.channels.values():
        for message in channel.messages:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if "op" in payload:
                yield channel.id, int(payload["op"]), int(payload.get("part", 0))


def _check_slack(db: Path, sb: Sandbox, announce: str) -> None:
    """Each incident: one channel, topic and purpose, invites, one pinned header, its checklist, one
    announcement, each note echoed once, each done step shown done; no operation posted twice."""
    doubled = [tag for tag, n in Counter(_op_tags(sb)).items() if n > 1]
    assert doubled == [], f"posted twice: {doubled}"
    for incident in _rows(db, "SELECT * FROM incident ORDER BY id"):
        key, cid = incident["key"], incident["channel_id"]
        named = [c.id for c in sb.channels.values() if c.name.startswith(f"inc-{incident['id']}-")]
        assert named == [cid], f"{key}: channels {named}, stored {cid}"
        channel = sb.channels[cid]
        assert key in channel.topic and key in channel.purpose, key
        holders = {r["user_id"] for r in _rows(db, "SELECT user_id FROM roleassignment WHERE incident_id = ? "
                                                   "AND ended_at IS NULL", incident["id"])}
        assert {incident["declared_by"], *holders} <= channel.members, key
        messages = sb.messages(cid)
        headers = [m for m in messages if "open_assign_roles" in json.dumps(m.get("blocks"))]
        assert [m["ts"] for m in headers] == [incident["header_ts"]] and channel.pins == [incident["header_ts"]], key
        steps = _rows(db, "SELECT * FROM step WHERE incident_id = ?", incident["id"])
        lists = {m["ts"]: m["blocks"] for m in messages if f"{key} · Checklist" in json.dumps(m.get("blocks"), ensure_ascii=False)}
        assert set(lists) == {s["message_ts"] for s in steps}, key
        for step in (s for s in steps if s["done_at"] is not None):
            [shown] = [b for b in lists[step["message_ts"]] if b.get("block_id") == f"step-{step['id']}"]
            assert shown["text"]["text"].startswith(":white_check_mark:"), f"{key} step {step['number']} not shown done"
        announced = [m for m in sb.messages(announce) if re.search(rf"{key}\b", m.get("text", ""))]
        assert len(announced) == 1, f"{key}: {len(announced)} announcements"
        for note in _rows(db, "SELECT text FROM timelineevent WHERE incident_id = ? AND kind = 'note'", incident["id"]):
            echoes = [m for m in messages if note["text"] in m.get("text", "")]
            assert len(echoes) == 1, f"{key}: note {note['text']!r} echoed {len(echoes)} times"


def _check_replayed(db: Path, sb: Sandbox, posting: dict[str, Any], creating: dict[str, Any]) -> None:
    """The calls cut off by a kill were run again after the restart, and what they did is there once."""
    [post] = _rows(db, "SELECT status, attempts FROM slackop WHERE id = ?", _op_of(posting))
    assert post["status"] == "done" and post["attempts"] >= 2
    assert [op for _, op, _ in _op_tags(sb)].count(_op_of(posting)) >= 1
    made = [c for c in sb.channels.values() if c.name == creating["name"]]
    assert len(made) == 1
    [owner] = _rows(db, "SELECT id FROM incident WHERE channel_id = ?", made[0].id)
    [create] = _rows(db, "SELECT status, attempts FROM slackop WHERE incident_id = ? AND kind = 'create_channel'",
                     owner["id"])
    assert create["status"] == "done" and create["attempts"] >= 2


def _check_logs(logs: list[Path]) -> None:
    """No unhandled exception in any run of the process."""
    for log in logs:
        text = log.read_text(errors="replace")
        bad = [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line
               or "never retrieved" in line]
        assert bad == [], f"{log.name}: {bad[:5]}"


# -- the test ------------------------------------------------------------------------------------------


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """A Slack sandbox in this process; rate limits are test_slack_faults' subject, crashes are this one's."""
    sb = Sandbox(signing_secret="crash-secret", bot_token="xoxb-crash", app_token="xapp-crash", rate_limits=False)
    await sb.start()
    yield sb
    await sb.stop()


async def test_sigkill_loses_no_acked_action_and_slack_work_happens_once(sandbox: Sandbox, tmp_path: Path) -> None:
    sb = sandbox
    users, channels = _seed(sb)
    bot = BotProcess(sb, tmp_path)
    load = Load(sb, users, channels, bot.db)
    rng = load.rng
    try:
        actor = await bot.start()
        # 1. Declarations one by one; killed right after an ack, its channel just being made.
        await _kill_after_acks(bot, load, actor, [load.declare() for _ in range(6)], acks=rng.randint(3, 5))
        actor = await _restart(bot, sb)
        # 2. A burst of declarations and work inside channels, killed while it is being answered.
        await _kill_mid_burst(bot, load, actor, load.mixed(12, declares=3), acks=rng.randint(2, 8))
        actor = await _restart(bot, sb)
        # 3. Slack answers slowly; killed while a message is being posted: it lands, the answer is lost.
        sb.latency = 0.3
        posting = await _kill_on_call(bot, load, actor, load.mixed(10, declares=2), "chat.postMessage",
                                      nth=rng.randint(1, 3))
        actor = await _restart(bot, sb)
        # 4. The same while a channel is being created.
        sb.latency = 0.3
        creating = await _kill_on_call(bot, load, actor, load.mixed(8, declares=2), "conversations.create", nth=1)
        actor = await _restart(bot, sb)
        # 5. Once the restarted process has caught up, a last round that is not interrupted.
        await _quiet(bot.db)
        for action in load.mixed(8, declares=1):
            await load.send(actor, action)
        await _quiet(bot.db)
        assert await bot.terminate() == 0
    finally:
        if bot.proc is not None and bot.proc.poll() is None:
            bot.proc.kill()
            bot.proc.wait()
    acked = Counter(a.kind for a in load.sent if a.acked)
    assert acked["declare"] >= 4 and acked["note"] + acked["role"] + acked["done"] >= 7, acked
    _check_replayed(bot.db, sb, posting, creating)
    _check_acked_in_db(bot.db, load.sent)
    _check_outbox(bot.db)
    _check_slack(bot.db, sb, channels["incidents"])
    _check_logs(bot.logs)
