"""The bot as its own process: cold start until /healthz answers, memory idle, and a burst of 200
declarations under Slack's rate limits (all exist exactly once; declarers told about the delay)."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

from bench.ack import _body, fire
from bench.common import Figure
from bot.sandbox.server import Sandbox
from yingji.local import _seed

BURST = 200
SPEEDUP = 10  # the burst runs Slack's rate limits ten times faster, so the whole bench fits in minutes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run() -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        sb = Sandbox(signing_secret="bench-secret", bot_token="xoxb-bench", app_token="xapp-bench")
        await sb.start()
        users, channels = _seed(sb)
        config = Path(tmp) / "yingji.yaml"
        config.write_text(yaml.safe_dump({"announce_channel": "#incidents"}))
        db = Path(tmp) / "yingji.db"
        port = _free_port()
        env = {**os.environ, "SLACK_BOT_TOKEN": sb.bot_token, "SLACK_SIGNING_SECRET": sb.signing_secret,
               "SLACK_API_URL": sb.api_url, "DATABASE_URL": f"sqlite+aiosqlite:///{db}", "YINGJI_CONFIG": str(config),
               "HOST": "127.0.0.1", "PORT": str(port)}
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "yingji.cli", "serve"], env=env, cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            async with aiohttp.ClientSession() as http:
                while True:
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.02)
            figures.append(Figure("cold start until /healthz answers (incl. schema upgrade)", time.perf_counter() - start, "s"))
            await asyncio.sleep(2)
            idle = _rss_mb(proc.pid)
            figures.append(Figure("resident memory, idle", idle, "MB", "≤ 150 MB", met=idle <= 150))
            sb.limiter.speedup = SPEEDUP
            bodies = [_body(sb, channels["general"], users["zhang.wei"], n) for n in range(BURST)]
            burst_start = time.perf_counter()
            await fire(f"http://127.0.0.1:{port}/slack/events", sb.signing_secret, bodies)
            while sum(1 for c in sb.channels.values() if c.name.startswith("inc-") and c.pins) < BURST:
                await asyncio.sleep(0.1)
                if time.perf_counter() - burst_start > 400:
                    break
            ready = time.perf_counter() - burst_start
            figures.append(Figure(f"burst: {BURST} declarations until all ready (limits ×{SPEEDUP})", ready, "s",
                                  f"≈ {ready * SPEEDUP / 60:.1f} min at Slack's real limit"))
            await asyncio.sleep(1)
            names = [c.name for c in sb.channels.values() if c.name.startswith("inc-")]
            with sqlite3.connect(db) as conn:
                stored = conn.execute("select count(*), count(distinct channel_id) from incident").fetchone()
            exact = len(names) == len(set(names)) == BURST and tuple(stored) == (BURST, BURST)
            figures.append(Figure("burst: incidents in DB / channels in Slack (exactly once)", len(names), "channels",
                                  f"{BURST} and {BURST}", met=exact))
            told = sum(1 for r in sb.responses if "限流" in str(r.get("text")) or "rate-limiting" in str(r.get("text")))
            limited = sum(1 for c in sb.calls if c[0] == "conversations.create") - BURST
            figures.append(Figure("burst: declarers told their channel was delayed", told, "people",
                                  "everyone delayed", met=told > 0 if limited > 0 else None))
            figures.append(Figure("resident memory after the burst", _rss_mb(proc.pid), "MB"))
        finally:
            proc.terminate()
            proc.wait(10)
            await sb.stop()
    return figures


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run())))
