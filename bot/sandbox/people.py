"""What people do in Slack besides commands: post, pin, react, edit, delete, use a message shortcut.

Each changes the sandbox's state as Slack would, then delivers the event or payload Slack would send
the bot, through the actor (so it is signed, and goes over HTTP or Socket Mode alike).
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.sandbox.actor import ActorResponse, SlackActor


def say(actor: SlackActor, user_id: str, channel_id: str, text: str, *,
        files: list[dict[str, Any]] | None = None, thread_ts: str | None = None) -> dict[str, Any]:
    """A person posts a message (no event is sent: the bot does not listen to plain messages)."""
    sb = actor.sb
    message: dict[str, Any] = {"type": "message", "ts": sb.new_ts(), "user": user_id, "team": sb.team_id,
                               "text": text, "blocks": []}
    if files:
        message["files"] = [{"id": sb.new_id("F"), "permalink": f"https://sandbox.slack.com/files/{user_id}/{f['name']}",
                             **f} for f in files]
    if thread_ts:
        message["thread_ts"] = thread_ts
    sb.channels[channel_id].messages.append(message)
    return message


async def pin(actor: SlackActor, user_id: str, channel_id: str, ts: str, *, event_id: str | None = None,
              retry_num: int | None = None) -> ActorResponse:
    """A person pins a message: Slack stores the pin and sends pin_added with the message."""
    channel = actor.sb.channels[channel_id]
    if ts not in channel.pins:
        channel.pins.append(ts)
    message = copy.deepcopy(channel.find(ts) or {})
    return await actor.event({
        "type": "pin_added", "user": user_id, "channel_id": channel_id,
        "item": {"type": "message", "created": int(time.time()), "created_by": user_id, "channel": channel_id,
                 "message": message},
    }, event_id=event_id, retry_num=retry_num)


async def react(actor: SlackActor, user_id: str, channel_id: str, ts: str, name: str, *,
                event_id: str | None = None, retry_num: int | None = None) -> ActorResponse:
    """A person adds a reaction: Slack sends reaction_added with the item, not the message."""
    message = actor.sb.channels[channel_id].find(ts) or {}
    reactions = message.setdefault("reactions", [])
    entry = next((r for r in reactions if r["name"] == name), None)
    if entry is None:
        reactions.append({"name": name, "users": [user_id], "count": 1})
    elif user_id not in entry["users"]:
        entry["users"].append(user_id)
        entry["count"] += 1
    return await actor.event({
        "type": "reaction_added", "user": user_id, "reaction": name, "item_user": message.get("user"),
        "item": {"type": "message", "channel": channel_id, "ts": ts},
    }, event_id=event_id, retry_num=retry_num)


async def edit(actor: SlackActor, channel_id: str, ts: str, text: str) -> ActorResponse:
    """The author edits a message: Slack sends message_changed with the new and previous message."""
    message = actor.sb.channels[channel_id].find(ts)
    assert message is not None, "no such message"
    previous = copy.deepcopy(message)
    message["text"] = text
    message["edited"] = {"user": message.get("user"), "ts": actor.sb.new_ts()}
    return await actor.event({
        "type": "message", "subtype": "message_changed", "channel": channel_id, "hidden": True,
        "ts": actor.sb.new_ts(), "message": copy.deepcopy(message), "previous_message": previous,
    })


async def delete(actor: SlackActor, channel_id: str, ts: str) -> ActorResponse:
    """The author deletes a message: Slack sends message_deleted with its ts."""
    channel = actor.sb.channels[channel_id]
    previous = channel.find(ts)
    channel.messages = [m for m in channel.messages if m["ts"] != ts]
    return await actor.event({
        "type": "message", "subtype": "message_deleted", "channel": channel_id, "hidden": True,
        "ts": actor.sb.new_ts(), "deleted_ts": ts, "previous_message": previous,
    })


async def message_shortcut(actor: SlackActor, user_id: str, callback_id: str, channel_id: str, ts: str) -> ActorResponse:
    """A person runs a message shortcut (⋮ → e.g. Add to timeline) on a message."""
    sb = actor.sb
    message = copy.deepcopy(sb.channels[channel_id].find(ts) or {})
    user = sb.users[user_id]
    payload = {
        "type": "message_action", "callback_id": callback_id, "action_ts": f"{time.time():.6f}",
        "trigger_id": sb.new_trigger_id(), "response_url": sb.new_response_url(channel_id, user_id),
        "team": {"id": sb.team_id, "domain": sb.team_domain},
        "channel": {"id": channel_id, "name": sb.channels[channel_id].name},
        "user": {"id": user_id, "name": user.name, "username": user.name, "team_id": sb.team_id},
        "message_ts": ts, "message": message, "token": "sandbox-verification-token",
        "is_enterprise_install": False, "enterprise": None,
    }
    return await actor._interactive(payload)
