"""SlackActor: signed requests slack_sdk can verify, real payload shapes, and a real bolt app end to end."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import Sandbox, SlackActor


class Recorder:
    """A stand-in bot endpoint that records what Slack (the actor) sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.reply: dict[str, Any] | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((dict(request.headers), await request.read()))
        if self.reply is not None:
            return web.json_response(self.reply)
        return web.Response(status=200)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Run an aiohttp app on a free port; return its runner and /slack/events URL."""
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/slack/events"


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, str]]:
    rec = Recorder()
    app = web.Application()
    app.router.add_post("/slack/events", rec.handle)
    runner, url = await serve(app)
    yield rec, url
    await runner.cleanup()


async def test_signatures_verify_with_slack_sdk(sb: Sandbox, recorder: tuple[Recorder, str]) -> None:
    rec, url = recorder
    actor = SlackActor(sb, request_url=url, signing_secret=sb.signing_secret)
    verifier = SignatureVerifier(sb.signing_secret)
    alice = sb.add_user("alice")
    cid = sb.add_channel("inc-1", members=[alice, sb.bot_user_id])
    try:
        r = await actor.slash("/incident", "declare sev2 payment-failure 支付宝回调超时", user_id=alice, channel_id=cid)
        assert r.status == 200 and r.trigger_id and r.response_url
        headers, body = rec.requests[-1]
        assert verifier.is_valid_request(body, headers)
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        assert form["command"] == "/incident" and form["text"].endswith("支付宝回调超时")
        assert form["channel_name"] == "inc-1" and form["user_name"] == "alice"
        assert form["trigger_id"] == r.trigger_id and form["response_url"] == r.response_url

        await actor.slash("/incident", "list", user_id=alice, channel_id=cid, bad_signature=True)
        assert not verifier.is_valid_request(rec.requests[-1][1], rec.requests[-1][0])
        await actor.slash("/incident", "list", user_id=alice, channel_id=cid, timestamp=int(time.time()) - 600)
        assert not verifier.is_valid_request(rec.requests[-1][1], rec.requests[-1][0])  # stale
        await actor.event({"type": "app_mention", "user": alice, "text": "hi", "channel": cid}, retry_num=1)
        headers, body = rec.requests[-1]
        assert verifier.is_valid_request(body, headers) and headers["X-Slack-Retry-Num"] == "1"
        envelope = json.loads(body)
        assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
        await actor.raw(b"garbage", "text/plain", {"X-Slack-Signature": "v0=00"})
        assert rec.requests[-1][1] == b"garbage"
    finally:
        await actor.close()


async def test_block_action_and_view_submission_payloads(sb: Sandbox, client: AsyncWebClient,
                                                          recorder: tuple[Recorder, str]) -> None:
    rec, url = recorder
    actor = SlackActor(sb, request_url=url, signing_secret=sb.signing_secret)
    alice = sb.add_user("alice")
    cid = (await client.conversations_create(name="inc-2"))["channel"]["id"]
    button = {"type": "button", "action_id": "step_done", "value": "3",
              "text": {"type": "plain_text", "text": "Done"}}
    posted = await client.chat_postMessage(channel=cid, text="step 3",
                                           blocks=[{"type": "actions", "block_id": "steps", "elements": [button]}])
    view = {"type": "modal", "callback_id": "declare", "title": {"type": "plain_text", "text": "Declare"},
            "submit": {"type": "plain_text", "text": "Go"}, "private_metadata": "INC-2", "blocks": [
                {"type": "input", "block_id": "title", "label": {"type": "plain_text", "text": "Title"},
                 "element": {"type": "plain_text_input", "action_id": "value"}},
                {"type": "input", "block_id": "sev", "label": {"type": "plain_text", "text": "Severity"},
                 "element": {"type": "static_select", "action_id": "value", "options": [
                     {"text": {"type": "plain_text", "text": "SEV2 重大"}, "value": "sev2"}]}},
                {"type": "input", "block_id": "who", "label": {"type": "plain_text", "text": "Commander"},
                 "element": {"type": "users_select", "action_id": "value"}}]}
    try:
        r = await actor.block_action(alice, "step_done", channel_id=cid, message_ts=posted["ts"])
        payload = json.loads(parse_qs(rec.requests[-1][1].decode())["payload"][0])
        assert payload["type"] == "block_actions" and payload["user"]["id"] == alice
        assert payload["actions"][0] == {**payload["actions"][0], "action_id": "step_done", "block_id": "steps",
                                         "value": "3", "type": "button"}
        assert payload["message"]["ts"] == posted["ts"] and payload["container"]["channel_id"] == cid
        assert payload["response_url"] == r.response_url and payload["trigger_id"] == r.trigger_id
        opened = await client.views_open(trigger_id=r.trigger_id, view=view)  # fresh trigger works
        vid = opened["view"]["id"]
        await actor.submit_view(vid, alice, {"title": {"value": "支付宝回调超时"}, "sev": {"value": "sev2"},
                                             "who": {"value": alice}})
        payload = json.loads(parse_qs(rec.requests[-1][1].decode())["payload"][0])
        values = payload["view"]["state"]["values"]
        assert payload["type"] == "view_submission" and payload["view"]["private_metadata"] == "INC-2"
        assert values["title"]["value"] == {"type": "plain_text_input", "value": "支付宝回调超时"}
        assert values["sev"]["value"]["selected_option"]["value"] == "sev2"
        assert values["sev"]["value"]["selected_option"]["text"]["text"] == "SEV2 重大"
        assert values["who"]["value"] == {"type": "users_select", "selected_user": alice}
        rec.reply = {"response_action": "update", "view": {**view, "title": {"type": "plain_text", "text": "Done"}}}
        await actor.submit_view(vid, alice, {"title": {"value": "x"}})
        assert sb.views[vid]["title"]["text"] == "Done"
    finally:
        await actor.close()


def bolt_app(sb: Sandbox) -> AsyncApp:
    """A real bolt app whose client points at the sandbox."""
    app = AsyncApp(client=AsyncWebClient(token=sb.bot_token, base_url=sb.api_url), signing_secret=sb.signing_secret)

    @app.command("/incident")
    async def incident(ack: Any, command: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        if command["text"] == "declare":
            await ack()
            await client.views_open(trigger_id=command["trigger_id"], view={
                "type": "modal", "callback_id": "declare", "title": {"type": "plain_text", "text": "Declare"},
                "blocks": []})
        else:
            await ack(text=f"unknown: {command['text']}")
            await respond(text="see /incident help")

    return app


async def test_real_bolt_app_over_http(sb: Sandbox) -> None:
    runner, url = await serve(bolt_app(sb).web_app())
    actor = SlackActor(sb, request_url=url, signing_secret=sb.signing_secret)
    alice = sb.add_user("alice")
    cid = sb.add_channel("ops", members=[alice, sb.bot_user_id])
    try:
        r = await actor.slash("/incident", "declare", user_id=alice, channel_id=cid)
        assert r.status == 200 and len(sb.views) == 1
        r = await actor.slash("/incident", "oops", user_id=alice, channel_id=cid)
        assert r.status == 200 and r.body == "unknown: oops"
        for _ in range(100):
            if sb.responses:
                break
            await asyncio.sleep(0.01)
        assert sb.responses[-1]["text"] == "see /incident help"
        assert sorted(e["source"] for e in sb.ephemerals) == ["ack", "response_url"]
        r = await actor.slash("/incident", "oops", user_id=alice, channel_id=cid, bad_signature=True)
        assert r.status == 401
    finally:
        await actor.close()
        await runner.cleanup()


async def test_real_bolt_app_over_socket_mode(sb: Sandbox) -> None:
    app = bolt_app(sb)
    handler = AsyncSocketModeHandler(app, app_token=sb.app_token)
    actor = SlackActor(sb, mode="socket")
    alice = sb.add_user("alice")
    cid = sb.add_channel("ops", members=[alice, sb.bot_user_id])
    try:
        await handler.connect_async()
        for _ in range(200):
            if sb.socket_connected:
                break
            await asyncio.sleep(0.01)
        r = await actor.slash("/incident", "oops", user_id=alice, channel_id=cid)
        assert r.status == 200 and r.json == {"text": "unknown: oops"}
        r = await actor.slash("/incident", "declare", user_id=alice, channel_id=cid)
        assert r.status == 200
        for _ in range(100):
            if sb.views:
                break
            await asyncio.sleep(0.01)
        assert len(sb.views) == 1
    finally:
        await handler.close_async()
        await actor.close()
