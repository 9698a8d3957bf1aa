"""Builds the bolt app and the HTTP server around one Runtime; the only place that sees both bot/ and commands/."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

import commands
from bot.db import utcnow
from bot.figures import figures
from bot.logsafe import bolt_logger
from bot.metrics import BACKGROUND_TASKS, REGISTRY, WINDOW_DAYS, observed, prime_outbox, publish
from bot.runtime import Runtime
from bot.slack import envelope
from bot.slack.ops import OPERATIONS
from yingji import hooks, status_routes
from yingji.edges import BoundedSite, Limits, read_body

log = logging.getLogger(__name__)

BACKLOG = 1024
GIL_SWITCH_SECONDS = 0.0005  # how long a thread keeps the GIL while the event loop waits for it (default 5 ms)


def build_bolt_app(rt: Runtime) -> AsyncApp:
    """The bolt app: listeners run before the response, so the ack follows the write."""
    app = AsyncApp(
        client=rt.client,
        signing_secret=rt.settings.signing_secret,
        process_before_response=True,
        request_verification_enabled=False,  # screen() checks every HTTP request first; Socket Mode needs none
        raise_error_for_unhandled_request=False,
        logger=bolt_logger(),  # bolt's DEBUG would log every ack body, private incidents' words among them
    )
    commands.register(app, rt)
    return app


def screen(
    body: bytes, headers: Mapping[str, str], content_type: str, signing_secret: str
) -> dict[str, Any] | BoltResponse:
    """The request parsed, or the refusal of what Slack did not sign (401) or would never send (400).

    Checked and parsed here once; bolt is handed the result (see bolt_request), so a storm does not pay
    for the signature check and the body parse twice.
    """
    if not envelope.signed(signing_secret, body, headers):
        return BoltResponse(status=401, body={"error": "invalid request"})
    parsed = envelope.parse(body, content_type)
    if parsed is None:
        return BoltResponse(status=400, body={"error": "not a JSON object, a form or a payload"})
    why = envelope.problem(parsed)
    return BoltResponse(status=400, body={"error": why}) if why else parsed


def bolt_request(raw: bytes, parsed: dict[str, Any], request: web.Request) -> AsyncBoltRequest:
    """bolt's request built from the body screen() parsed, without U+0000 in any text (see envelope.scrub).

    bolt's own parser is not used: it treats any form containing the word "payload" as an interactivity
    payload and drops the command (404, nothing done), and a person typing that word must still be heard.
    """
    bolt_req = AsyncBoltRequest(body="", query=request.query_string, headers=request.headers)  # type: ignore[arg-type]
    bolt_req.raw_body = raw.decode("utf-8")  # screen() has checked it decodes; the charset header is not trusted
    bolt_req.body = envelope.scrub(parsed)
    bolt_req.context = build_async_context(AsyncBoltContext({}), bolt_req.body)
    return bolt_req


def build_web_app(rt: Runtime, bolt: AsyncApp) -> web.Application:
    """Routes from DESIGN.md: /slack/events, /healthz, /metrics, the hooks and the public status page."""

    limits = limits_of(rt)
    scrape = Scrape(rt)

    async def slack_events(request: web.Request) -> web.Response:
        with rt.requests.answering():
            raw = await read_body(request, limits.slack_body_bytes, limits.read_timeout)
            if isinstance(raw, web.Response):
                return raw
            checked = screen(raw, request.headers, request.content_type, rt.settings.signing_secret)
            if isinstance(checked, BoltResponse):
                response = checked
            else:
                response = await bolt.async_dispatch(bolt_request(raw, checked, request))
        if response.status == 404:  # signed, well formed, and nothing here listens for it: acknowledged and ignored
            response = BoltResponse(status=200, body="")  # (an event answered otherwise is retried by Slack)
        return await to_aiohttp_response(response)

    async def healthz(_: web.Request) -> web.Response:
        database = await rt.database_ok()
        ok = database and rt.ready
        body = {"status": "ok" if ok else "unavailable", "database": database, "ready": rt.ready}
        return web.json_response(body, status=200 if ok else 503)

    async def metrics(_: web.Request) -> web.Response:
        BACKGROUND_TASKS.set(len(rt.tasks))
        await scrape.refresh()
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    prime_outbox(OPERATIONS)
    web_app = web.Application()
    web_app.router.add_post("/slack/events", observed("/slack/events", slack_events))
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)
    hooks.add_routes(web_app, rt, limits)
    status_routes.add_routes(web_app, rt.status_page, rt.settings.file)
    return web_app


def limits_of(rt: Runtime) -> Limits:
    """The HTTP edges the deployment chose."""
    file = rt.settings.file
    return Limits(hook_body_bytes=file.hook_max_bytes, read_timeout=file.read_timeout_seconds,
                  max_connections=file.max_connections)


class Scrape:
    """/metrics' figures from the database at most once per FRESH seconds, however many scrapers ask at once:
    a scrape storm costs one query, not one each, and never queues acks behind it."""

    FRESH = 10.0

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.at = -self.FRESH
        self.lock = asyncio.Lock()

    async def refresh(self) -> None:
        if time.monotonic() - self.at < self.FRESH:
            return
        async with self.lock:  # the others wait for this one's query and read its answer
            if time.monotonic() - self.at < self.FRESH:
                return
            async with self.rt.reads() as session:
                publish(await figures(session, utcnow() - timedelta(days=WINDOW_DAYS)), self.rt.playbooks)
            self.at = time.monotonic()


@dataclass
class Server:
    """A started bot: its HTTP listener, and the Socket Mode connection when asked for."""

    rt: Runtime
    runner: web.AppRunner
    port: int
    socket: AsyncSocketModeHandler | None = None

    @property
    def url(self) -> str:
        """Base URL of the HTTP listener on loopback."""
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        """Close Socket Mode, stop taking requests, then stop background work."""
        if self.socket is not None:
            await self.socket.close_async()
        await self.runner.cleanup()
        await self.rt.stop()


def share_identity(bolt: AsyncApp, rt: Runtime) -> None:
    """bolt calls auth.test on its first request; give it the answer start-up already has, so a Slack
    hiccup at that moment cannot turn someone's first command into an error with nothing recorded."""
    for middleware in bolt._async_middleware_list:  # bolt offers no public way to hand it over
        if isinstance(middleware, AsyncSingleTeamAuthorization) and rt.auth is not None:
            middleware.auth_test_result = rt.auth


