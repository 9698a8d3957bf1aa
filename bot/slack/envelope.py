"""What arrives at /slack/events, checked before bolt reads it: signed by Slack, and shaped like a Slack request.

bolt trusts the structure of what it parses (a JSON object, `actions` a list of objects, `event` an
object, ...) and answers 500 when it is not so. A signed body that Slack would never send is answered
400 here instead; the values inside (button values, private_metadata, texts) are still the listeners' to check.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

MAX_SKEW = 5 * 60  # seconds, as Slack asks
INTERACTIVE = {"block_actions", "view_submission", "view_closed", "shortcut", "message_action"}
EVENTS = {"event_callback", "url_verification", "app_rate_limited"}

# Keys that mean the same at every level Slack uses them, and what they may hold.
ID = re.compile(r"^[A-Z0-9]{0,32}$")  # Slack's ids: U0123ABCD, C…, T…, E…, B…
ID_KEYS = ("team_id", "user_id", "channel_id", "enterprise_id", "api_app_id", "bot_id")
TOKENS = {"event_id": re.compile(r"^[A-Za-z0-9]{1,64}$"), "trigger_id": re.compile(r"^[A-Za-z0-9.]{1,150}$")}
TEXT_KEYS = ("thread_ts", "callback_id", "response_url", "type", "challenge", "action_id", "block_id",
             "private_metadata")
OBJECT_KEYS = ("event", "view", "message", "previous_message", "item", "container", "state", "function_data",
               "assistant_thread", "workflow_step")
LIST_OF_OBJECTS_KEYS = ("actions", "authorizations", "response_urls")
REF_KEYS = ("team", "enterprise", "user", "channel")  # an id string, or an object with a string `id`
NESTED = ("event", "view", "message", "previous_message", "item", "container")


def signed(secret: str, body: bytes, headers: Mapping[str, str], now: float | None = None) -> bool:
    """Slack's v0 signature over the raw bytes, with a timestamp at most five minutes off."""
    stamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > MAX_SKEW:
        return False
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def parse(body: bytes, content_type: str) -> dict[str, Any] | None:
    """The request as bolt will see it: a JSON object, a form, or a form's `payload` object; None if none of these."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if content_type == "application/json" or text.startswith("{"):
        return _json_object(text)
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in form:
        return _json_object(form["payload"])
    return form


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def problem(body: dict[str, Any]) -> str | None:
    """Why this is not a request Slack sends (None when it is one)."""
    if "command" in body or "ssl_check" in body:
        return _level(body, "") if all(isinstance(v, str) for v in body.values()) else "slash command fields must be text"
    kind = body.get("type")
    if kind not in INTERACTIVE and kind not in EVENTS:
        return "not a Slack request type"
    found = _level(body, "")
    if found:
        return found
    if kind == "event_callback":
        return _need(body, "event_id", str) or _need(body, "event", dict) or _need(body["event"], "type", str, "event.")
    if kind in INTERACTIVE:
        user = body.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            return "user.id missing"
    if kind == "block_actions":
        actions = body.get("actions")
        if not actions or not all(isinstance(a.get("action_id"), str) for a in actions):
            return "actions must hold action_ids"
    if kind in ("view_submission", "view_closed"):
        return _need(body, "view", dict) or _need(body["view"], "callback_id", str, "view.") or _need(body["view"], "type", str, "view.")
    if kind in ("shortcut", "message_action"):
        return _need(body, "callback_id", str)
    return None


def _need(obj: dict[str, Any], key: str, kind: type, prefix: str = "") -> str | None:
    return None if isinstance(obj.get(key), kind) else f"{prefix}{key} missing"


def _level(obj: dict[str, Any], path: str, depth: int = 0) -> str | None:
    """Check the keys Slack gives a meaning at this level, then the objects nested under them."""
    for key in TEXT_KEYS:
        if obj.get(key) is not None and not isinstance(obj[key], str):
            return f"{path}{key} must be text"
    for key in ID_KEYS:
        if obj.get(key) is not None and not _is_id(obj[key]):
            return f"{path}{key} must be a Slack id"
    for key, shape in TOKENS.items():
        if obj.get(key) is not None and not (isinstance(obj[key], str) and shape.match(obj[key])):
            return f"{path}{key} is not shaped like Slack's"
    for key in OBJECT_KEYS:
        if key in obj and not isinstance(obj[key], dict):
            return f"{path}{key} must be an object"
    for key in LIST_OF_OBJECTS_KEYS:
        if key in obj and not (isinstance(obj[key], list) and all(isinstance(x, dict) for x in obj[key])):
            return f"{path}{key} must be a list of objects"
    for key in REF_KEYS:
        ref = obj.get(key)
        if ref is not None and not _is_id(ref.get("id", "") if isinstance(ref, dict) else ref):
            return f"{path}{key} must be a Slack id or an object with one"
    if path == "view." and obj.get("id") is not None and not _is_id(obj["id"]):
        return "view.id must be a Slack id"
    state = obj.get("state")
    if isinstance(state, dict) and "values" in state and not _values_ok(state["values"]):
        return f"{path}state.values must map blocks to actions to objects"
    if depth >= 3:
        return None
    children = [(key, obj[key]) for key in NESTED if isinstance(obj.get(key), dict)]
    children += [(f"{key}[]", item) for key in LIST_OF_OBJECTS_KEYS for item in obj.get(key) or []]
    for key, child in children:
        found = _level(child, f"{path}{key}.", depth + 1)
        if found:
            return found
    return None


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and bool(ID.match(value))


def _values_ok(values: Any) -> bool:
    return isinstance(values, dict) and all(
        isinstance(actions, dict) and all(isinstance(state, dict) for state in actions.values())
        for actions in values.values()
    )


def scrub(value: Any) -> Any:
    """The same request without U+0000: nobody can type it, and PostgreSQL cannot store it in text."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value
