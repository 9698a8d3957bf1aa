"""auth, users, views, files and apps.connections.open methods."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.sandbox.api_conversations import require_member, require_open
from bot.sandbox.blockkit import check_view
from bot.sandbox.params import Params, paginate
from bot.sandbox.state import SlackError

if TYPE_CHECKING:
    from bot.sandbox.server import Sandbox

MAX_VIEW_BYTES = 250_000
MAX_VIEW_STACK = 3


def api_test(sb: Sandbox, p: Params) -> dict[str, Any]:
    """api.test: echoes its arguments."""
    args = {k: v for k, v in p.data.items() if k != "token"}
    return {"args": args} if args else {}


def auth_test(sb: Sandbox, p: Params) -> dict[str, Any]:
    """auth.test: who the bot is."""
    return {"url": f"https://{sb.team_domain}.slack.com/", "team": "Sandbox", "user": "yingji",
            "team_id": sb.team_id, "user_id": sb.bot_user_id, "bot_id": sb.bot_id,
            "is_enterprise_install": False}


def users_info(sb: Sandbox, p: Params) -> dict[str, Any]:
    """users.info."""
    return {"user": sb.user(p.get("user")).to_json()}


def users_list(sb: Sandbox, p: Params) -> dict[str, Any]:
    """users.list with cursor pagination."""
    members = [u.to_json() for u in sb.users.values()]
    page, nxt = paginate(members, p, default_limit=200)
    return {"members": page, "cache_ts": int(time.time()), "response_metadata": {"next_cursor": nxt}}


def users_lookup_by_email(sb: Sandbox, p: Params) -> dict[str, Any]:
    """users.lookupByEmail."""
    email = (p.get("email") or "").lower()
    for user in sb.users.values():
        if user.email and user.email.lower() == email:
            return {"user": user.to_json()}
    raise SlackError("users_not_found")


def _read_view(p: Params) -> dict[str, Any]:
    """Decode and validate the `view` argument."""
    view = p.json("view")
    if view is None:
        raise SlackError("invalid_arguments", ["[ERROR] missing required field: view [json-pointer:/view]"])
    if len(json.dumps(view, ensure_ascii=False).encode()) > MAX_VIEW_BYTES:
        raise SlackError("view_too_large")
    errors = check_view(view)
    if errors or not isinstance(view, dict):
        raise SlackError("invalid_arguments", errors)
    return view


def _store_view(sb: Sandbox, view: dict[str, Any], view_id: str | None = None,
                previous: str | None = None) -> dict[str, Any]:
    """Store a view as Slack describes it, with a fresh hash."""
    vid = view_id or sb.new_id("V")
    old = sb.views.get(vid, {})
    for block in view.get("blocks", []):
        block.setdefault("block_id", sb.random_block_id())
    stored = {
        "id": vid,
        "team_id": sb.team_id,
        "type": view.get("type", "modal"),
        "blocks": view.get("blocks", []),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": old.get("state", {"values": {}}),
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "title": view.get("title"),
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "close": view.get("close"),
        "submit": view.get("submit"),
        "previous_view_id": old.get("previous_view_id", previous),
        "root_view_id": old.get("root_view_id") or (sb.views[previous]["root_view_id"] if previous else vid),
        "app_id": sb.app_id,
        "external_id": view.get("external_id", ""),
        "app_installed_team_id": sb.team_id,
        "bot_id": sb.bot_id,
    }
    sb.views[vid] = stored
    return stored


def _check_external_id(sb: Sandbox, view: dict[str, Any], own_id: str | None = None) -> None:
    """external_id must be unique among stored views."""
    ext = view.get("external_id")
    if ext and any(v.get("external_id") == ext and vid != own_id for vid, v in sb.views.items()):
        raise SlackError("duplicate_external_id")


def views_open(sb: Sandbox, p: Params) -> dict[str, Any]:
    """views.open: needs a fresh, unused trigger_id."""
    view = _read_view(p)
    _check_external_id(sb, view)
    sb.exchange_trigger(p.get("trigger_id") or p.get("interactivity_pointer"))
    return {"view": _store_view(sb, view)}


def views_push(sb: Sandbox, p: Params) -> dict[str, Any]:
    """views.push: stacks a view on the modal the trigger came from (at most 3 deep)."""
    view = _read_view(p)
    _check_external_id(sb, view)
    trigger = sb.exchange_trigger(p.get("trigger_id") or p.get("interactivity_pointer"))
    previous = trigger.view_id if trigger.view_id in sb.views else None
    if previous:
        depth, cursor = 1, sb.views[previous]
        while cursor.get("previous_view_id") in sb.views:
            depth, cursor = depth + 1, sb.views[cursor["previous_view_id"]]
        if depth >= MAX_VIEW_STACK:
            raise SlackError("push_limit_reached")
    return {"view": _store_view(sb, view, previous=previous)}


def views_update(sb: Sandbox, p: Params) -> dict[str, Any]:
    """views.update by view_id or external_id, honouring hash."""
    vid = p.get("view_id")
    ext = p.get("external_id")
    if not vid and ext:
        vid = next((k for k, v in sb.views.items() if v.get("external_id") == ext), None)
    if not vid or vid not in sb.views:
        raise SlackError("not_found")
    view = _read_view(p)
    _check_external_id(sb, view, own_id=vid)
    expected = p.get("hash")
    if expected and expected != sb.views[vid]["hash"]:
        raise SlackError("hash_conflict")
    return {"view": _store_view(sb, view, view_id=vid)}


def files_get_upload_url(sb: Sandbox, p: Params) -> dict[str, Any]:
    """files.getUploadURLExternal: a sandbox URL that accepts the bytes."""
    filename = p.get("filename")
    if not filename:
        raise SlackError("invalid_arguments", ["[ERROR] missing required field: filename"])
    length = p.number("length", -1)
    if length < 0:
        raise SlackError("invalid_arguments", ["[ERROR] missing required field: length"])
    file_id = sb.new_id("F")
    sb.files[file_id] = {"id": file_id, "name": filename, "title": filename, "length": length,
                         "bytes": None, "channels": [], "created": int(time.time()),
                         "upload_key": secrets.token_urlsafe(12)}
    return {"upload_url": f"{sb.base_url}/upload/v1/{sb.files[file_id]['upload_key']}", "file_id": file_id}


def _file_json(sb: Sandbox, f: dict[str, Any]) -> dict[str, Any]:
    """A file object like Slack's (the useful subset)."""
    data = f["bytes"] or b""
    return {"id": f["id"], "created": f["created"], "timestamp": f["created"], "name": f["name"],
            "title": f["title"], "mimetype": "application/octet-stream", "filetype": "binary",
            "user": sb.bot_user_id, "size": len(data), "is_public": True, "channels": list(f["channels"]),
            "url_private": f"{sb.base_url}/files/{f['id']}",
            "permalink": f"https://{sb.team_domain}.slack.com/files/{sb.bot_user_id}/{f['id']}/{f['name']}"}


