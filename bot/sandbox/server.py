"""The sandbox HTTP server: Slack's Web API over aiohttp, plus response_url, uploads, Socket Mode and control routes."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from bot.sandbox import api_chat, api_conversations, api_other, scopes
from bot.sandbox.faults import Fault, Faults
from bot.sandbox.params import Params
from bot.sandbox.ratelimit import RateLimiter
from bot.sandbox.socket import SocketHub
from bot.sandbox.state import SlackError, Workspace

Handler = Callable[["Sandbox", Params], dict[str, Any]]
HANDLERS: dict[str, Handler] = {**api_conversations.HANDLERS, **api_chat.HANDLERS, **api_other.HANDLERS}
APP_TOKEN_METHODS = {"apps.connections.open"}
JSON_FIELDS = ("blocks", "attachments", "metadata", "view", "files")


class Sandbox(Workspace):
    """A local Slack: real HTTP, Slack's rules, errors and rate limits; state open to tests."""

    def __init__(self, signing_secret: str = "sandbox-secret", bot_token: str = "xoxb-sandbox",
                 app_token: str = "xapp-sandbox", rate_limits: bool = True, host: str = "127.0.0.1",
                 port: int = 0, bot_scopes: Iterable[str] | None = None) -> None:
        """`bot_scopes` are the bot token's (default: exactly those slack-manifest.yml asks for)."""
        super().__init__()
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_scopes = frozenset(bot_scopes) if bot_scopes is not None else scopes.manifest_scopes()
        self.host = host
        self.port = port
        self.limiter = RateLimiter()
        self.limiter.enabled = rate_limits
        self.faults = Faults()
        self.latency = 0.0
        self.socket = SocketHub(self)
        self.response_urls: dict[str, dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------

    @property
    def rate_limits(self) -> bool:
        """Whether per-method rate limits are enforced."""
        return self.limiter.enabled

    @rate_limits.setter
    def rate_limits(self, value: bool) -> None:
        self.limiter.enabled = value

    @property
    def base_url(self) -> str:
        """http://host:port of the running server."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL / AsyncWebClient(base_url=...) should be."""
        return f"{self.base_url}/api/"

    @property
    def socket_connected(self) -> int:
        """Live Socket Mode connections."""
        return self.socket.connected

    async def start(self) -> None:
        """Bind and serve (port 0 picks a free port)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/response/{rid}", self._response)
        app.router.add_post("/upload/v1/{key}", self._upload)
        app.router.add_get("/socket", self.socket.handle)
        app.router.add_post("/_sandbox/faults", self._ctl_faults)
        app.router.add_post("/_sandbox/latency", self._ctl_latency)
        app.router.add_post("/_sandbox/reset-faults", self._ctl_reset)
        app.router.add_get("/_sandbox/state", self._ctl_state)
        self._stopping.clear()
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Close sockets and stop serving."""
        self._stopping.set()
        await self.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- knobs ---------------------------------------------------------------

    def set_rate_limit(self, method: str, per_minute: float, burst: float | None = None) -> None:
        """Override one method's rate limit."""
        self.limiter.set_limit(method, per_minute, burst)

    def new_response_url(self, channel_id: str | None = None, user_id: str | None = None,
                         message_ts: str | None = None) -> str:
        """A response_url; posts to it land in `responses` (and act on the channel like Slack)."""
        rid = secrets.token_hex(8)
        self.response_urls[rid] = {"channel": channel_id, "user": user_id, "message_ts": message_ts}
        return f"{self.base_url}/response/{rid}"

    async def socket_deliver(self, type: str, payload: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """Send an envelope over Socket Mode and return the client's ack payload."""
        return await self.socket.deliver(type, payload, timeout)

    # -- Web API -------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        """Merge query string, form and JSON body arguments."""
        data: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except json.JSONDecodeError:
                    raise SlackError("invalid_json") from None
                if isinstance(body, dict):
                    data.update(body)
            else:
                form = await request.post()
                data.update({k: v for k, v in form.items() if isinstance(v, str)})
        return data

    def _token(self, request: web.Request, data: dict[str, Any]) -> str | None:
        """The token from the Authorization header or the `token` argument."""
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer "):].strip()
        token = data.get("token")
        return str(token) if token else None

    def _check_token(self, method: str, token: str | None) -> None:
        """Slack's token errors."""
        if not token:
            raise SlackError("not_authed")
        if token not in (self.bot_token, self.app_token):
            raise SlackError("invalid_auth")
        wants_app = method in APP_TOKEN_METHODS
        if wants_app != (token == self.app_token):
            raise SlackError("not_allowed_token_type")

    async def _api(self, request: web.Request) -> web.StreamResponse:
        """Run one Web API call: record, delay, authenticate, inject faults, rate-limit, handle."""
        method = request.match_info["method"]
        try:
            data = await self._params(request)
        except SlackError as e:
            return web.json_response(e.body())
        self.calls.append((method, {k: v for k, v in data.items() if k != "token"}))
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        handler = HANDLERS.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        token = self._token(request, data)
        try:
            self._check_token(method, token)
        except SlackError as e:
            return web.json_response(e.body())
        fault = self.faults.take(method, str(data.get("channel") or "") or None)
        if fault is not None:
            early = await self._apply_fault(fault, request)
            if early is not None:
                return early
        wait = self.limiter.check(method, token or "", str(data.get("channel") or "") or None)
        if wait:
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(wait)})
        try:
            params = Params(data)
            if token == self.bot_token:
                scopes.check(self, method, params, self.bot_scopes)
            result = handler(self, params)
        except SlackError as e:
            return web.json_response(e.body())
        return web.json_response({"ok": True, **result})

    async def _apply_fault(self, fault: Fault, request: web.Request) -> web.StreamResponse | None:
        """Answer a faulted call without touching state; None means 'carry on normally'."""
        if fault.kind == "429":
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers=fault.headers())
        if fault.kind == "5xx":
            return web.Response(status=503, text="upstream error")
        if fault.kind == "error":
            return web.json_response({"ok": False, "error": fault.error})
        if fault.kind == "reset":
            if request.transport is not None:
                request.transport.abort()  # no response at all: the client sees a dropped connection
            return web.Response(status=500)
        # timeout: wait `delay` (or forever if 0); answer only if the client is still there.
        deadline = asyncio.get_running_loop().time() + fault.delay if fault.delay > 0 else None
        while not self._stopping.is_set():
            if request.transport is None or request.transport.is_closing():
                return web.Response(status=500)  # the client gave up; nobody reads this
            if deadline is not None and asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(0.02)
        return web.Response(status=503, text="sandbox stopping")

    # -- response_url, uploads -----------------------------------------------

    async def _response(self, request: web.Request) -> web.StreamResponse:
        """A post to a response_url: stored, then applied as Slack would show it."""
        ctx = self.response_urls.get(request.match_info["rid"])
        if ctx is None:
            return web.Response(status=404, text="no_such_url")
        try:
            body = await request.json()
        except (json.JSONDecodeError, ValueError):
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        entry = {"response_id": request.match_info["rid"], "text": body.get("text"),
                 "blocks": body.get("blocks"), "response_type": body.get("response_type", "ephemeral"),
                 "replace_original": bool(body.get("replace_original", False)),
                 "delete_original": bool(body.get("delete_original", False)),
                 "thread_ts": body.get("thread_ts"), "channel": ctx["channel"], "user": ctx["user"], "body": body,
                 "at": time.monotonic()}
        self.responses.append(entry)
        self._apply_response(ctx, entry)
        return web.Response(text="ok")

    def _apply_response(self, ctx: dict[str, Any], entry: dict[str, Any]) -> None:
        """Show a response_url post: replace/delete the original, post in channel, or ephemeral."""
        ch = self.channels.get(ctx["channel"] or "")
        original = ch.find(ctx["message_ts"]) if ch is not None and ctx["message_ts"] else None
        if entry["delete_original"]:
            if ch is not None and original is not None:
                ch.messages.remove(original)
            return
        if entry["replace_original"] and original is not None:
            original["text"] = entry["text"] or ""
            original["blocks"] = entry["blocks"] or []
            return
        if entry["response_type"] == "in_channel" and ch is not None:
            msg = self.bot_message(entry["text"] or "", entry["blocks"])
            if entry["thread_ts"]:
                msg["thread_ts"] = entry["thread_ts"]
            ch.messages.append(msg)
            return
        self.ephemerals.append({"channel": ctx["channel"], "user": ctx["user"], "text": entry["text"] or "",
                                "blocks": entry["blocks"] or [], "ts": self.new_ts(),
                                "thread_ts": entry["thread_ts"], "source": "response_url"})

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        """The upload_url of files.getUploadURLExternal: keeps the bytes."""
        key = request.match_info["key"]
        f = next((f for f in self.files.values() if f["upload_key"] == key), None)
        if f is None:
            return web.Response(status=404, text="not found")
        data = await request.read()
        if request.content_type.startswith("multipart/"):
            return web.Response(status=400, text="send the raw bytes")
        f["bytes"] = data
        return web.Response(text=f"OK - {len(data)}")

    # -- control API (out-of-process benchmarks) ------------------------------

    async def _ctl_faults(self, request: web.Request) -> web.StreamResponse:
        """POST /_sandbox/faults {method, kind, times, retry_after, error, delay} (retry_after null: no header)."""
        body = await request.json()
        try:
            self.faults.add(body.get("method", "*"), body["kind"], times=body.get("times", 1),
                            retry_after=body.get("retry_after", 1), delay=body.get("delay", 0.0),
                            error=body.get("error", "internal_error"))
        except (KeyError, ValueError) as e:
            return web.json_response({"ok": False, "error": str(e)}, status=400)
        return web.json_response({"ok": True})

    async def _ctl_latency(self, request: web.Request) -> web.StreamResponse:
        """POST /_sandbox/latency {seconds}."""
        body = await request.json()
        self.latency = float(body.get("seconds", 0.0))
        return web.json_response({"ok": True, "latency": self.latency})

    async def _ctl_reset(self, request: web.Request) -> web.StreamResponse:
        """POST /_sandbox/reset-faults: clear faults and latency."""
        self.faults.clear()
        self.latency = 0.0
        return web.json_response({"ok": True})

    async def _ctl_state(self, request: web.Request) -> web.StreamResponse:
        """GET /_sandbox/state: a summary of channels and call counts."""
        counts: dict[str, int] = {}
        for method, _ in self.calls:
            counts[method] = counts.get(method, 0) + 1
        channels = [{"id": c.id, "name": c.name, "is_private": c.is_private, "archived": c.archived,
                     "members": sorted(c.members), "messages": len(c.messages), "pins": list(c.pins)}
                    for c in self.channels.values()]
        return web.json_response({"ok": True, "channels": channels, "calls": counts,
                                  "socket_connections": self.socket_connected})
