"""conversations.* methods with Slack's argument names, result shapes and errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.sandbox.params import Params, paginate
from bot.sandbox.state import Channel, SlackError

if TYPE_CHECKING:
    from bot.sandbox.server import Sandbox

NAME_RE = re.compile(r"^[a-z0-9_-]+$")
TOPIC_MAX = 250


def check_channel_name(sb: Sandbox, name: str | None) -> str:
    """Apply Slack's channel-name rules (ASCII subset) and uniqueness, archived included."""
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > 80:
        raise SlackError("invalid_name_maxlength")
    if not NAME_RE.match(name):
        raise SlackError("invalid_name_specials")
    if any(not ch.is_im and ch.name == name for ch in sb.channels.values()):
        raise SlackError("name_taken")
    return name


def require_member(sb: Sandbox, ch: Channel) -> None:
    """Slack answers not_in_channel when the bot is not a member."""
    if sb.bot_user_id not in ch.members:
        raise SlackError("not_in_channel")


def require_open(ch: Channel) -> None:
    """Archived channels refuse writes."""
    if ch.archived:
        raise SlackError("is_archived")


def create(sb: Sandbox, p: Params) -> dict[str, Any]:
    """conversations.create: the bot becomes creator and member."""
    name = check_channel_name(sb, p.get("name"))
    cid = sb.new_id("C")
    ch = Channel(cid, name, is_private=p.flag("is_private"), creator=sb.bot_user_id, members={sb.bot_user_id})
    sb.channels[cid] = ch
    return {"channel": ch.to_json()}


def check_invitee(sb: Sandbox, ch: Channel, user_id: str) -> None:
    """Refuse a person Slack would not add to the channel, in the reference's words for why."""
    user = sb.users.get(user_id)
    if user_id == sb.bot_user_id:
        raise SlackError("cant_invite_self")
    if user is None:
        raise SlackError("user_not_found")
    if user.deleted:
        raise SlackError("user_is_deleted")
    if user.is_ultra_restricted:  # a single-channel guest is in their one channel already, or only an admin adds them
        if any(user_id in c.members for c in sb.channels.values() if c is not ch and not c.is_im):
            raise SlackError("ura_max_channels")
        raise SlackError("user_is_ultra_restricted")
    if user.is_restricted:  # only owners and admins add guests to channels; a bot is neither
        raise SlackError("user_is_restricted")


def invite(sb: Sandbox, p: Params) -> dict[str, Any]:
    """conversations.invite: add users, all or none: one refused person fails the call, with each refusal listed."""
    ch = sb.resolve_channel(p.get("channel"))
    require_open(ch)
    require_member(sb, ch)
    users = p.id_list("users")
    if not users:
        raise SlackError("no_user")
    refusals: list[dict[str, Any]] = []
    for uid in users:
        try:
            check_invitee(sb, ch, uid)
        except SlackError as e:
            refusals.append({"user": uid, "ok": False, "error": e.error})
    if refusals:
        raise SlackError(refusals[0]["error"], errors=refusals)
    if all(uid in ch.members for uid in users):
        raise SlackError("already_in_channel")
    ch.members.update(users)
    return {"channel": ch.to_json()}


def _set_text(attr: str) -> Callable[[Sandbox, Params], dict[str, Any]]:
    """Build setTopic / setPurpose, which differ only in the field they change."""

    def handler(sb: Sandbox, p: Params) -> dict[str, Any]:
        ch = sb.resolve_channel(p.get("channel"))
        require_open(ch)
        require_member(sb, ch)
        value = p.get(attr) or ""
        if len(value) > TOPIC_MAX:
            raise SlackError("too_long")
        setattr(ch, attr, value)
        return {"channel": ch.to_json()}

    return handler


def info(sb: Sandbox, p: Params) -> dict[str, Any]:
    """conversations.info."""
    ch = sb.resolve_channel(p.get("channel"))
    return {"channel": ch.to_json()}


def join(sb: Sandbox, p: Params) -> dict[str, Any]:
    """conversations.join: public channels only."""
    ch = sb.resolve_channel(p.get("channel"))
    if ch.is_private or ch.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    require_open(ch)
    out: dict[str, Any] = {}
    if sb.bot_user_id in ch.members:
        out["warning"] = "already_in_channel"
        out["response_metadata"] = {"warnings": ["already_in_channel"]}
    ch.members.add(sb.bot_user_id)
    return {"channel": ch.to_json(), **out}


