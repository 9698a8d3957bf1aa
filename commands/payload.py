"""Reading what comes back from Slack: button values and form metadata are ours, but may return as anything."""

from __future__ import annotations

import json
from typing import Any

from bot.flows.base import Actor, view_request

MAX_ROW_ID = 2**31 - 1  # ids are INTEGER primary keys: 32 bits on PostgreSQL


def text(value: Any) -> str:
    """A value that should be text, or "" when it is not."""
    return value if isinstance(value, str) else ""


def obj(value: Any) -> dict[str, Any]:
    """A value that should be a JSON object, or {} when it is not."""
    return value if isinstance(value, dict) else {}


def user_of(body: dict[str, Any]) -> str:
    """Who pressed or submitted, from an interactive payload."""
    user = body.get("user")
    return text(user.get("id")) if isinstance(user, dict) else text(user)


def form_actor(body: dict[str, Any]) -> Actor:
    """Who submitted a form, with the once-only key of that submission (a double submit is one request)."""
    view = obj(body.get("view"))
    user = user_of(body)
    return Actor(user, None, view_request(view.get("id"), user, values(view)))


def button_actor(body: dict[str, Any]) -> Actor:
    """Who pressed, with the once-only key of the press (Slack's retry or a replay carries the same trigger)
    and where to tell them what happens later."""
    trigger = text(body.get("trigger_id"))
    return Actor(user_of(body), None, f"action:{trigger}" if trigger else None, text(body.get("response_url")) or None)


def action_value(body: dict[str, Any]) -> str:
    """The pressed button's value (the first action's)."""
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    return text(first.get("value"))


def row_id(value: Any) -> int:
    """A database id given as text (ASCII digits, in range), else 0, which names no row."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value <= MAX_ROW_ID else 0
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10):
        return 0
    number = int(value)
    return number if number <= MAX_ROW_ID else 0


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    """A form's private_metadata as the object we put there; {} when it is anything else."""
    try:
        value = json.loads(text(view.get("private_metadata")) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def values(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A submitted form's state.values, keeping only well-formed entries (block → action → state)."""
    state = view.get("state")
    raw = state.get("values") if isinstance(state, dict) else None
    if not isinstance(raw, dict):
        return {}
    return {block: {k: v for k, v in actions.items() if isinstance(v, dict)}
            for block, actions in raw.items() if isinstance(actions, dict)}


def chosen(values_: dict[str, dict[str, Any]], block: str, action: str = "value") -> str:
    """The text typed, the option picked, or the user picked in one form field; "" when none."""
    element = values_.get(block, {}).get(action, {})
    option = element.get("selected_option")
    if isinstance(option, dict):
        return text(option.get("value"))
    return text(element.get("value")) or text(element.get("selected_user"))


def chosen_many(values_: dict[str, dict[str, Any]], block: str, action: str = "value") -> list[str]:
    """The options ticked in a checkbox or multi-select field."""
    options = values_.get(block, {}).get(action, {}).get("selected_options")
    return [o["value"] for o in options if isinstance(o, dict) and isinstance(o.get("value"), str)] if isinstance(options, list) else []
