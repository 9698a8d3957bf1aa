"""Several web replicas and one scheduler on one PostgreSQL, under a storm of declarations.

Two `yingji serve` processes (YINGJI_SCHEDULER=off, as behind a load balancer) and one `yingji scheduler`
share one PostgreSQL on loopback and one Slack sandbox. 200 declarations are spread across the replicas;
half of them are retried by "Slack" to the other replica at the same moment. The deployment must end
with exactly 200 incidents and 200 ready channels, and every step reminder fired exactly once.

`run()` reports the figures for `make bench` (it starts a throwaway PostgreSQL when
YINGJI_TEST_POSTGRES_URL is not set); tests/test_replicas.py asserts the outcome with the same harness.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import aiohttp
import yaml
from sqlalchemy import text

from bench.common import Figure, percentile
from bench.serving import free_port, stop, until_healthy
from bench.throwaway_pg import throwaway_postgres
from bot.db import create_database, drop_database, make_engine, upgrade
from bot.sandbox.actor import sign
from bot.sandbox.server import Sandbox
from tests.helpers import fast_playbooks
from yingji.local import _seed

REPLICAS = 2
DECLARATIONS = 200
STEP_IDS = ("identify-channel", "contact-provider")  # payment-failure's first two steps, the only ones kept
STEP_DUE_MINUTES = (0.1, 0.2)  # each incident's two steps fall due 6 s and 12 s after its declaration
PLAYBOOK = "payment-failure"
RECORDED = re.compile(r":rotating_light: 已记录 \*(INC-\d+)\*")


@dataclass
class Answer:
    """One HTTP acknowledgement of a replica to one delivery of a declaration."""

    replica: int
    retry: bool
    status: int
    ms: float
    response_url: str


def recorded_keys(deployment: Deployment, answers: list[Answer]) -> dict[str, list[str]]:
    """Per declaration (its response_url), the incident keys the bot told the person it recorded."""
    told: dict[str, list[str]] = {a.response_url.rsplit("/", 1)[-1]: [] for a in answers}
    for entry in deployment.sandbox.responses:
        found = RECORDED.match(str(entry["body"].get("text") or ""))
        if found and entry["response_id"] in told:
            told[entry["response_id"]].append(found.group(1))
    return told


async def all_answered(deployment: Deployment, answers: list[Answer]) -> bool:
    """Whether every declaration of the storm has been told its key."""
    return all(recorded_keys(deployment, answers).values())


@dataclass
class Deployment:
    """The processes of one deployment: web replicas (scheduler off) and one scheduler worker."""

    sandbox: Sandbox
    users: dict[str, str]
    channels: dict[str, str]
    database_url: str
    workdir: Path
    web: list[tuple[subprocess.Popen[bytes], int]] = field(default_factory=list)
    worker: subprocess.Popen[bytes] | None = None

    def url(self, replica: int) -> str:
        """The Slack request URL of one replica."""
        return f"http://127.0.0.1:{self.web[replica][1]}/slack/events"

    def log(self, name: str) -> str:
        """What a process wrote to its log file (web-0, web-1, worker)."""
        path = self.workdir / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _playbooks(directory: Path) -> Path:
    """The payment-failure playbook cut to its first two steps, falling due within seconds (so reminders fire soon),
    without the regulatory clocks."""
    due = {PLAYBOOK: dict(zip(STEP_IDS, STEP_DUE_MINUTES, strict=True))}
    return fast_playbooks(directory, due, only_due=True, clocks=False)


def _spawn(deployment: Deployment, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A bot process with its own log file in the work directory."""
    log = open(deployment.workdir / f"{name}.log", "wb")  # noqa: SIM115 — closed with the process
    try:
        return subprocess.Popen([sys.executable, "-m", "yingji.cli", *args], env=env, cwd=deployment.workdir,
                                stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


async def start_deployment(workdir: Path, database_url: str, *, replicas: int = REPLICAS,
                           rate_limits: bool = False) -> Deployment:
    """Upgrade the schema once, then start the web replicas (scheduler off) and the scheduler worker."""
    sb = Sandbox(signing_secret="replica-secret", bot_token="xoxb-replicas", app_token="xapp-replicas",
                 rate_limits=rate_limits)
    await sb.start()
    users, channels = _seed(sb)
    deployment = Deployment(sb, users, channels, database_url, workdir)
    config = workdir / "yingji.yaml"
    config.write_text(yaml.safe_dump({"announce_channel": "#incidents",
                                      "playbooks_dir": str(_playbooks(workdir / "playbooks"))}))
    env = {**os.environ, "SLACK_BOT_TOKEN": sb.bot_token, "SLACK_SIGNING_SECRET": sb.signing_secret,
           "SLACK_API_URL": sb.api_url, "DATABASE_URL": database_url, "YINGJI_CONFIG": str(config),
           "HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    await asyncio.to_thread(upgrade, database_url)  # `yingji db upgrade`, before the processes start
    try:
        for n in range(replicas):
            port = free_port()
            process = _spawn(deployment, f"web-{n}", ["serve"], {**env, "PORT": str(port), "YINGJI_SCHEDULER": "off"})
            deployment.web.append((process, port))
        deployment.worker = _spawn(deployment, "worker", ["scheduler"], env)
        for process, port in deployment.web:
            await until_healthy(f"http://127.0.0.1:{port}/healthz", 90.0, process)
    except BaseException:
        await stop_deployment(deployment)
        raise
    return deployment


async def stop_deployment(deployment: Deployment) -> None:
    """Stop every process (SIGTERM, as a platform does), then the sandbox."""
    processes = [p for p, _ in deployment.web] + ([deployment.worker] if deployment.worker else [])
    await asyncio.gather(*(asyncio.to_thread(stop, p, 20.0) for p in processes))
    await deployment.sandbox.stop()


def declaration(deployment: Deployment, n: int) -> bytes:
    """The n-th declaration, exactly as Slack sends it; a retry sends the same bytes again."""
    sb, channel, user = deployment.sandbox, deployment.channels["general"], deployment.users["zhang.wei"]
    return urlencode({
        "token": "x", "team_id": sb.team_id, "team_domain": "sandbox", "channel_id": channel,
        "channel_name": "general", "user_id": user, "user_name": "zhang.wei", "command": "/incident",
        "text": f"declare sev2 {PLAYBOOK} 多副本压测 {n} 支付回调超时", "api_app_id": sb.app_id,
        "is_enterprise_install": "false", "response_url": sb.new_response_url(channel, user),
        "trigger_id": sb.new_trigger_id(),
    }).encode()


async def storm(deployment: Deployment, count: int = DECLARATIONS) -> list[Answer]:
    """Send `count` declarations at once, spread across the replicas; every other one is also retried by
    Slack (X-Slack-Retry-Num) to another replica at the same moment. Returns every acknowledgement."""
    replicas = len(deployment.web)
    secret = deployment.sandbox.signing_secret
    sends = [(n % replicas, False, body) for n, body in enumerate(declaration(deployment, n) for n in range(count))]
    sends += [((replica + 1) % replicas, True, body) for n, (replica, _, body) in enumerate(sends) if n % 4 < 2]

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=aiohttp.ClientTimeout(total=60)) as http:
        async def send(replica: int, retry: bool, body: bytes) -> Answer:
            ts = str(int(time.time()))
            headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                       "X-Slack-Signature": sign(secret, ts, body)}
            if retry:
                headers.update({"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
            start = time.perf_counter()
            async with http.post(deployment.url(replica), data=body, headers=headers) as response:
                await response.read()
                ms = (time.perf_counter() - start) * 1000
                return Answer(replica, retry, response.status, ms, parse_qs(body.decode())["response_url"][0])

        return list(await asyncio.gather(*(send(*each) for each in sends)))


@dataclass
class State:
    """What the database and Slack hold about the storm."""

    incidents: int
    keys: int
    channel_ids: int
    channels: int
    ready: int
    reminders: int
    overdue: int
    overdue_per_step: int
    open_ops: int

    def settled(self, count: int, steps: int = len(STEP_DUE_MINUTES)) -> bool:
        """Every incident ready, every reminder fired, no Slack work left."""
        return (self.ready >= count and self.reminders >= count * steps and self.overdue >= count * steps
                and self.open_ops == 0)


async def read_state(deployment: Deployment) -> State:
    """Count incidents, channels, reminders and open Slack work (Slack's side from the sandbox)."""
    engine = make_engine(deployment.database_url)
    try:
        async with engine.connect() as connection:
            incidents, keys, channel_ids = (await connection.execute(text(
                "SELECT count(*), count(DISTINCT key), count(DISTINCT channel_id) FROM incident"))).one()
            overdue, per_step = (await connection.execute(text(  # the event's text names its step
                "SELECT coalesce(sum(n), 0), coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM timelineevent "
                "WHERE kind = 'step_overdue' GROUP BY incident_id, text) AS each_step"))).one()
            open_ops = (await connection.execute(text(
                "SELECT count(*) FROM slackop WHERE status IN ('pending', 'running')"))).scalar_one()
    finally:
        await engine.dispose()
    channels = [c for c in deployment.sandbox.channels.values() if c.name.startswith("inc-")]
    reminders = sum(1 for c in channels for m in c.messages if ":alarm_clock:" in str(m.get("text")))
    return State(incidents=incidents, keys=keys, channel_ids=channel_ids, channels=len(channels),
                 ready=sum(1 for c in channels if c.pins), reminders=reminders, overdue=int(overdue),
                 overdue_per_step=per_step, open_ops=open_ops)


async def wait_until(check: Callable[[], Awaitable[bool]], limit: float, every: float = 0.5) -> float:
    """Seconds until `check()` is true (or the limit passed, whichever first)."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit and not await check():
        await asyncio.sleep(every)
    return time.perf_counter() - start


def _latency(answers: list[Answer], replica: int) -> list[Figure]:
    ms = [a.ms for a in answers if a.replica == replica]
    worst = max(ms, default=0.0)
    return [
        Figure(f"replica {replica + 1}: ack latency p50 ({len(ms)} requests)", percentile(ms, 50), "ms"),
        Figure(f"replica {replica + 1}: ack latency p95", percentile(ms, 95), "ms"),
        Figure(f"replica {replica + 1}: ack latency max", worst, "ms", "< 3000 ms (Slack's limit)", met=worst < 3000),
    ]


async def measure(server: str) -> list[Figure]:
    """The storm against a fresh database on `server`; the figures."""
    name = f"yingji_bench_{os.getpid()}"
    url = create_database(server, name)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            deployment = await start_deployment(Path(tmp), url)
            try:
                start = time.perf_counter()
                answers = await storm(deployment)
                await wait_until(lambda: all_answered(deployment, answers), 120)
                await wait_until(lambda: all_ready(deployment), 600)
                ready = time.perf_counter() - start
                settled = await wait_until(lambda: all_settled(deployment), 300)
                told = recorded_keys(deployment, answers)
                state = await read_state(deployment)
            finally:
                await stop_deployment(deployment)
    finally:
        drop_database(url)
    keys = [key for each in told.values() for key in each]
    figures = [f for replica in range(REPLICAS) for f in _latency(answers, replica)]
    figures += [
        Figure(f"{DECLARATIONS} declarations on {REPLICAS} replicas until all channels ready", ready, "s"),
        Figure("declarations told their key (a retry to the other replica acked, never answered twice)",
               len(set(keys)), "answers", f"{DECLARATIONS}, one each",
               met=len(keys) == len(set(keys)) == len(told) == DECLARATIONS),
        Figure("incidents in the database / channels in Slack (exactly once)", state.channels, "channels",
               f"{DECLARATIONS} and {DECLARATIONS}",
               met=state.incidents == state.keys == state.channel_ids == state.channels == DECLARATIONS),
        Figure("step reminders fired (each exactly once, by the one scheduler)", state.reminders, "reminders",
               f"{DECLARATIONS * len(STEP_DUE_MINUTES)}, max 1 per step",
               met=state.reminders == DECLARATIONS * len(STEP_DUE_MINUTES) and state.overdue_per_step == 1),
        Figure("time after the storm until every reminder fired and no Slack work is left", settled, "s"),
    ]
    return figures


async def all_ready(deployment: Deployment) -> bool:
    """Whether every declaration of the storm has its channel, with the header pinned."""
    return sum(1 for c in deployment.sandbox.channels.values() if c.name.startswith("inc-") and c.pins) >= DECLARATIONS


async def all_settled(deployment: Deployment) -> bool:
    """Whether every incident is ready, every reminder fired, and no Slack work is left."""
    return (await read_state(deployment)).settled(DECLARATIONS)


async def run() -> list[Figure]:
    """`make bench`: on YINGJI_TEST_POSTGRES_URL's server, or a throwaway one; no figures without PostgreSQL."""
    server = os.environ.get("YINGJI_TEST_POSTGRES_URL")
    if server:
        return await measure(server)
    with throwaway_postgres() as started:
        if started is None:
            print("replicas: skipped, PostgreSQL is not installed (apt-get install postgresql) "
                  "and YINGJI_TEST_POSTGRES_URL is not set")
            return []
        return await measure(started)


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run())))
