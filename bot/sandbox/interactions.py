"""Builders for Slack's interactive payloads (block_actions, view_submission) from sandbox state."""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.sandbox.server import Sandbox


def user_ref(sb: Sandbox, user_id: str) -> dict[str, Any]:
    """The `user` object of interactive payloads."""
    user = sb.users.get(user_id)
    name = user.name if user else user_id
    return {"id": user_id, "username": name, "name": name, "team_id": sb.team_id}


def _blocks_elements(blocks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Every (block_id, element) pair in a blocks array."""
    found: list[tuple[str, dict[str, Any]]] = []
    for block in blocks:
        bid = block.get("block_id", "")
        for el in block.get("elements") or []:
            if isinstance(el, dict):
                found.append((bid, el))
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                found.append((bid, block[key]))
    return found


def find_element(blocks: list[dict[str, Any]], action_id: str,
                 block_id: str | None = None) -> tuple[str | None, dict[str, Any] | None]:
    """The block_id and element carrying an action_id (first match)."""
    for bid, el in _blocks_elements(blocks):
        if el.get("action_id") == action_id and (block_id is None or bid == block_id):
            return bid, el
    return block_id, None


def _option(element: dict[str, Any] | None, value: Any) -> dict[str, Any]:
    """The option with this value, taken from the element when known."""
    if isinstance(value, dict):
        return value
    for opt in (element or {}).get("options") or []:
        if opt.get("value") == value:
            return copy.deepcopy(opt)
    for group in (element or {}).get("option_groups") or []:
        for opt in group.get("options") or []:
            if opt.get("value") == value:
                return copy.deepcopy(opt)
    return {"text": {"type": "plain_text", "text": str(value), "emoji": True}, "value": value}


def element_state(etype: str, element: dict[str, Any] | None, value: Any) -> dict[str, Any]:
    """One element's entry in state.values / actions, by element type."""
    if isinstance(value, dict) and "type" in value:
        return value
    out: dict[str, Any] = {"type": etype}
    if etype in ("static_select", "external_select", "radio_buttons", "overflow"):
        out["selected_option"] = None if value is None else _option(element, value)
    elif etype in ("multi_static_select", "multi_external_select", "checkboxes"):
        items = value if isinstance(value, list) else ([] if value is None else [value])
        out["selected_options"] = [_option(element, v) for v in items]
    elif etype == "users_select":
        out["selected_user"] = value
    elif etype == "multi_users_select":
        out["selected_users"] = list(value or [])
    elif etype == "conversations_select":
        out["selected_conversation"] = value
    elif etype == "multi_conversations_select":
        out["selected_conversations"] = list(value or [])
    elif etype == "channels_select":
        out["selected_channel"] = value
    elif etype == "multi_channels_select":
        out["selected_channels"] = list(value or [])
    elif etype == "datepicker":
        out["selected_date"] = value
    elif etype == "timepicker":
        out["selected_time"] = value
    elif etype == "datetimepicker":
        out["selected_date_time"] = value
    else:  # plain_text_input, number_input, email_text_input, url_text_input, ...
        out["value"] = value
    return out


def block_action_payload(sb: Sandbox, user_id: str, action_id: str, value: str | None, block_id: str | None,
                         channel_id: str | None, message_ts: str | None, view_id: str | None,
                         action_type: str, selected: Any, trigger_id: str,
                         response_url: str | None) -> dict[str, Any]:
    """A block_actions payload as Slack sends it, from a stored message or view."""
    message = None
    ch = sb.channels.get(channel_id or "")
    if ch is not None and message_ts:
        found = ch.find(message_ts)
        message = copy.deepcopy(found) if found else None
    view = copy.deepcopy(sb.views[view_id]) if view_id and view_id in sb.views else None
    blocks = (view or message or {}).get("blocks") or []
    bid, element = find_element(blocks, action_id, block_id)
    action: dict[str, Any] = {"action_id": action_id, "block_id": bid or block_id or sb.random_block_id(),
                              "type": action_type, "action_ts": f"{time.time():.6f}"}
    if action_type == "button":
        if element and isinstance(element.get("text"), dict):
            action["text"] = element["text"]
        action["value"] = value if value is not None else (element or {}).get("value")
        if element and element.get("style"):
            action["style"] = element["style"]
    else:
        state = element_state(action_type, element, selected if selected is not None else value)
        action.update({k: v for k, v in state.items() if k != "type"})
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": user_ref(sb, user_id),
        "api_app_id": sb.app_id,
        "token": "sandbox-verification-token",
        "trigger_id": trigger_id,
        "team": {"id": sb.team_id, "domain": sb.team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "state": {"values": {}},
        "actions": [action],
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view_id}
        payload["view"] = view
        payload["state"] = view.get("state", {"values": {}})
    else:
        payload["container"] = {"type": "message", "message_ts": message_ts, "channel_id": channel_id,
                                "is_ephemeral": message is None and message_ts is not None}
        payload["response_url"] = response_url
    if ch is not None:
        payload["channel"] = {"id": ch.id, "name": "directmessage" if ch.is_im else ch.name}
    if message is not None:
        payload["message"] = message
    return payload


def view_submission_payload(sb: Sandbox, view_id: str, user_id: str, values: dict[str, dict[str, Any]],
                            trigger_id: str) -> dict[str, Any]:
    """A view_submission payload; state.values is built per element type and kept on the stored view."""
    if view_id not in sb.views:
        raise KeyError(f"no view {view_id!r} in the sandbox")
    stored = sb.views[view_id]
    state: dict[str, dict[str, Any]] = {}
    for block_id, by_action in values.items():
        for action_id, value in by_action.items():
            _, element = find_element(stored.get("blocks") or [], action_id, block_id)
            etype = (element or {}).get("type", "plain_text_input")
            state.setdefault(block_id, {})[action_id] = element_state(etype, element, value)
    stored["state"] = {"values": state}
    return {
        "type": "view_submission",
        "team": {"id": sb.team_id, "domain": sb.team_domain},
        "user": user_ref(sb, user_id),
        "api_app_id": sb.app_id,
        "token": "sandbox-verification-token",
        "trigger_id": trigger_id,
        "view": copy.deepcopy(stored),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
