"""Customers refreshing the status page hardest during an incident, against the real `yingji serve`: how many
`/status` and `/status.json` answers a second it gives beside a bare aiohttp handler returning the same bytes
(bench/bare_status.py), and whether 200 slash commands are acked as fast during that flood as without it.

The page is fed as in production: an incident declared, its statement drafted, approved by comms and marked
published to the status page, all through signed Slack requests. The crowd (bench/status_load.py) and the
commands (bench/load.py) come from processes of their own. Rounds alternate without and with the flood, so each
pair is measured side by side on a machine whose speed drifts; figures are ratios. Each measurement starts once the
bot is idle, so none pays for the Slack work the commands before it left behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from bench.common import Figure, median, percentile
from bench.load import exchange_apart, slash_body
from bench.serving import free_port, start_bot, stop, until_healthy, until_idle
from bot.db import utcnow
from bot.sandbox.actor import SlackActor
from bot.sandbox.server import Sandbox
from yingji.local import _seed

PATHS = ("/status", "/status.json")
CROWD = 64            # browsers at once, each on a keep-alive connection
SECONDS = 5.0         # each throughput measurement
ROUNDS = 3
CONCURRENT = 200      # slash commands of each kind sent at once
COMMANDS = ("list", "note")
FLOOD_WARM = 1.0      # seconds of flood before the commands are sent
TARGET_ACK, TARGET_THROUGHPUT = 1.5, 0.7
COMPONENTS = [{"id": "payment", "name": {"zh": "支付", "en": "Payment"}},
              {"id": "checkout", "name": {"zh": "下单", "en": "Checkout"}}]


async def crowd(url: str, seconds: float) -> dict[str, Any]:
    """The crowd from its own process: every answer's time and status."""
    child = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.status_load", url, str(CROWD),
                                                 str(seconds), *PATHS, stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate()
    if child.returncode:
        raise RuntimeError(f"status crowd failed ({child.returncode})")
    return dict(json.loads(out))


