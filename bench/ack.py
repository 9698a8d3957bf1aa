"""Ack latency of `/incident declare` at 1, 50 and 200 concurrent requests, against a bare bolt app."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.common import Figure, percentile
from bot.sandbox.actor import sign
from bot.sandbox.server import Sandbox
from yingji.local import LocalStack

LEVELS = (1, 50, 200)


def _body(sb: Sandbox, channel: str, user: str, n: int) -> bytes:
    return urlencode({
        "token": "x", "team_id": sb.team_id, "team_domain": "sandbox", "channel_id": channel, "channel_name": "general",
        "user_id": user, "user_name": "bench", "command": "/incident",
        "text": f"declare sev2 payment-failure 压测 {n} checkout latency", "api_app_id": sb.app_id,
        "is_enterprise_install": "false", "response_url": sb.new_response_url(channel, user),
        "trigger_id": sb.new_trigger_id(),
    }).encode()


async def fire(url: str, secret: str, bodies: list[bytes]) -> list[float]:
    """Send all bodies at once, signed like Slack; each request's time to its HTTP answer, in ms."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def one(body: bytes) -> float:
            ts = str(int(time.time()))
            headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                       "X-Slack-Signature": sign(secret, ts, body)}
            start = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                assert response.status == 200, response.status
            return (time.perf_counter() - start) * 1000

        return list(await asyncio.gather(*(one(b) for b in bodies)))


async def bare_bolt(sb: Sandbox) -> tuple[web.AppRunner, str]:
    """The baseline: a bolt AsyncApp whose /incident handler only acks, served through aiohttp like ours."""
    app = AsyncApp(client=AsyncWebClient(token=sb.bot_token, base_url=sb.api_url), signing_secret=sb.signing_secret,
                   process_before_response=True)

    @app.command("/incident")
    async def only_ack(ack: Any) -> None:
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"


async def run() -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        stack = await LocalStack.start(Path(tmp), rate_limits=False)
        runner, baseline_url = await bare_bolt(stack.sandbox)
        try:
            sb, user, channel = stack.sandbox, stack.users["zhang.wei"], stack.channels["general"]
            ours_url = f"{stack.server.url}/slack/events"
            await fire(baseline_url, sb.signing_secret, [_body(sb, channel, user, -1)])  # warm up both
            await fire(ours_url, sb.signing_secret, [_body(sb, channel, user, 0)])
            await stack.settle(120)
            n = 1
            for level in LEVELS:
                base = await fire(baseline_url, sb.signing_secret, [_body(sb, channel, user, -1) for _ in range(level)])
                ours = await fire(ours_url, sb.signing_secret, [_body(sb, channel, user, n + i) for i in range(level)])
                n += level
                for name, pct in (("p50", 50), ("p99", 99), ("max", 100)):
                    value, baseline = percentile(ours, pct), percentile(base, pct)
                    target, met = "", None
                    if level == 200 and name == "p99":
                        target = "≤ 50 ms and ≤ 1.5× bare bolt"
                        met = value <= 50 and value <= 1.5 * baseline
                    figures.append(Figure(f"ack {name} at {level} concurrent", value, "ms", target, baseline, met))
                await stack.settle(300)
        finally:
            await runner.cleanup()
            await stack.stop()
    return figures


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run())))
