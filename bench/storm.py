"""A storm against the real `yingji serve`: `/incident list`, `note`, `done` and `declare`, 200 of each at once,
acknowledged as fast during the storm as without it, every alert of the storm recorded exactly once, no 5xx.

The storm, all at the same time: Alertmanager notifications (v4 webhook bodies) of 5,000 alerts every 2 s,
each alert new (its own fingerprint), most notifications to one group so they join one incident and a few to
other groups; 50 `GET /metrics` a second, each given Prometheus's 10 s scrape timeout; and 150 connections
whose body (to /slack/events or to the alert hook) arrives one byte every 3 s and never completes, opened
again whenever the server closes one. It comes from a process of its own (`python -m bench.storm_load`),
sending on a clock rather than waiting for answers (harsher than Alertmanager, which sends a group's next
notification only once the last is answered; like it, a notification with no answer or a 5xx is sent again
after a pause); each burst of commands comes from another (bench/load.py), so neither's CPU is spent in the processes measured or in this one, which hosts
the Slack sandbox.

Rounds alternate, one without the storm and one with it, so that each pair is measured side by side on a
machine whose speed drifts. Each round has a yingji process of its own with a fresh SQLite file: it is
warmed up with a few declarations whose channels are made before anything is measured (note and done are
typed by their declarer in those channels, `done` on distinct steps), and it is killed once the round is
over, so no round runs beside the last one's provisioning of 200 declarations. Within a round each command
is sent to bolt's bare app (bench/bare_bolt.py, which only acks) just before yingji, as in bench/ack.py,
and the ratio of the two p99s is taken round by round. After a storm its notifications are answered (or
SETTLE runs out) before the timeline is counted: each alert writes one `alert_firing` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sqlite3
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.common import Figure, median, percentile
from bench.load import exchange_apart, slash_body
from bench.serving import start_bare_bolt, start_bot, stop, until_healthy
from bench.storm_load import Plan, Storm
from bot.playbooks import SHIPPED_DIR
from bot.sandbox.server import Sandbox
from yingji.local import _seed

COMMANDS = ("list", "note", "done", "declare")
CONCURRENT = 200        # commands of each kind sent at once
ROUNDS = 3              # pairs of rounds: without the storm, then with it
ALERTS = 5_000          # alerts in each notification
EVERY = 2.0             # seconds between notifications
GROUPS = 4              # alert groups: the first gets two notifications of every three, the others take turns
SCRAPES = 50.0          # GET /metrics a second
SLOW = 150              # connections whose body never completes
TRICKLE = 3.0           # seconds between two bytes of a slow body
STORM_WARM = 4.0        # seconds of storm before the first command is sent
SETTLE = 60.0           # seconds the storm's notifications may take to be answered once it stops
QUIET = 20.0            # seconds a round waits for the Slack work of one command before sending the next
WARM = 3                # commands of each kind (but declare) a new yingji answers before it is measured
TARGET_MS, TARGET_STORM, TARGET_BARE = 1000.0, 2.0, 1.5
PLAYBOOK = "payment-failure"
TOKEN = "bench-alert-token"
DECLARER = "zhang.wei"


# --- the rounds -------------------------------------------------------------------------------------------


def _read(db: Path, query: str, *args: object) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as connection:
        return connection.execute(query, args).fetchall()


def _effects(db: Path) -> dict[str, int]:
    """What the commands wrote, counted: notes on timelines, steps done, incidents people declared."""
    (notes,), = _read(db, "SELECT count(*) FROM timelineevent WHERE kind = 'note'")
    (done,), = _read(db, "SELECT count(*) FROM step WHERE done_at IS NOT NULL")
    (declared,), = _read(db, "SELECT count(*) FROM incident WHERE alert_key IS NULL")
    return {"list": 0, "note": notes, "done": done, "declare": declared}


def _busy(db: Path) -> int:
    """Commands stored but not yet answered, and Slack operations still waiting or running for incidents people
    declared (not the storm's)."""
    (n,), = _read(db, "SELECT count(*) FROM slackop o JOIN incident i ON i.id = o.incident_id "
                      "WHERE o.status IN ('pending', 'running') AND i.alert_key IS NULL")
    (unanswered,), = _read(db, "SELECT count(*) FROM intake WHERE answered_at IS NULL")
    return int(n) + int(unanswered)


async def _quiet(db: Path, limit: float = QUIET) -> bool:
    """Wait until the Slack work of the commands sent so far is done (the storm's own may go on)."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        if _busy(db) == 0:
            return True
        await asyncio.sleep(0.2)
    return False


def done_steps() -> list[str]:
    """The playbook's steps a `done` completes (a step that asks for an answer, like legal's grade, is done by it)."""
    steps = yaml.safe_load((SHIPPED_DIR / f"{PLAYBOOK}.yaml").read_text(encoding="utf-8"))["steps"]
    return [step["id"] for step in steps if not step.get("asks")]


@dataclass
class Round:
    """One round: each command's answers from yingji and from bare bolt, and during a storm what it got."""

    storm: bool
    ours: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    answers: dict[str, list[float]] = field(default_factory=dict)  # ms from the burst's start to each answer
    bare: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    took_effect: dict[str, int] = field(default_factory=dict)
    unquiet: int = 0                      # commands whose Slack work was not over within QUIET
    result: dict[str, Any] = field(default_factory=dict)
    recorded: int = 0                     # alert_firing events
    distinct: int = 0                     # distinct fingerprints among them
    alert_incidents: int = 0


