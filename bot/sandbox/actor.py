"""SlackActor: plays Slack toward the bot — signed slash commands, interactions and events, over HTTP or Socket Mode."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp

from bot.sandbox.interactions import block_action_payload, view_submission_payload

if TYPE_CHECKING:
    from bot.sandbox.server import Sandbox


@dataclass
class ActorResponse:
    """What the bot answered: HTTP status/body, or in socket mode the ack (status 200, or 504 if none came)."""

    status: int
    body: str
    json: Any = None
    trigger_id: str | None = None
    response_url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    answer: dict[str, Any] | None = None  # what the bot posted to the response_url after an empty ack

    @property
    def message(self) -> dict[str, Any]:
        """The reply the person was shown: the ack's message, else the answer that followed an empty ack."""
        if isinstance(self.json, dict) and (self.json.get("text") or self.json.get("blocks")):
            return dict(self.json)
        return dict(self.answer or {})

    @property
    def text(self) -> str:
        """What the person was shown in reply: the ack's text, else the answer's that followed it."""
        if isinstance(self.json, dict) and self.json.get("text"):
            return str(self.json["text"])
        if self.answer is not None:
            return str(self.answer.get("text") or "")
        return self.body


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 request signature."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackActor:
    """Sends the bot what Slack would send when people use it; keeps the sandbox's state consistent."""

    def __init__(self, sb: Sandbox, request_url: str = "http://127.0.0.1:3000/slack/events",
                 signing_secret: str | None = None, mode: str = "http") -> None:
        if mode not in ("http", "socket"):
            raise ValueError("mode must be 'http' or 'socket'")
        self.sb = sb
        self.request_url = request_url
        self.signing_secret = signing_secret if signing_secret is not None else sb.signing_secret
        self.mode = mode
        self.timeout = 10.0
        self.answer_wait = 10.0  # how long slash() waits for the answer that follows an empty ack
        self.last_request: tuple[bytes, dict[str, str]] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the shared HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- the things people do ------------------------------------------------

    async def slash(self, command: str, text: str = "", user_id: str | None = None,
                    channel_id: str | None = None, retry_num: int | None = None, timestamp: int | None = None,
                    sign: bool = True, bad_signature: bool = False) -> ActorResponse:
        """A person runs a slash command."""
        sb = self.sb
        user = sb.users.get(user_id or "")
        channel = sb.channels.get(channel_id or "")
        trigger_id = sb.new_trigger_id()
        response_url = sb.new_response_url(channel_id=channel_id, user_id=user_id)
        if channel is None:
            channel_name = ""
        elif channel.is_im:
            channel_name = "directmessage"
        else:
            channel_name = channel.name if not channel.is_private else "privategroup"
        fields = {
            "token": "sandbox-verification-token", "team_id": sb.team_id, "team_domain": sb.team_domain,
            "channel_id": channel_id or "", "channel_name": channel_name, "user_id": user_id or "",
            "user_name": user.name if user else "", "command": command, "text": text,
            "api_app_id": sb.app_id, "is_enterprise_install": "false", "response_url": response_url,
            "trigger_id": trigger_id,
        }
        if self.mode == "socket":
            r = await self._socket("slash_commands", fields)
        else:
            body = urlencode(fields).encode()
            r = await self._post(body, "application/x-www-form-urlencoded", retry_num, timestamp, sign,
                                 bad_signature)
        r.trigger_id, r.response_url = trigger_id, response_url
        self._show_ack_message(r, channel_id, user_id)
        if r.status == 200 and not r.body and retry_num is None:
            r.answer = await self._answer(response_url, trigger_id)
        return r

    async def _answer(self, response_url: str, trigger_id: str) -> dict[str, Any] | None:
        """The bot's first post to the response_url after an empty ack; None once it opened a form with the
        trigger instead, or after `answer_wait` seconds."""
        rid = response_url.rsplit("/", 1)[-1]
        deadline = time.monotonic() + self.answer_wait
        while time.monotonic() < deadline:
            for entry in self.sb.responses:
                if entry["response_id"] == rid:
                    return dict(entry["body"])
            trigger = self.sb.triggers.get(trigger_id)
            if trigger is not None and trigger.used:
                return None
            await asyncio.sleep(0.01)
        return None

    async def block_action(self, user_id: str, action_id: str, value: str | None = None,
                           block_id: str | None = None, channel_id: str | None = None,
                           message_ts: str | None = None, view_id: str | None = None,
                           action_type: str = "button", selected: Any = None) -> ActorResponse:
        """A person presses a button / picks from a menu in a message or a modal."""
        trigger_id = self.sb.new_trigger_id(view_id=view_id)
        response_url = None if view_id else self.sb.new_response_url(channel_id, user_id, message_ts)
        payload = block_action_payload(self.sb, user_id, action_id, value, block_id, channel_id, message_ts,
                                       view_id, action_type, selected, trigger_id, response_url)
        r = await self._interactive(payload)
        r.trigger_id, r.response_url = trigger_id, response_url
        return r

    async def submit_view(self, view_id: str, user_id: str,
                          values: dict[str, dict[str, Any]] | None = None) -> ActorResponse:
        """A person submits a modal; response_action update/push/clear is applied to the sandbox."""
        trigger_id = self.sb.new_trigger_id(view_id=view_id)
        payload = view_submission_payload(self.sb, view_id, user_id, values or {}, trigger_id)
        r = await self._interactive(payload)
        r.trigger_id = trigger_id
        if r.status == 200 and isinstance(r.json, dict):
            self._apply_response_action(view_id, r.json)
        return r

    async def event(self, event: dict[str, Any], event_id: str | None = None,
                    retry_num: int | None = None) -> ActorResponse:
        """Slack delivers an Events API event (wrapped in event_callback)."""
        sb = self.sb
        now = int(time.time())
        envelope = {
            "token": "sandbox-verification-token", "team_id": sb.team_id, "api_app_id": sb.app_id,
            "event": {"event_ts": f"{now}.000000", **event}, "type": "event_callback",
            "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(), "event_time": now,
            "authorizations": [{"enterprise_id": None, "team_id": sb.team_id, "user_id": sb.bot_user_id,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False, "event_context": "4-" + uuid.uuid4().hex,
        }
        if self.mode == "socket":
            return await self._socket("events_api", envelope)
        return await self._post(json.dumps(envelope).encode(), "application/json", retry_num, None, True, False)

    async def join(self, channel_id: str, user_id: str) -> ActorResponse:
        """A person joins a channel (or is added to it): the sandbox's members change and Slack tells the app."""
        channel = self.sb.channels[channel_id]
        channel.members.add(user_id)
        return await self.event({"type": "member_joined_channel", "user": user_id, "channel": channel_id,
                                 "channel_type": "G" if channel.is_private else "C", "team": self.sb.team_id})

    async def leave(self, channel_id: str, user_id: str) -> ActorResponse:
        """A person leaves a channel (or is removed): the sandbox's members change and Slack tells the app."""
        channel = self.sb.channels[channel_id]
        channel.members.discard(user_id)
        return await self.event({"type": "member_left_channel", "user": user_id, "channel": channel_id,
                                 "channel_type": "G" if channel.is_private else "C", "team": self.sb.team_id})

    async def raw(self, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> ActorResponse:
        """Post exactly these bytes and headers (for forged or malformed requests)."""
        hdrs = {"Content-Type": content_type, **(headers or {})}
        return await self._send(body, hdrs)

    # -- transport -----------------------------------------------------------

    async def _interactive(self, payload: dict[str, Any]) -> ActorResponse:
        """Interactivity goes form-encoded as payload=<json> (HTTP) or as an 'interactive' envelope."""
        if self.mode == "socket":
            return await self._socket("interactive", payload)
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self._post(body, "application/x-www-form-urlencoded", None, None, True, False)

    async def _post(self, body: bytes, content_type: str, retry_num: int | None, timestamp: int | None,
                    do_sign: bool, bad_signature: bool) -> ActorResponse:
        """Sign and post like Slack."""
        headers = {"Content-Type": content_type}
        if do_sign:
            ts = str(timestamp if timestamp is not None else int(time.time()))
            signature = sign(self.signing_secret, ts, body)
            if bad_signature:
                signature = "v0=" + hashlib.sha256(b"forged" + body).hexdigest()
            headers["X-Slack-Request-Timestamp"] = ts
            headers["X-Slack-Signature"] = signature
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        self.last_request = (body, dict(headers))
        return await self._send(body, headers)

    async def replay(self, *, retry_num: int | None = None) -> ActorResponse:
        """The last HTTP request again, byte for byte and with its signature (a replay within the window),
        or as Slack's own retry of it (`retry_num`)."""
        if self.last_request is None:
            raise RuntimeError("nothing was sent yet")
        body, headers = self.last_request
        if retry_num is not None:
            headers = {**headers, "X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return await self._send(body, headers)

    async def _send(self, body: bytes, headers: dict[str, str]) -> ActorResponse:
        """One HTTP request to the bot's request URL."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        async with self._session.post(self.request_url, data=body, headers=headers) as resp:
            text = await resp.text()
            parsed: Any = None
            if text:
                try:
                    parsed = json.loads(text)
                except json.JSONDecodeError:
                    parsed = None
            return ActorResponse(resp.status, text, parsed, headers=dict(resp.headers))

    async def _socket(self, type_: str, payload: dict[str, Any]) -> ActorResponse:
        """Deliver over Socket Mode; the ack stands in for the HTTP response."""
        try:
            ack = await self.sb.socket_deliver(type_, payload, timeout=self.timeout)
        except TimeoutError:
            return ActorResponse(504, "", None)
        return ActorResponse(200, json.dumps(ack) if ack else "", ack)

    # -- what Slack shows after the ack --------------------------------------

    def _show_ack_message(self, r: ActorResponse, channel_id: str | None, user_id: str | None) -> None:
        """A slash command's ack body is shown to the user (ephemeral) or the channel (in_channel)."""
        if r.status != 200 or not r.body:
            return
        if isinstance(r.json, dict):
            text, blocks = r.json.get("text") or "", r.json.get("blocks") or []
            response_type = r.json.get("response_type", "ephemeral")
        else:
            text, blocks, response_type = r.body, [], "ephemeral"
        if not text and not blocks:
            return
        ch = self.sb.channels.get(channel_id or "")
        if response_type == "in_channel" and ch is not None:
            ch.messages.append(self.sb.bot_message(text, blocks))
            return
        self.sb.ephemerals.append({"channel": channel_id, "user": user_id, "text": text, "blocks": blocks,
                                   "ts": self.sb.new_ts(), "thread_ts": None, "source": "ack"})

    def _apply_response_action(self, view_id: str, body: dict[str, Any]) -> None:
        """view_submission acks may update, push or clear views, as Slack applies them."""
        action = body.get("response_action")
        views = self.sb.views
        if action == "update" and isinstance(body.get("view"), dict) and view_id in views:
            views[view_id].update({k: v for k, v in body["view"].items() if k != "id"})
        elif action == "push" and isinstance(body.get("view"), dict):
            vid = self.sb.new_id("V")
            views[vid] = {**body["view"], "id": vid, "state": {"values": {}}, "previous_view_id": view_id,
                          "root_view_id": views.get(view_id, {}).get("root_view_id", view_id),
                          "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}"}
        elif action == "clear" and view_id in views:
            root = views[view_id].get("root_view_id", view_id)
            for vid in [k for k, v in views.items() if v.get("root_view_id") == root or k == view_id]:
                views.pop(vid, None)
