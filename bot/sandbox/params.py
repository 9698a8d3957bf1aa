"""Web API arguments as Slack reads them: query, form or JSON, with JSON-in-a-string fields decoded."""

from __future__ import annotations

import base64
import json
from typing import Any

from bot.sandbox.state import SlackError


class Params:
    """The merged arguments of one Web API call, with typed accessors."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __contains__(self, name: str) -> bool:
        return name in self.data and self.data[name] is not None

    def get(self, name: str, default: str | None = None) -> str | None:
        """A string argument (numbers and booleans from JSON are stringified)."""
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else str(value)

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean argument: true/1 from forms, true from JSON."""
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes")

    def number(self, name: str, default: int) -> int:
        """An integer argument, or invalid_arguments."""
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments", [f"[ERROR] must be an integer [json-pointer:/{name}]"]) from None

    def json(self, name: str, error: str = "invalid_arguments") -> Any:
        """A structured argument that form bodies carry as a JSON string."""
        value = self.data.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise SlackError(error) from None
        return value

    def id_list(self, name: str) -> list[str]:
        """A comma-separated (or JSON list) argument of ids."""
        value = self.data.get(name)
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
        return [v.strip() for v in str(value).split(",") if v.strip()]


def encode_cursor(offset: int) -> str:
    """An opaque Slack-like cursor for an offset."""
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """The offset inside a cursor (empty = start), or invalid_cursor."""
    if not cursor:
        return 0
    try:
        kind, _, num = base64.b64decode(cursor.encode()).decode().partition(":")
        if kind != "offset":
            raise ValueError(cursor)
        return int(num)
    except (ValueError, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None


def paginate(items: list[Any], params: Params, default_limit: int = 100) -> tuple[list[Any], str]:
    """One page of items plus the next_cursor ("" at the end)."""
    limit = params.number("limit", default_limit)
    limit = default_limit if limit <= 0 else min(limit, 1000)
    start = decode_cursor(params.get("cursor"))
    page = items[start:start + limit]
    nxt = encode_cursor(start + limit) if start + limit < len(items) else ""
    return page, nxt