class Bench:
    """The sandbox, bare bolt, and the people and channels every round uses."""

    def __init__(self, sb: Sandbox, tmp: Path, bare_url: str) -> None:
        self.sb, self.tmp, self.bare_url = sb, tmp, bare_url
        users, channels = _seed(sb)
        self.user, self.general = users[DECLARER], channels["general"]
        self.n = 0

    def body(self, channel: str, text: str) -> bytes:
        return slash_body(self.sb, channel, self.user, text)

    def declare_text(self) -> str:
        self.n += 1
        return f"declare sev2 {PLAYBOOK} 风暴压测 {self.n} 支付回调超时"

    async def send(self, url: str, texts: list[tuple[str, str]]) -> list[tuple[float, int]]:
        return await exchange_apart(url, self.sb.signing_secret, [self.body(channel, text) for channel, text in texts])

    async def _answered(self, seen: int, count: int, limit: float = QUIET) -> bool:
        """Wait until `count` answers came to response_urls after the first `seen` (reads are not stored, so
        _quiet does not wait for them)."""
        start = time.perf_counter()
        while len(self.sb.responses) - seen < count:
            if time.perf_counter() - start > limit:
                return False
            await asyncio.sleep(0.05)
        return True

    async def round(self, index: int, storm: bool) -> Round:
        out = Round(storm)
        workdir = self.tmp / f"round-{index}"
        workdir.mkdir()
        db = workdir / "yingji.db"
        bot, port = start_bot(self.sb, workdir, {"announce_channel": "#incidents"}, env={"ALERT_WEBHOOK_TOKEN": TOKEN})
        base = f"http://127.0.0.1:{port}"
        url = f"{base}/slack/events"
        running: Storm | None = None
        try:
            await until_healthy(f"{base}/healthz", process=bot)
            steps = await self._incidents(url, db)
            texts = {"list": [(self.general, "list")] * (CONCURRENT + WARM),
                     "note": [(channel, f"note 风暴压测记录 {i}：支付宝渠道成功率回升到 97%")
                              for i, channel in enumerate(c for c, _ in steps[:CONCURRENT + WARM])],
                     "done": [(channel, f"done {number}") for channel, number in steps[:CONCURRENT + WARM]]}
            for command in ("list", "note", "done"):  # warm up: the first of each kind fills caches and pools
                await self.send(url, texts[command][CONCURRENT:])
            await _quiet(db)
            if storm:
                running = await Storm.start(Plan(url=base, token=TOKEN, tag=index, alerts=ALERTS, every=EVERY,
                                                 groups=GROUPS, scrapes=SCRAPES, slow=SLOW, trickle=TRICKLE,
                                                 settle=SETTLE))
                await asyncio.sleep(STORM_WARM)
            for command in COMMANDS:
                chosen = texts[command][:CONCURRENT] if command != "declare" else [
                    (self.general, self.declare_text()) for _ in range(CONCURRENT)]
                before = _effects(db)[command]
                out.bare[command] = await self.send(self.bare_url, chosen)
                seen, start = len(self.sb.responses), time.monotonic()
                out.ours[command] = await self.send(url, chosen)
                if not (await self._answered(seen, len(chosen)) and await _quiet(db)):
                    out.unquiet += 1
                out.took_effect[command] = _effects(db)[command] - before
                out.answers[command] = [(entry["at"] - start) * 1000 for entry in self.sb.responses[seen:]]
            if running is not None:
                out.result = await running.stop()
                running = None
                await self._count_alerts(db, out)
        finally:
            if running is not None:
                running.kill()
            bot.kill()  # at once: the round's Slack work left undone, none of it may run into the next round
            bot.wait()
        return out

    async def _incidents(self, url: str, db: Path) -> list[tuple[str, int]]:
        """Declare enough incidents for every `done` to complete a step of its own, and wait until they are
        ready; their steps as (channel, number), spread over the incidents."""
        per = len(done_steps())
        count = max(2, math.ceil((CONCURRENT + WARM) / per))
        answers = await self.send(url, [(self.general, self.declare_text()) for _ in range(count)])
        if any(status != 200 for _, status in answers):
            raise RuntimeError(f"declaring the round's incidents: answers {sorted({s for _, s in answers})}")
        start = time.perf_counter()
        while True:
            channels = [c for c, in _read(db, "SELECT channel_id FROM incident WHERE channel_id IS NOT NULL")]
            made = [c for c in channels if c in self.sb.channels and self.user in self.sb.channels[c].members
                    and self.sb.channels[c].pins]
            if len(made) == count and _busy(db) == 0:
                break
            if time.perf_counter() - start > 120:
                raise TimeoutError(f"{len(made)} of {count} incidents ready after 120 s")
            await asyncio.sleep(0.2)
        plain = done_steps()
        return [(channel, number) for channel, number in _read(
            db, "SELECT i.channel_id, s.number FROM step s JOIN incident i ON i.id = s.incident_id "
                f"WHERE s.done_at IS NULL AND s.step_key IN ({', '.join('?' * len(plain))}) ORDER BY s.number, i.id",
            *plain)]

    async def _count_alerts(self, db: Path, out: Round) -> None:
        """The storm's alerts on the timeline, once the count has stopped moving (the server may still be
        writing a notification the storm stopped waiting for)."""
        query = ("SELECT count(*), count(DISTINCT json_extract(data, '$.fingerprint')) FROM timelineevent "
                 "WHERE kind = 'alert_firing'")
        last, start = None, time.perf_counter()
        while time.perf_counter() - start < 15:
            now = _read(db, query)[0]
            if now == last:
                break
            last = now
            await asyncio.sleep(1.0)
        out.recorded, out.distinct = last or (0, 0)
        (out.alert_incidents,), = _read(db, "SELECT count(*) FROM incident WHERE alert_key IS NOT NULL")


