"""The bot as its own process: cold start until /healthz answers, memory idle, and a burst of 200
declarations under Slack's rate limits (all exist exactly once; declarers told about the delay)."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.ack import _body
from bench.common import Figure
from bench.load import fire_apart
from bench.serving import rss_mb, start_bot, stop, until_healthy
from bot.sandbox.server import Sandbox
from yingji.local import _seed

BURST = 200
SPEEDUP = 10  # the burst runs Slack's rate limits ten times faster, so the whole bench fits in minutes


async def run() -> list[Figure]:
    figures: list[Figure] = []
    sb = Sandbox(signing_secret="bench-secret", bot_token="xoxb-bench", app_token="xapp-bench")
    await sb.start()
    users, channels = _seed(sb)
    with tempfile.TemporaryDirectory() as tmp:
        bot, port = start_bot(sb, Path(tmp), {"announce_channel": "#incidents"})
        try:
            cold = await until_healthy(f"http://127.0.0.1:{port}/healthz")
            figures.append(Figure("cold start until /healthz answers (incl. schema upgrade)", cold, "s"))
            await asyncio.sleep(2)
            idle = rss_mb(bot.pid)
            figures.append(Figure("resident memory, idle", idle, "MB", "≤ 150 MB", met=idle <= 150))
            sb.limiter.speedup = SPEEDUP
            bodies = [_body(sb, channels["general"], users["zhang.wei"], n) for n in range(BURST)]
            burst_start = time.perf_counter()
            await fire_apart(f"http://127.0.0.1:{port}/slack/events", sb.signing_secret, bodies)
            while sum(1 for c in sb.channels.values() if c.name.startswith("inc-") and c.pins) < BURST:
                await asyncio.sleep(0.1)
                if time.perf_counter() - burst_start > 400:
                    break
            ready = time.perf_counter() - burst_start
            figures.append(Figure(f"burst: {BURST} declarations until all ready (limits ×{SPEEDUP})", ready, "s",
                                  f"≈ {ready * SPEEDUP / 60:.1f} min at Slack's real limit"))
            await asyncio.sleep(1)
            names = [c.name for c in sb.channels.values() if c.name.startswith("inc-")]
            with sqlite3.connect(Path(tmp) / "yingji.db") as conn:
                stored = conn.execute("select count(*), count(distinct channel_id) from incident").fetchone()
            exact = len(names) == len(set(names)) == BURST and tuple(stored) == (BURST, BURST)
            figures.append(Figure("burst: incidents in DB / channels in Slack (exactly once)", len(names), "channels",
                                  f"{BURST} and {BURST}", met=exact))
            told = sum(1 for r in sb.responses if "限流" in str(r.get("text")) or "rate-limiting" in str(r.get("text")))
            attempts = Counter(c[1].get("name") for c in sb.calls if c[0] == "conversations.create")
            delayed = sum(1 for n in attempts.values() if n > 1)  # asked again after a 429
            figures.append(Figure("burst: declarers told their channel was delayed", told, "people",
                                  f"all {delayed} delayed", met=told >= delayed))
            figures.append(Figure("resident memory after the burst", rss_mb(bot.pid), "MB"))
        finally:
            stop(bot)
            await sb.stop()
    return figures


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run())))
