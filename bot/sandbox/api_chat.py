"""chat.*, pins.*, bookmarks.add and reactions.add, enforcing Slack's message rules."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.sandbox.api_conversations import require_member, require_open
from bot.sandbox.blockkit import check_blocks
from bot.sandbox.params import Params
from bot.sandbox.state import Channel, SlackError

if TYPE_CHECKING:
    from bot.sandbox.server import Sandbox

MAX_TEXT = 40000


def read_blocks(sb: Sandbox, p: Params) -> list[dict[str, Any]] | None:
    """Decode and check `blocks`; None when absent. Gives blocks without a block_id one, as Slack does."""
    if "blocks" not in p:
        return None
    blocks = p.json("blocks", error="invalid_blocks_format")
    if blocks is None:
        return None
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    errors = check_blocks(blocks)
    if errors:
        raise SlackError("invalid_blocks", errors)
    for block in blocks:
        block.setdefault("block_id", sb.random_block_id())
    return blocks


def read_text(p: Params, blocks: list[dict[str, Any]] | None, required: bool = True) -> str | None:
    """The message text, checked for presence and length."""
    text = p.get("text")
    attachments = p.json("attachments")
    if required and not text and not blocks and not attachments:
        raise SlackError("no_text")
    if text is not None and len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    return text


def writable(sb: Sandbox, p: Params, key: str = "channel") -> Channel:
    """A channel the bot may write to."""
    ch = sb.resolve_channel(p.get(key))
    require_open(ch)
    require_member(sb, ch)
    return ch


def post_message(sb: Sandbox, p: Params) -> dict[str, Any]:
    """chat.postMessage: top-level or threaded, with metadata."""
    ch = writable(sb, p)
    blocks = read_blocks(sb, p)
    text = read_text(p, blocks) or ""
    parent: dict[str, Any] | None = None
    thread_ts = p.get("thread_ts")
    if thread_ts:
        parent = ch.find(thread_ts)
        if parent is None:
            raise SlackError("thread_not_found")
        root = parent.get("thread_ts") or parent["ts"]
        parent = ch.find(root) or parent
    metadata = p.json("metadata", error="invalid_metadata_format")
    if metadata is not None and (not isinstance(metadata, dict) or not metadata.get("event_type")):
        raise SlackError("invalid_metadata_format")
    msg = sb.bot_message(text, blocks)
    attachments = p.json("attachments")
    if attachments:
        msg["attachments"] = attachments
    if metadata is not None:
        msg["metadata"] = {"event_type": metadata["event_type"],
                           "event_payload": metadata.get("event_payload") or {}}
    if parent is not None:
        msg["thread_ts"] = parent["ts"]
        msg["parent_user_id"] = parent.get("user")
        parent["thread_ts"] = parent["ts"]
        parent["reply_count"] = parent.get("reply_count", 0) + 1
        users = parent.setdefault("reply_users", [])
        if sb.bot_user_id not in users:
            users.append(sb.bot_user_id)
        parent["reply_users_count"] = len(users)
        parent["latest_reply"] = msg["ts"]
    ch.messages.append(msg)
    return {"channel": ch.id, "ts": msg["ts"], "message": dict(msg)}


def post_ephemeral(sb: Sandbox, p: Params) -> dict[str, Any]:
    """chat.postEphemeral: only for a user who is in the channel."""
    ch = writable(sb, p)
    user = sb.user(p.get("user"))
    if user.id not in ch.members:
        raise SlackError("user_not_in_channel")
    blocks = read_blocks(sb, p)
    text = read_text(p, blocks) or ""
    ts = sb.new_ts()
    sb.ephemerals.append({"channel": ch.id, "user": user.id, "text": text, "blocks": blocks or [],
                          "ts": ts, "thread_ts": p.get("thread_ts"), "source": "api"})
    return {"message_ts": ts}


def _bot_message(sb: Sandbox, ch: Channel, ts: str | None, wrong: str) -> dict[str, Any]:
    """A message the bot may change, or message_not_found / `wrong`."""
    msg = ch.find(ts or "")
    if msg is None:
        raise SlackError("message_not_found")
    if msg.get("user") != sb.bot_user_id:
        raise SlackError(wrong)
    return msg


def update(sb: Sandbox, p: Params) -> dict[str, Any]:
    """chat.update: replace text/blocks of a bot message, marking it edited."""
    ch = sb.resolve_channel(p.get("channel"))
    require_open(ch)
    msg = _bot_message(sb, ch, p.get("ts"), "cant_update_message")
    blocks = read_blocks(sb, p)
    text = read_text(p, blocks, required=False)
    if text is not None:
        msg["text"] = text
    if blocks is not None:
        msg["blocks"] = blocks
    metadata = p.json("metadata", error="invalid_metadata_format")
    if isinstance(metadata, dict):
        msg["metadata"] = metadata
    msg["edited"] = {"user": sb.bot_user_id, "ts": sb.new_ts()}
    return {"channel": ch.id, "ts": msg["ts"], "text": msg["text"], "message": dict(msg)}


def delete(sb: Sandbox, p: Params) -> dict[str, Any]:
    """chat.delete: remove a bot message."""
    ch = sb.resolve_channel(p.get("channel"))
    require_open(ch)
    msg = _bot_message(sb, ch, p.get("ts"), "cant_delete_message")
    ch.messages.remove(msg)
    if msg["ts"] in ch.pins:
        ch.pins.remove(msg["ts"])
    return {"channel": ch.id, "ts": msg["ts"]}


def get_permalink(sb: Sandbox, p: Params) -> dict[str, Any]:
    """chat.getPermalink."""
    ch = sb.resolve_channel(p.get("channel"))
    msg = ch.find(p.get("message_ts") or "")
    if msg is None:
        raise SlackError("message_not_found")
    return {"channel": ch.id, "permalink": sb.permalink(ch.id, msg["ts"], msg.get("thread_ts"))}


def pins_add(sb: Sandbox, p: Params) -> dict[str, Any]:
    """pins.add: pin a message once."""
    ch = writable(sb, p)
    ts = p.get("timestamp") or ""
    if ch.find(ts) is None:
        raise SlackError("message_not_found")
    if ts in ch.pins:
        raise SlackError("already_pinned")
    ch.pins.append(ts)
    return {}


def pins_list(sb: Sandbox, p: Params) -> dict[str, Any]:
    """pins.list: pinned messages, most recent pin first."""
    ch = sb.resolve_channel(p.get("channel"))
    items = []
    for ts in reversed(ch.pins):
        msg = ch.find(ts)
        if msg is not None:
            items.append({"type": "message", "channel": ch.id, "created": int(time.time()),
                          "created_by": sb.bot_user_id, "message": dict(msg)})
    return {"items": items}


def bookmarks_add(sb: Sandbox, p: Params) -> dict[str, Any]:
    """bookmarks.add: a link bookmark in the channel header."""
    ch = writable(sb, p, key="channel_id")
    title, kind, link = p.get("title"), p.get("type"), p.get("link")
    if not title:
        raise SlackError("invalid_arguments", ["[ERROR] missing required field: title"])
    if kind != "link":
        raise SlackError("invalid_bookmark_type")
    if not link or not link.startswith(("http://", "https://")):
        raise SlackError("invalid_link")
    bookmark = {"id": sb.new_id("Bk"), "channel_id": ch.id, "title": title, "link": link,
                "emoji": p.get("emoji") or "", "icon_url": None, "type": "link",
                "entity_id": p.get("entity_id"), "date_created": int(time.time()), "date_updated": 0,
                "rank": str(len(ch.bookmarks)), "last_updated_by_user_id": sb.bot_user_id,
                "last_updated_by_team_id": sb.team_id, "shortcut_id": None, "app_id": sb.app_id}
    ch.bookmarks.append(bookmark)
    return {"bookmark": bookmark}


def reactions_add(sb: Sandbox, p: Params) -> dict[str, Any]:
    """reactions.add: the bot reacts once per emoji."""
    ch = sb.resolve_channel(p.get("channel"))
    require_open(ch)
    msg = ch.find(p.get("timestamp") or "")
    if msg is None:
        raise SlackError("message_not_found")
    name = (p.get("name") or "").strip(":")
    if not name:
        raise SlackError("invalid_name")
    reactions: list[dict[str, Any]] = msg.setdefault("reactions", [])
    for reaction in reactions:
        if reaction["name"] == name:
            if sb.bot_user_id in reaction["users"]:
                raise SlackError("already_reacted")
            reaction["users"].append(sb.bot_user_id)
            reaction["count"] += 1
            return {}
    reactions.append({"name": name, "users": [sb.bot_user_id], "count": 1})
    return {}


HANDLERS: dict[str, Callable[[Sandbox, Params], dict[str, Any]]] = {
    "chat.postMessage": post_message,
    "chat.postEphemeral": post_ephemeral,
    "chat.update": update,
    "chat.delete": delete,
    "chat.getPermalink": get_permalink,
    "pins.add": pins_add,
    "pins.list": pins_list,
    "bookmarks.add": bookmarks_add,
    "reactions.add": reactions_add,
}
