"""Socket Mode: slack_sdk's aiohttp SocketModeClient connects, gets hello, receives envelopes and acks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import Sandbox


async def wait_connected(sb: Sandbox, count: int = 1) -> None:
    """Wait until the sandbox sees `count` live connections."""
    for _ in range(200):
        if sb.socket_connected >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("socket mode client did not connect")


async def test_hello_deliver_and_ack(sb: Sandbox) -> None:
    received: list[dict[str, Any]] = []
    seen_raw: list[dict[str, Any]] = []

    async def on_request(client: SocketModeClient, req: SocketModeRequest) -> None:
        received.append({"type": req.type, "payload": req.payload, "accepts": req.accepts_response_payload})
        payload = {"text": "got " + str(req.payload.get("command"))} if req.type == "slash_commands" else None
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id, payload=payload))

    async def on_message(client: SocketModeClient, message: dict[str, Any], raw: str | None) -> None:
        seen_raw.append(message)

    client = SocketModeClient(app_token=sb.app_token, web_client=AsyncWebClient(base_url=sb.api_url),
                              ping_interval=1, auto_reconnect_enabled=False)
    client.socket_mode_request_listeners.append(on_request)  # type: ignore[arg-type]
    client.message_listeners.append(on_message)  # type: ignore[arg-type]
    try:
        await client.connect()
        await wait_connected(sb)
        ack = await sb.socket_deliver("slash_commands", {"command": "/incident", "text": "list"})
        assert ack == {"text": "got /incident"}
        ack = await sb.socket_deliver("events_api", {"type": "event_callback", "event": {"type": "app_mention"}})
        assert ack == {}
        assert [r["type"] for r in received] == ["slash_commands", "events_api"]
        assert received[0]["accepts"] is True and received[1]["accepts"] is False
        hello = seen_raw[0]
        assert hello["type"] == "hello" and hello["connection_info"]["app_id"] == sb.app_id
        assert [m for m, _ in sb.calls] == ["apps.connections.open"]
    finally:
        await client.close()


async def test_deliver_without_connection_or_ack(sb: Sandbox) -> None:
    with pytest.raises(RuntimeError):
        await sb.socket_deliver("events_api", {})
    client = SocketModeClient(app_token=sb.app_token, web_client=AsyncWebClient(base_url=sb.api_url),
                              auto_reconnect_enabled=False)  # no listeners: nobody acks
    try:
        await client.connect()
        await wait_connected(sb)
        with pytest.raises(asyncio.TimeoutError):
            await sb.socket_deliver("interactive", {"type": "block_actions"}, timeout=0.2)
    finally:
        await client.close()


async def test_ticket_is_single_use(sb: Sandbox) -> None:
    import aiohttp

    url = sb.socket.new_url()
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url) as ws:
            hello = json.loads((await ws.receive()).data)
            assert hello["type"] == "hello" and hello["num_connections"] == 1
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(url)