def files_complete_upload(sb: Sandbox, p: Params) -> dict[str, Any]:
    """files.completeUploadExternal: share uploaded files as one message in a channel."""
    items = p.json("files")
    if not isinstance(items, list) or not items:
        raise SlackError("invalid_arguments", ["[ERROR] missing required field: files"])
    chosen = []
    for item in items:
        f = sb.files.get(item.get("id", "") if isinstance(item, dict) else "")
        if f is None:
            raise SlackError("file_not_found")
        if f["bytes"] is None:
            raise SlackError("file_upload_not_completed")
        chosen.append((f, item.get("title")))
    listed = p.id_list("channels")
    channel_id = p.get("channel_id") or (listed[0] if listed else None)
    ch = None
    if channel_id:
        ch = sb.resolve_channel(channel_id)
        require_open(ch)
        require_member(sb, ch)
    for f, title in chosen:
        if title:
            f["title"] = title
        if ch is not None:
            f["channels"].append(ch.id)
    if ch is not None:
        msg = sb.bot_message(p.get("initial_comment") or "", None)
        msg["files"] = [_file_json(sb, f) for f, _ in chosen]
        msg["upload"] = True
        thread_ts = p.get("thread_ts")
        parent = ch.find(thread_ts) if thread_ts else None
        if parent is not None:
            msg["thread_ts"] = parent["ts"]
            parent["thread_ts"] = parent["ts"]
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            parent["latest_reply"] = msg["ts"]
        ch.messages.append(msg)
    return {"files": [_file_json(sb, f) for f, _ in chosen]}


def apps_connections_open(sb: Sandbox, p: Params) -> dict[str, Any]:
    """apps.connections.open: a one-use websocket URL (app tokens only; checked by the server)."""
    return {"url": sb.socket.new_url()}


HANDLERS: dict[str, Callable[[Sandbox, Params], dict[str, Any]]] = {
    "api.test": api_test,
    "auth.test": auth_test,
    "users.info": users_info,
    "users.list": users_list,
    "users.lookupByEmail": users_lookup_by_email,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "files.getUploadURLExternal": files_get_upload_url,
    "files.completeUploadExternal": files_complete_upload,
    "apps.connections.open": apps_connections_open,
}
