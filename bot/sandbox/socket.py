"""Socket Mode: the websocket slack_sdk's SocketModeClient connects to, and envelope delivery with acks."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from bot.sandbox.server import Sandbox

log = logging.getLogger(__name__)


class SocketHub:
    """Issues tickets, holds live connections and matches acks to delivered envelopes."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.tickets: set[str] = set()
        self.connections: list[web.WebSocketResponse] = []
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._next = 0

    @property
    def connected(self) -> int:
        """Number of live connections."""
        return sum(1 for ws in self.connections if not ws.closed)

    def new_url(self) -> str:
        """A one-use ws:// URL, as apps.connections.open returns."""
        ticket = secrets.token_hex(16)
        self.tickets.add(ticket)
        return f"{self.sb.base_url.replace('http://', 'ws://', 1)}/socket?ticket={ticket}&app_id={self.sb.app_id}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Accept a client, say hello, then read acks until it goes away."""
        ticket = request.query.get("ticket", "")
        if ticket not in self.tickets:
            return web.Response(status=401, text="invalid ticket")
        self.tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections.append(ws)
        await ws.send_str(json.dumps({
            "type": "hello",
            "num_connections": self.connected,
            "debug_info": {"host": "applink-sandbox", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.sb.app_id},
        }))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_text(msg.data)
        finally:
            if ws in self.connections:
                self.connections.remove(ws)
        return ws

    def _on_text(self, data: str) -> None:
        """Resolve the delivery waiting for this ack."""
        try:
            message = json.loads(data)
        except json.JSONDecodeError:
            log.warning("sandbox socket: non-JSON message %r", data[:200])
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        future = self.pending.pop(envelope_id, None) if envelope_id else None
        if future is not None and not future.done():
            payload = message.get("payload")
            future.set_result(payload if isinstance(payload, dict) else {})

    async def deliver(self, type_: str, payload: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """Send one envelope to a live connection and return the ack's payload."""
        live = [ws for ws in self.connections if not ws.closed]
        if not live:
            raise RuntimeError("no Socket Mode connection to deliver to")
        ws = live[self._next % len(live)]
        self._next += 1
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[envelope_id] = future
        envelope = {"envelope_id": envelope_id, "type": type_, "payload": payload,
                    "accepts_response_payload": type_ != "events_api", "retry_attempt": 0, "retry_reason": ""}
        try:
            await ws.send_str(json.dumps(envelope))
            return await asyncio.wait_for(future, timeout)
        finally:
            self.pending.pop(envelope_id, None)

    async def disconnect_all(self, reason: str = "refresh_requested") -> None:
        """Ask clients to reconnect, as Slack does before it rotates a connection."""
        for ws in list(self.connections):
            if not ws.closed:
                await ws.send_str(json.dumps({"type": "disconnect", "reason": reason,
                                              "debug_info": {"host": "applink-sandbox"}}))

    async def close(self) -> None:
        """Close every connection and fail pending deliveries."""
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("sandbox stopped"))
        self.pending.clear()
        for ws in list(self.connections):
            await ws.close(code=1001, message=b"sandbox stopping")
        self.connections.clear()
