"""The crash test's parts: the bot as a process to kill, the people sending requests, the kill points,
and the database read as the next process would."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.serving import free_port
from bot.sandbox.actor import SlackActor
from bot.sandbox.server import Sandbox
from bot.vocabulary import CORE_ROLES

SEED = 8_2024
ROOT = Path(__file__).resolve().parents[1]
PLAYBOOKS = ("payment-failure", "site-outage", "traffic-surge", "order-anomaly", "logistics-disruption")
ROLES = CORE_ROLES  # every incident's, whatever its playbook
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
        """Whether the bot said it recorded this: the promise the database must keep. Commands are stored before an
        empty ack and answered after it (commands/later.py), so the empty ack is the promise, and the kill may
        come before the answer."""
        if self.status != 200:
            return False
        return ACKED[self.kind] in self.reply or not self.reply


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
        self.actor.answer_wait = 0  # the ack is the promise; the kill may come before the answer that follows it
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


def rows(db: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    """Read straight from the SQLite file, as any other process could."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute(sql, args).fetchall())


def age_dead_claims(db: Path) -> None:
    """The dead process's claims expire after the outbox lease (30 s); let that time pass at once."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE slackop SET lease_until = ? WHERE status = 'running'", (LOST_LEASE,))


def open_channels(db: Path) -> list[tuple[str, str]]:
    """(key, channel id) of every incident whose channel exists, oldest first."""
    return [(r["key"], r["channel_id"]) for r in rows(db, "SELECT key, channel_id FROM incident "
                                                            "WHERE channel_id IS NOT NULL ORDER BY id")]


async def quiet(db: Path, seconds: float = 30.0) -> None:
    """Wait until no Slack operation is waiting or running (twice in a row, a moment apart)."""
    calm = 0
    for _ in range(int(seconds / 0.1)):
        left = rows(db, "SELECT count(*) AS n FROM slackop WHERE status IN ('pending', 'running')")[0]["n"]
        calm = calm + 1 if left == 0 else 0
        if calm >= 3:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("Slack work still pending after 30 s: " + str(
        [dict(r) for r in rows(db, "SELECT id, incident_id, kind, status, attempts, error FROM slackop "
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
        made = open_channels(self.db)
        if not made:
            return None
        key, channel = self.rng.choice(made)
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
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            return action
        action.status = response.status
        action.reply = str((response.json or {}).get("text", "")) if isinstance(response.json, dict) else response.body
        return action


async def kill_after_acks(bot: BotProcess, load: Load, actor: SlackActor, actions: list[Action], acks: int) -> None:
    """Send one by one and kill the moment the `acks`-th ack arrives (its Slack work has just begun)."""
    got = 0
    for action in actions:
        await load.send(actor, action)
        got += action.acked
        if got >= acks:
            break
    await bot.kill()


async def kill_mid_burst(bot: BotProcess, load: Load, actor: SlackActor, actions: list[Action], acks: int) -> None:
    """Send everything at once and kill when the `acks`-th ack arrives, the rest still being answered."""
    sending = [asyncio.create_task(load.send(actor, action)) for action in actions]
    while sum(a.acked for a in actions) < acks and not all(task.done() for task in sending):
        await asyncio.sleep(0.005)
    await bot.kill()
    await asyncio.gather(*sending)


async def kill_on_call(bot: BotProcess, load: Load, actor: SlackActor, actions: list[Action], method: str,
                        nth: int) -> dict[str, Any]:
    """Send one by one and kill while the `nth` call of `method` is at Slack: it lands, its answer is lost.

    Returns that call's arguments, so the test can follow the operation that made it."""
    sb, first = load.sb, len(load.sb.calls)
    sender = asyncio.create_task(one_by_one(load, actor, actions))
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


async def one_by_one(load: Load, actor: SlackActor, actions: list[Action]) -> None:
    """Each person waits for their answer before the next one types."""
    for action in actions:
        await load.send(actor, action)


def op_of(call: dict[str, Any]) -> int:
    """The outbox operation named in a posted message's metadata."""
    metadata = call["metadata"]
    return int((json.loads(metadata) if isinstance(metadata, str) else metadata)["event_payload"]["op"])


async def restart(bot: BotProcess, sb: Sandbox) -> SlackActor:
    """Let Slack finish the calls that had reached it, expire the dead claims, start again."""
    settle = sb.latency + 0.2
    sb.latency = 0.0
    await asyncio.sleep(settle)
    age_dead_claims(bot.db)
    return await bot.start()