# --- the figures ------------------------------------------------------------------------------------------


def _ms(answers: list[tuple[float, int]]) -> list[float]:
    """The times of the requests that were answered at all."""
    return [ms for ms, status in answers if status]


def _pooled(rounds: list[Round], storm: bool, who: str, command: str) -> list[float]:
    return [ms for r in rounds if r.storm == storm for ms in _ms(getattr(r, who)[command])]


def _per_round(rounds: list[Round], storm: bool, command: str) -> list[float]:
    """yingji's p99 ÷ bare bolt's in each round, both measured a moment apart."""
    return [percentile(_ms(r.ours[command]), 99) / (percentile(_ms(r.bare[command]), 99) or 1)
            for r in rounds if r.storm == storm]


def _range(ratios: list[float]) -> str:
    return f"median of {len(ratios)}; {min(ratios):.2f}–{max(ratios):.2f}" if ratios else "no rounds"


def figures(rounds: list[Round]) -> list[Figure]:
    rows: list[Figure] = []
    for command in COMMANDS:
        quiet, storm = _pooled(rounds, False, "ours", command), _pooled(rounds, True, "ours", command)
        rows.append(Figure(f"{command}: ack p50 during the storm (baseline: without)", percentile(storm, 50), "ms",
                           "", percentile(quiet, 50)))
        p99, before = percentile(storm, 99), percentile(quiet, 99)
        rows.append(Figure(f"{command}: ack p99 during the storm (baseline: without)", p99, "ms",
                           f"≤ {TARGET_MS:.0f} ms, ≤ {TARGET_STORM:g}×", before,
                           p99 <= TARGET_MS and p99 <= TARGET_STORM * before))
        # Every command is answered after its ack, by response_url: the time the person waits to read it (for a
        # declaration the posts include the "channel ready" notice, which follows the same way).
        answers = {stormy: [ms for r in rounds if r.storm == stormy for ms in r.answers.get(command, [])]
                   for stormy in (False, True)}
        rows.append(Figure(f"{command}: answer p99 after the ack, from the burst's first send, during the storm "
                           f"(baseline: without; {len(answers[True])} posts)", percentile(answers[True], 99), "ms",
                           "", percentile(answers[False], 99)))
        for stormy, label in ((False, "without the storm"), (True, "during the storm")):
            ratios = _per_round(rounds, stormy, command)
            ratio = median(ratios)
            target = not stormy
            rows.append(Figure(f"{command}: ack p99 {label} ÷ bare bolt's, round by round ({_range(ratios)})",
                               ratio, "×", f"≤ {TARGET_BARE:g}×" if target else "",
                               met=ratio <= TARGET_BARE if target else None))
    stormy = [r for r in rounds if r.storm]
    notifications = [n for r in stormy for n in r.result.get("notifications", [])]
    sent = sum(n["alerts"] for n in notifications)
    recorded = sum(r.recorded for r in stormy)
    distinct = sum(r.distinct for r in stormy)
    groups = sum(len({n["group"] for n in r.result.get("notifications", [])}) for r in stormy)
    rows.append(Figure(f"alerts recorded ÷ distinct alerts sent ({recorded:,} alert_firing events, {distinct:,} distinct, "
                       f"of {sent:,} in {len(notifications)} notifications)", recorded, "alerts", "all, each once",
                       sent or None, recorded == distinct == sent))
    opened = sum(r.alert_incidents for r in stormy)
    rows.append(Figure("incidents opened by the alerts", opened, "incidents", f"{groups} (one per group)",
                       met=opened == groups))
    answered = [n for n in notifications if n["status"] == 200]
    retried = sum(n["attempts"] - 1 for n in notifications)
    rows.append(Figure(f"notification answered (p99; {len(answered)} of {len(notifications)} with 200, "
                       f"{retried} retries)", percentile([n["ms"] for n in answered], 99) / 1000, "s"))
    hooks = Counter[int]()
    slow = Counter[int]()
    for r in stormy:
        hooks.update({int(k): v for k, v in r.result.get("hook_statuses", {}).items()})
        slow.update({int(k): v for k, v in r.result.get("slow_answers", {}).items()})
    scrapes = [tuple(s) for r in stormy for s in r.result.get("scrapes", [])]
    commands = [sum(1 for r in rounds if r.storm == phase for c in COMMANDS for _, status in r.ours[c] if status >= 500)
                for phase in (False, True)]
    fives = {"commands without the storm": commands[0], "commands during it": commands[1],
             "alert hooks": sum(v for k, v in hooks.items() if k >= 500),
             "/metrics": sum(1 for _, s in scrapes if s >= 500), "slow bodies": sum(v for k, v in slow.items() if k >= 500)}
    total = sum(fives.values())
    rows.append(Figure("5xx answers (" + ", ".join(f"{k} {v}" for k, v in fives.items()) + ")", total, "answers", "0",
                       met=total == 0))
    unanswered = sum(1 for r in rounds for c in COMMANDS for _, status in r.ours[c] if status == 0)
    other = sum(1 for r in rounds for c in COMMANDS for _, status in r.ours[c] if 0 < status != 200 and status < 500)
    rows.append(Figure(f"commands not answered 200 otherwise ({unanswered} unanswered, {other} 4xx)", unanswered + other,
                       "commands", "0", met=unanswered + other == 0))
    asked = sum(len(r.ours[c]) for r in rounds for c in COMMANDS if c != "list")
    effect = sum(r.took_effect[c] for r in rounds for c in COMMANDS if c != "list")
    rows.append(Figure(f"notes, steps done and declarations stored ÷ sent ({sum(r.unquiet for r in rounds)} times "
                       f"their Slack work outlasted {QUIET:g} s)", effect, "commands", "all", asked or None,
                       effect == asked))
    seconds = sum(r.result.get("seconds", 0.0) for r in stormy)
    good = [ms for ms, s in scrapes if s == 200]
    rows.append(Figure(f"/metrics scrapes answered 200 a second ({SCRAPES:g} sent; "
                       f"{sum(1 for _, s in scrapes if s == 0)} timed out or failed)",
                       len(good) / seconds if seconds else 0.0, "/s"))
    rows.append(Figure("/metrics scrape p99 during the storm", percentile(good, 99), "ms"))
    opened_slow = sum(r.result.get("slow_opened", 0) for r in stormy)
    said = ", ".join(f"{k or 'none'} ×{v}" for k, v in sorted(slow.items())) or "nothing"
    rows.append(Figure(f"slow-body connections opened ({SLOW} held at once; the server closing them said: {said})",
                       opened_slow, "connections"))
    return rows


async def run() -> list[Figure]:
    sb = Sandbox(signing_secret="bench-secret", bot_token="xoxb-bench", app_token="xapp-bench", rate_limits=False)
    await sb.start()
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory() as tmp:
        bare, bare_port = start_bare_bolt(sb)
        try:
            bench = Bench(sb, Path(tmp), f"http://127.0.0.1:{bare_port}/slack/events")
            await until_healthy(f"http://127.0.0.1:{bare_port}/healthz", process=bare)
            await bench.send(bench.bare_url, [(bench.general, "list")] * WARM)
            for _ in range(ROUNDS):
                for storm in (False, True):
                    rounds.append(await bench.round(len(rounds), storm))
        finally:
            stop(bare)
            await sb.stop()
    return figures(rounds)


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run())))
