"""The baseline server: a bolt AsyncApp whose /incident handler only acks, served like yingji
(aiohttp, signature checks, process_before_response, the same listen backlog)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from yingji.app import BACKLOG


def build() -> web.Application:
    app = AsyncApp(client=AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
                   signing_secret=os.environ["SLACK_SIGNING_SECRET"], process_before_response=True)

    @app.command("/incident")
    async def only_ack(ack: Any) -> None:
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    web_app.router.add_get("/healthz", healthz)
    return web_app


async def main() -> None:
    runner = web.AppRunner(build(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(os.environ["PORT"]), backlog=BACKLOG).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