def list_(sb: Sandbox, p: Params) -> dict[str, Any]:
    """conversations.list with types, exclude_archived and cursor pagination."""
    types = set(p.id_list("types") or ["public_channel"])
    exclude_archived = p.flag("exclude_archived")
    chosen: list[dict[str, Any]] = []
    for ch in sb.channels.values():
        kind = "im" if ch.is_im else "private_channel" if ch.is_private else "public_channel"
        if kind not in types or (exclude_archived and ch.archived):
            continue
        if kind == "private_channel" and sb.bot_user_id not in ch.members:
            continue
        chosen.append(ch.to_json())
    page, nxt = paginate(chosen, p)
    return {"channels": page, "response_metadata": {"next_cursor": nxt}}


def members(sb: Sandbox, p: Params) -> dict[str, Any]:
    """conversations.members with cursor pagination."""
    ch = sb.resolve_channel(p.get("channel"))
    page, nxt = paginate(sorted(ch.members), p)
    return {"members": page, "response_metadata": {"next_cursor": nxt}}


def archive(sb: Sandbox, p: Params) -> dict[str, Any]:
    """conversations.archive."""
    ch = sb.resolve_channel(p.get("channel"))
    if ch.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    if ch.archived:
        raise SlackError("already_archived")
    require_member(sb, ch)
    ch.archived = True
    return {}


def _readable(sb: Sandbox, p: Params) -> Channel:
    """A channel the bot may read history from."""
    ch = sb.resolve_channel(p.get("channel"))
    require_member(sb, ch)
    return ch


def _public(msg: dict[str, Any], with_metadata: bool) -> dict[str, Any]:
    """A stored message as history returns it (metadata only when asked)."""
    out = dict(msg)
    if not with_metadata:
        out.pop("metadata", None)
    return out


def _in_range(ts: str, p: Params) -> bool:
    """oldest/latest bounds, exclusive unless inclusive=true."""
    inclusive = p.flag("inclusive")
    value = float(ts)
    oldest, latest = p.get("oldest"), p.get("latest")
    if oldest and (value < float(oldest) or (value == float(oldest) and not inclusive)):
        return False
    return not (latest and (value > float(latest) or (value == float(latest) and not inclusive)))


def history(sb: Sandbox, p: Params) -> dict[str, Any]:
    """conversations.history: top-level messages, newest first."""
    ch = _readable(sb, p)
    with_meta = p.flag("include_all_metadata")
    msgs = [_public(m, with_meta) for m in reversed(sb.messages(ch.id)) if _in_range(m["ts"], p)]
    page, nxt = paginate(msgs, p)
    return {"messages": page, "has_more": bool(nxt), "pin_count": len(ch.pins),
            "response_metadata": {"next_cursor": nxt}}


def replies(sb: Sandbox, p: Params) -> dict[str, Any]:
    """conversations.replies: the parent then its replies, oldest first."""
    ch = _readable(sb, p)
    ts = p.get("ts") or ""
    parent = ch.find(ts)
    if parent is None:
        raise SlackError("thread_not_found")
    root = parent.get("thread_ts") or parent["ts"]
    root_msg = ch.find(root) or parent
    with_meta = p.flag("include_all_metadata")
    msgs = [root_msg, *sb.replies(ch.id, root)]
    page, nxt = paginate([_public(m, with_meta) for m in msgs if _in_range(m["ts"], p)], p, 1000)
    return {"messages": page, "has_more": bool(nxt), "response_metadata": {"next_cursor": nxt}}


def open_(sb: Sandbox, p: Params) -> dict[str, Any]:
    """conversations.open: the bot's IM with one user."""
    if p.get("channel"):
        ch = sb.resolve_channel(p.get("channel"))
        return {"channel": {"id": ch.id}, "no_op": True, "already_open": True}
    users = p.id_list("users")
    if not users:
        raise SlackError("users_list_not_supplied")
    if len(users) > 1:
        raise SlackError("not_supported")  # group DMs are not simulated
    user = sb.user(users[0])
    if user.deleted:
        raise SlackError("user_disabled")
    if user.is_bot:
        raise SlackError("cannot_dm_bot")  # Slack's answer to a bot token, though its reference does not list it
    existed = any(c.is_im and c.im_user == user.id for c in sb.channels.values())
    ch = sb.im_with(user.id)
    body: dict[str, Any] = {"channel": ch.to_json() if p.flag("return_im") else {"id": ch.id}}
    if existed:
        body.update(no_op=True, already_open=True)
    return body


HANDLERS: dict[str, Callable[[Sandbox, Params], dict[str, Any]]] = {
    "conversations.create": create,
    "conversations.invite": invite,
    "conversations.setTopic": _set_text("topic"),
    "conversations.setPurpose": _set_text("purpose"),
    "conversations.info": info,
    "conversations.join": join,
    "conversations.list": list_,
    "conversations.members": members,
    "conversations.archive": archive,
    "conversations.history": history,
    "conversations.replies": replies,
    "conversations.open": open_,
}
