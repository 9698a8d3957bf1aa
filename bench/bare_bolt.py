"""The baseline servers: a bolt AsyncApp whose /incident handler only acks, served like yingji
(aiohttp, signature checks, process_before_response, the same listen backlog); with BARE_BOLT_DB set,
the same app stores each command in that SQLite file (WAL, one transaction each) before it acks —
what a durable ack costs when every request writes alone; with BARE_AIOHTTP set, no bolt at all: aiohttp
reading each request and answering 200, the floor any app served this way stands on."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiosqlite
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from yingji.app import BACKLOG


async def open_store(path: str) -> aiosqlite.Connection:
    """The SQLite file the durable baseline writes to, set up as yingji's is (WAL, synchronous=NORMAL)."""
    db = await aiosqlite.connect(path, isolation_level=None)
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=NORMAL")
    await db.execute("CREATE TABLE IF NOT EXISTS command (id INTEGER PRIMARY KEY, user_id TEXT, text TEXT)")
    return db


def build_floor() -> web.Application:
    """aiohttp alone: read the request, answer 200 with an empty body."""

    async def events(request: web.Request) -> web.Response:
        await request.read()
        return web.Response()

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    web_app.router.add_get("/healthz", events)
    return web_app


def build(store: aiosqlite.Connection | None) -> web.Application:
    app = AsyncApp(client=AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
                   signing_secret=os.environ["SLACK_SIGNING_SECRET"], process_before_response=True)
    lock = asyncio.Lock()  # one connection: one transaction at a time

    @app.command("/incident")
    async def only_ack(ack: Any, body: dict[str, Any]) -> None:
        if store is not None:
            async with lock:
                await store.execute("BEGIN IMMEDIATE")
                await store.execute("INSERT INTO command (user_id, text) VALUES (?, ?)", (body["user_id"], body["text"]))
                await store.execute("COMMIT")
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
    store = await open_store(os.environ["BARE_BOLT_DB"]) if os.environ.get("BARE_BOLT_DB") else None
    app = build_floor() if os.environ.get("BARE_AIOHTTP") else build(store)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(os.environ["PORT"]), backlog=BACKLOG).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
