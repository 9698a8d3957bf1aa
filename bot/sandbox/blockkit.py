"""Block Kit limit checks: a small table of Slack's documented limits, so the bot fails here, not in prod."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# A rule is (path, kind, limit): kind "len" limits a string's length, "count" a list's length.
# A path is dotted keys; "[]" walks every item of a list.
Rule = tuple[str, str, int]

BLOCK_RULES: dict[str, list[Rule]] = {
    "section": [("text.text", "len", 3000), ("fields", "count", 10), ("fields[].text", "len", 2000)],
    "header": [("text.text", "len", 150)],
    "context": [("elements", "count", 10)],
    "actions": [("elements", "count", 25)],
    "input": [("label.text", "len", 2000), ("hint.text", "len", 2000)],
    "image": [("image_url", "len", 3000), ("alt_text", "len", 2000), ("title.text", "len", 2000)],
    "markdown": [("text", "len", 12000)],
    "divider": [],
    "rich_text": [],
    "file": [],
    "video": [],
    "table": [],
}

OPTION_RULES: list[Rule] = [("text.text", "len", 75), ("value", "len", 150), ("description.text", "len", 75)]

ELEMENT_RULES: dict[str, list[Rule]] = {
    "button": [("text.text", "len", 75), ("value", "len", 2000), ("url", "len", 3000)],
    "static_select": [("options", "count", 100), ("option_groups", "count", 100), ("placeholder.text", "len", 150)],
    "multi_static_select": [("options", "count", 100), ("placeholder.text", "len", 150)],
    "overflow": [("options", "count", 5)],
    "checkboxes": [("options", "count", 10)],
    "radio_buttons": [("options", "count", 10)],
    "plain_text_input": [("placeholder.text", "len", 150)],
    "users_select": [("placeholder.text", "len", 150)],
    "multi_users_select": [("placeholder.text", "len", 150)],
    "conversations_select": [("placeholder.text", "len", 150)],
    "channels_select": [("placeholder.text", "len", 150)],
    "datepicker": [("placeholder.text", "len", 150)],
    "timepicker": [("placeholder.text", "len", 150)],
    "datetimepicker": [],
    "number_input": [],
    "email_text_input": [],
    "url_text_input": [],
    "image": [("image_url", "len", 3000), ("alt_text", "len", 2000)],
    "plain_text": [("text", "len", 3000)],
    "mrkdwn": [("text", "len", 3000)],
}

COMMON_ELEMENT_RULES: list[Rule] = [("action_id", "len", 255)]
OPTION_LIST_KEYS = ("options", "initial_options")
PLAIN_TEXT_ONLY = {"header": "text", "input": "label"}


def _walk(obj: Any, path: list[str], pointer: str) -> Iterator[tuple[str, Any]]:
    """Yield (json-pointer, value) for every value the dotted path reaches."""
    if not path:
        yield pointer, obj
        return
    key, rest = path[0], path[1:]
    if key.endswith("[]"):
        items = obj.get(key[:-2]) if isinstance(obj, dict) else None
        if isinstance(items, list):
            for i, item in enumerate(items):
                yield from _walk(item, rest, f"{pointer}/{key[:-2]}/{i}")
        return
    if isinstance(obj, dict) and key in obj:
        yield from _walk(obj[key], rest, f"{pointer}/{key}")


def _apply(obj: dict[str, Any], rules: list[Rule], pointer: str) -> list[str]:
    """Check one object against a rule list; return Slack-style error lines."""
    errors: list[str] = []
    for path, kind, limit in rules:
        for ptr, value in _walk(obj, path.split("."), pointer):
            if kind == "len" and isinstance(value, str) and len(value) > limit:
                errors.append(f"[ERROR] must be less than {limit + 1} characters [json-pointer:{ptr}]")
            elif kind == "count" and isinstance(value, list) and len(value) > limit:
                errors.append(f"[ERROR] no more than {limit} items allowed [json-pointer:{ptr}]")
    return errors


def check_element(element: Any, pointer: str) -> list[str]:
    """Check one interactive element (button, select, input...)."""
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        return [f"[ERROR] missing required field: type [json-pointer:{pointer}]"]
    etype = element["type"]
    rules = ELEMENT_RULES.get(etype)
    if rules is None:
        return [f"[ERROR] unsupported type: {etype} [json-pointer:{pointer}/type]"]
    errors = _apply(element, rules + COMMON_ELEMENT_RULES, pointer)
    if etype == "button":
        text = element.get("text")
        if not isinstance(text, dict) or text.get("type") != "plain_text":
            errors.append(f"[ERROR] must be a plain_text text object [json-pointer:{pointer}/text]")
    if etype == "plain_text_input" and "max_length" not in element:
        errors += _apply(element, [("initial_value", "len", 3000)], pointer)
    for key in OPTION_LIST_KEYS:
        for i, option in enumerate(element.get(key) or []):
            if isinstance(option, dict):
                errors += _apply(option, OPTION_RULES, f"{pointer}/{key}/{i}")
    for gi, group in enumerate(element.get("option_groups") or []):
        for i, option in enumerate(group.get("options") or [] if isinstance(group, dict) else []):
            if isinstance(option, dict):
                errors += _apply(option, OPTION_RULES, f"{pointer}/option_groups/{gi}/options/{i}")
    if isinstance(element.get("initial_option"), dict):
        errors += _apply(element["initial_option"], OPTION_RULES, f"{pointer}/initial_option")
    return errors


def check_block(block: Any, pointer: str) -> list[str]:
    """Check one block and the elements inside it."""
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return [f"[ERROR] missing required field: type [json-pointer:{pointer}]"]
    btype = block["type"]
    rules = BLOCK_RULES.get(btype)
    if rules is None:
        return [f"[ERROR] unsupported type: {btype} [json-pointer:{pointer}/type]"]
    errors = _apply(block, [*rules, ("block_id", "len", 255)], pointer)
    if btype == "section" and "text" not in block and "fields" not in block:
        errors.append(f"[ERROR] must provide either text or fields [json-pointer:{pointer}]")
    if btype in PLAIN_TEXT_ONLY:
        key = PLAIN_TEXT_ONLY[btype]
        obj = block.get(key)
        if not isinstance(obj, dict) or obj.get("type") != "plain_text" or not obj.get("text"):
            errors.append(f"[ERROR] must be a non-empty plain_text text object [json-pointer:{pointer}/{key}]")
    if btype == "section" and isinstance(block.get("accessory"), dict):
        errors += check_element(block["accessory"], f"{pointer}/accessory")
    if btype == "actions":
        for i, el in enumerate(block.get("elements") or []):
            errors += check_element(el, f"{pointer}/elements/{i}")
    if btype == "input":
        if not isinstance(block.get("element"), dict):
            errors.append(f"[ERROR] missing required field: element [json-pointer:{pointer}]")
        else:
            errors += check_element(block["element"], f"{pointer}/element")
    return errors


def check_blocks(blocks: Any, max_blocks: int = 50, pointer: str = "/blocks") -> list[str]:
    """Check a blocks array for a message (50) or a modal (100); empty list means valid."""
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:{pointer}]"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"[ERROR] no more than {max_blocks} items allowed [json-pointer:{pointer}]")
    for i, block in enumerate(blocks):
        errors += check_block(block, f"{pointer}/{i}")
    return errors


VIEW_RULES: list[Rule] = [
    ("title.text", "len", 24),
    ("submit.text", "len", 24),
    ("close.text", "len", 24),
    ("callback_id", "len", 255),
    ("private_metadata", "len", 3000),
    ("external_id", "len", 255),
]


def check_view(view: Any) -> list[str]:
    """Check a modal view (type, title, buttons, metadata, blocks)."""
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    errors: list[str] = []
    if view.get("type") != "modal":
        errors.append("[ERROR] must be modal [json-pointer:/view/type]")
    title = view.get("title")
    if not isinstance(title, dict) or title.get("type") != "plain_text" or not title.get("text"):
        errors.append("[ERROR] missing required field: title [json-pointer:/view/title]")
    for key in ("submit", "close"):
        obj = view.get(key)
        if obj is not None and (not isinstance(obj, dict) or obj.get("type") != "plain_text"):
            errors.append(f"[ERROR] must be a plain_text text object [json-pointer:/view/{key}]")
    errors += _apply(view, VIEW_RULES, "/view")
    blocks = view.get("blocks", [])
    errors += check_blocks(blocks, max_blocks=100, pointer="/view/blocks")
    has_input = isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    if has_input and view.get("submit") is None:
        errors.append("[ERROR] submit is required when an input block is present [json-pointer:/view/submit]")
    return errors