async def publish_statement(sb: Sandbox, base: str, users: dict[str, str], general: str) -> str:
    """Declare, draft, approve (comms) and mark published to the status page; the incident's channel."""
    actor = SlackActor(sb, request_url=f"{base}/slack/events", signing_secret=sb.signing_secret)
    try:
        await actor.slash("/incident", "declare sev2 payment-failure 状态页压测 支付宝回调超时", user_id=users["zhang.wei"],
                          channel_id=general)
        channel = await _until(lambda: next((c.id for c in sb.channels.values() if c.name.startswith("inc-")), None))
        await actor.slash("/incident", "statement", user_id=users["zhang.wei"], channel_id=channel)
        form = await _until(lambda: next((k for k, v in sb.views.items() if v.get("callback_id") == "statement_form"), None))
        later = (utcnow() + timedelta(minutes=30)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
        facts = {"stage": "investigating", "language": "zh", "what_happened": "部分用户付款后订单仍显示待支付",
                 "affected": "今天用支付宝下单的部分用户", "doing": "已切换备用通道，逐笔核对已扣款订单",
                 "customer_action": "请勿重复付款", "compensation": "", "data": "not_applicable", "data_detail": "",
                 "next_update": later, "components": ["payment"], "component_state": "partial_outage"}
        await actor.submit_view(form, users["zhang.wei"], values={k: {"value": v} for k, v in facts.items()})
        draft = await _until(lambda: next((m for m in sb.messages(channel) if "statement_approve" in str(m.get("blocks"))), None))
        value = next(e["value"] for b in draft["blocks"] if b["type"] == "actions" for e in b["elements"])
        await actor.block_action(users["wang.fang"], "statement_approve", value=value, channel_id=channel,
                                 message_ts=draft["ts"])
        await asyncio.sleep(1.0)
        await actor.block_action(users["wang.fang"], "statement_publish", value=value, channel_id=channel,
                                 message_ts=draft["ts"])
        publish = await _until(lambda: next((k for k, v in sb.views.items()
                                             if v.get("callback_id") == "statement_publish_form"), None))
        await actor.submit_view(publish, users["wang.fang"], values={"outlets": {"value": ["status_page", "banner"]}})
        async with aiohttp.ClientSession() as http:
            async def shown() -> bool:
                async with http.get(f"{base}/status.json") as response:
                    return bool((await response.json())["incidents"])
            for _ in range(200):
                if await shown():
                    return channel
                await asyncio.sleep(0.1)
        raise TimeoutError("the published statement never reached the status page")
    finally:
        await actor.close()


async def _until(find: Any, limit: float = 30.0) -> Any:
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        if (found := find()) is not None:
            return found
        await asyncio.sleep(0.05)
    raise TimeoutError("the sandbox never showed what the bench waited for")


async def fetch_pages(base: str) -> dict[str, tuple[bytes, dict[str, str]]]:
    """The bytes and headers yingji answers (all but those aiohttp writes itself), for the bare handler to answer
    the same: an answer on the wire costs the same to write whoever writes it."""
    pages = {}
    async with aiohttp.ClientSession() as http:
        for path in PATHS:
            async with http.get(f"{base}{path}", headers={"Accept-Encoding": "identity"}) as response:
                pages[path] = (await response.read(), {k: v for k, v in response.headers.items()
                                                       if k.lower() not in ("date", "server", "content-length")})
    return pages


def save_pages(pages: dict[str, tuple[bytes, dict[str, str]]], directory: Path) -> None:
    """Where bench/bare_status.py reads them: index.json and one body file per path."""
    directory.mkdir(parents=True, exist_ok=True)
    index = {}
    for i, (path, (body, headers)) in enumerate(pages.items()):
        (directory / f"{i}.body").write_bytes(body)
        index[path] = {"file": f"{i}.body", "headers": headers}
    (directory / "index.json").write_text(json.dumps(index))


def _ok(result: dict[str, Any]) -> int:
    return int(result["statuses"].get("200", 0))


async def run() -> list[Figure]:
    sb = Sandbox(signing_secret="bench-secret", bot_token="xoxb-bench", app_token="xapp-bench", rate_limits=False)
    await sb.start()
    users, channels = _seed(sb)
    rates: dict[str, list[float]] = {"ours": [], "bare": []}
    times: dict[str, list[float]] = {"ours": [], "bare": []}
    acks: dict[tuple[str, bool], list[float]] = {}
    ratios: dict[str, list[float]] = {c: [] for c in COMMANDS}
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        config = {"announce_channel": "#incidents", "default_roles": {"comms": users["wang.fang"]},
                  "brand": "示例商城", "status_page": {"components": COMPONENTS}}
        bot, port = start_bot(sb, Path(tmp), config)
        base = f"http://127.0.0.1:{port}"
        bare = None
        try:
            await until_healthy(f"{base}/healthz", process=bot)
            channel = await publish_statement(sb, base, users, channels["general"])
            save_pages(await fetch_pages(base), Path(tmp) / "pages")
            bare_port = free_port()
            bare = subprocess.Popen([sys.executable, "-m", "bench.bare_status", str(Path(tmp) / "pages")],
                                    env={**os.environ, "PORT": str(bare_port)})
            bare_base = f"http://127.0.0.1:{bare_port}"
            for _ in range(100):
                try:
                    async with aiohttp.ClientSession() as http, http.get(f"{bare_base}/status") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            texts = {"list": [(channels["general"], "list")] * CONCURRENT,
                     "note": [(channel, f"note 状态页压测 {i}") for i in range(CONCURRENT)]}
            for _ in range(ROUNDS):
                for who, url in (("ours", base), ("bare", bare_base)):
                    await until_idle(bot.pid)
                    result = await crowd(url, SECONDS)
                    rates[who].append(_ok(result) / result["seconds"])
                    times[who] += result["times"]
                    failed += sum(v for k, v in result["statuses"].items() if k != "200")
                for command in COMMANDS:
                    bodies = [slash_body(sb, c, users["zhang.wei"], t) for c, t in texts[command]]
                    await until_idle(bot.pid)
                    quiet = [ms for ms, s in await exchange_apart(f"{base}/slack/events", sb.signing_secret, bodies) if s == 200]
                    await until_idle(bot.pid)
                    flood = asyncio.create_task(crowd(base, FLOOD_WARM + 4.0))
                    await asyncio.sleep(FLOOD_WARM)
                    bodies = [slash_body(sb, c, users["zhang.wei"], t) for c, t in texts[command]]
                    during = [ms for ms, s in await exchange_apart(f"{base}/slack/events", sb.signing_secret, bodies) if s == 200]
                    await flood
                    acks.setdefault((command, False), []).extend(quiet)
                    acks.setdefault((command, True), []).extend(during)
                    ratios[command].append(percentile(during, 99) / (percentile(quiet, 99) or 1))
        finally:
            if bare is not None:
                stop(bare)
            stop(bot)
            await sb.stop()
    rows = [Figure(f"status answers a second, {CROWD} keep-alive browsers on {' and '.join(PATHS)} "
                   f"(baseline: bare aiohttp, same bytes; median of {ROUNDS})", median(rates["ours"]), "/s",
                   f"≥ {TARGET_THROUGHPUT:g}×", median(rates["bare"]),
                   median(rates["ours"]) >= TARGET_THROUGHPUT * median(rates["bare"])),
            Figure("status answer p99 (baseline: bare aiohttp)", percentile(times["ours"], 99), "ms", "",
                   percentile(times["bare"], 99)),
            Figure("status answers other than 200", failed, "answers", "0", met=failed == 0)]
    for command in COMMANDS:
        during, quiet = percentile(acks[(command, True)], 99), percentile(acks[(command, False)], 99)
        ratio = median(ratios[command])
        rows.append(Figure(f"{command}: ack p99 during the flood (baseline: without)", during, "ms", "", quiet))
        rows.append(Figure(f"{command}: ack p99 during ÷ without, round by round (median of {ROUNDS}; "
                           f"{min(ratios[command]):.2f}–{max(ratios[command]):.2f})", ratio, "×",
                           f"≤ {TARGET_ACK:g}×", met=ratio <= TARGET_ACK))
    return rows


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run())))