async def start(rt: Runtime, *, host: str, port: int, socket_mode: bool = False) -> Server:
    """Start listening, then make the runtime ready (health answers 503 until it is)."""
    # A thread parsing thousands of alerts holds the GIL; the event loop lets it go at every socket call and
    # would wait the default 5 ms to get it back each time (the convoy effect), so acks queued behind a parse.
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    bolt = build_bolt_app(rt)
    # lingering_time=0: a body the server refused (too large, too slow) is not read on for 10 s more.
    runner = web.AppRunner(build_web_app(rt, bolt), access_log=None, lingering_time=0)
    await runner.setup()
    # A storm sends hundreds of connections at once; the default backlog (128) drops the rest's SYNs,
    # which the kernel retries only after a second, a third of Slack's 3-second budget.
    site = BoundedSite(runner, host, port, backlog=BACKLOG, limit=limits_of(rt).max_connections)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    server = Server(rt=rt, runner=runner, port=bound)
    try:
        await rt.start()
        await rt.status_page.start()  # the web process serves the public page (the scheduler worker does not)
        share_identity(bolt, rt)
        await commands.answer_unanswered(rt)
        if socket_mode:
            assert rt.settings.app_token is not None
            server.socket = AsyncSocketModeHandler(bolt, app_token=rt.settings.app_token)
            await server.socket.connect_async()
    except BaseException:
        await server.stop()
        raise
    log.info("yingji listening on %s:%s%s", host, bound, " with Socket Mode" if socket_mode else "")
    return server
