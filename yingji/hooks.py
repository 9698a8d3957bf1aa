"""Alert webhooks: Alertmanager and a simple JSON, behind a bearer token, answered before any Slack call."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.alerts import payloads, store
from bot.alerts.payloads import AlertBatch, AlertError
from bot.db import utcnow
from bot.metrics import observed
from bot.runtime import Runtime
from yingji.edges import Limits, read_body

log = logging.getLogger(__name__)

Parse = Callable[[Any, Runtime], AlertBatch]
OFF_LOOP_BYTES = 64 * 1024


def _error(status: int, reason: str, **headers: str) -> web.Response:
    """A JSON error body with the reason, so the sender's logs say what to fix."""
    return web.json_response({"error": reason}, status=status, headers=headers or None)


def _denied(rt: Runtime, request: web.Request) -> web.Response | None:
    """401 unless the request carries the configured bearer token (compared in constant time)."""
    expected = rt.settings.alert_webhook_token
    if not expected:
        return _error(401, "ALERT_WEBHOOK_TOKEN is not set", **{"WWW-Authenticate": "Bearer"})
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        log.info("alert webhook %s refused: missing or wrong bearer token", request.path)
        return _error(401, "missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})
    return None


def _alertmanager(raw: Any, rt: Runtime) -> AlertBatch:
    """Alertmanager's v4 body as a batch."""
    return payloads.from_alertmanager(payloads.parse_alertmanager(raw), rt.settings.file.alerts, rt.playbooks)


def _simple(raw: Any, rt: Runtime) -> AlertBatch:
    """The simple JSON as a batch."""
    return payloads.from_simple(payloads.parse_simple(raw), rt.settings.file.alerts, rt.playbooks, utcnow())


def _parsed(body: bytes, parse: Parse, rt: Runtime) -> AlertBatch:
    """The body as a checked batch; a body that is not JSON, or is nested past what Python can read, is an AlertError."""
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AlertError(f"body is not JSON: {exc}") from None
    except RecursionError:
        raise AlertError("body is nested too deep to be an alert") from None
    return parse(raw, rt)


def _handler(rt: Runtime, parse: Parse, limits: Limits) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Token, then the body (bounded in size and time), then the whole payload checked off the event loop when
    it is large, then the alerts written in short transactions; Slack work only after answering."""

    async def handle(request: web.Request) -> web.Response:
        denied = _denied(rt, request)
        if denied is not None:
            return denied
        body = await read_body(request, limits.hook_body_bytes, limits.read_timeout)
        if isinstance(body, web.Response):
            return body
        try:
            if len(body) > OFF_LOOP_BYTES:  # thousands of alerts: parsing them must not stall every ack
                batch = await asyncio.to_thread(_parsed, body, parse, rt)
            else:
                batch = _parsed(body, parse, rt)
        except AlertError as exc:
            log.info("alert webhook %s: bad payload: %s", request.path, exc)
            return _error(400, str(exc))
        result = await store.ingest(rt.sessions, rt, batch)
        if result.touched and result.incident_id is not None:
            rt.runner.kick(result.incident_id)
        log.info("alert %s: %s", batch.key, result)
        body_out: dict[str, Any] = {
            "incidents": [result.incident_key] if result.incident_key else [],
            "added": result.added,
            "opened": int(result.opened),
            "resolved": result.resolved,
        }
        if result.ignored:
            body_out["ignored"] = result.ignored
        if batch.note:
            body_out["warnings"] = [batch.note]
        return web.json_response(body_out)

    return handle


def add_routes(app: web.Application, rt: Runtime, limits: Limits) -> None:
    """POST /hooks/alertmanager and POST /hooks/alert, as DESIGN.md lists them."""
    app.router.add_post("/hooks/alertmanager", observed("/hooks/alertmanager", _handler(rt, _alertmanager, limits)))
    app.router.add_post("/hooks/alert", observed("/hooks/alert", _handler(rt, _simple, limits)))
