"""Block Kit limits: the sandbox refuses what Slack refuses, with Slack-style pointers."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import Sandbox
from bot.sandbox.blockkit import check_blocks, check_view


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str = "Done", value: str = "1", action_id: str = "done") -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "value": value, "action_id": action_id}


def modal(title: str, blocks: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "callback_id": "declare", "title": {"type": "plain_text", "text": title},
            "submit": {"type": "plain_text", "text": "Declare"}, "blocks": blocks or [], **extra}


async def rejected(client: AsyncWebClient, blocks: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """Post blocks and return (error, response_metadata.messages)."""
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="inc", text="fallback", blocks=blocks)
    resp = info.value.response
    return str(resp["error"]), list(resp["response_metadata"]["messages"])


@pytest.fixture
async def channel(client: AsyncWebClient) -> str:
    return str((await client.conversations_create(name="inc"))["channel"]["id"])


async def test_limits_through_slack_sdk(sb: Sandbox, client: AsyncWebClient, channel: str) -> None:
    ok = await client.chat_postMessage(channel=channel, text="ok", blocks=[section("x" * 3000)] * 50)
    assert ok["ok"]
    error, messages = await rejected(client, [section("x")] * 51)
    assert error == "invalid_blocks" and messages == ["[ERROR] no more than 50 items allowed [json-pointer:/blocks]"]
    error, messages = await rejected(client, [section("x" * 3001)])
    assert messages == ["[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    error, messages = await rejected(client, [section("ok"), header])
    assert messages == ["[ERROR] must be less than 151 characters [json-pointer:/blocks/1/text/text]"]
    error, messages = await rejected(client, [{"type": "carousel"}])
    assert error == "invalid_blocks" and "unsupported type" in messages[0]
    assert len(sb.messages(channel)) == 1


async def test_modal_title_limit(sb: Sandbox, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as info:
        await client.views_open(trigger_id=sb.new_trigger_id(), view=modal("t" * 25))
    assert info.value.response["error"] == "invalid_arguments"
    assert "[json-pointer:/view/title/text]" in info.value.response["response_metadata"]["messages"][0]
    r = await client.views_open(trigger_id=sb.new_trigger_id(), view=modal("t" * 24))
    assert r["view"]["id"].startswith("V") and r["view"]["state"] == {"values": {}}
    assert sb.views[r["view"]["id"]]["title"]["text"] == "t" * 24


@pytest.mark.parametrize("blocks,pointer", [
    ([{"type": "actions", "elements": [button("b" * 76)]}], "/blocks/0/elements/0/text/text"),
    ([{"type": "actions", "elements": [button(value="v" * 2001)]}], "/blocks/0/elements/0/value"),
    ([{"type": "actions", "elements": [button(action_id="a" * 256)]}], "/blocks/0/elements/0/action_id"),
    ([{"type": "actions", "elements": [button(action_id=f"a{i}") for i in range(26)]}], "/blocks/0/elements"),
    ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}], "/blocks/0/elements"),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}], "/blocks/0/fields"),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}], "/blocks/0/fields/0/text"),
    ([{**section("x"), "block_id": "b" * 256}], "/blocks/0/block_id"),
    ([{"type": "actions", "elements": [{**button(), "url": "https://x/" + "u" * 3000}]}], "/blocks/0/elements/0/url"),
    ([{"type": "input", "label": {"type": "plain_text", "text": "l" * 2001},
       "element": {"type": "plain_text_input", "action_id": "t"}}], "/blocks/0/label/text"),
    ([{"type": "input", "label": {"type": "plain_text", "text": "l"},
       "element": {"type": "plain_text_input", "action_id": "t", "initial_value": "i" * 3001}}],
     "/blocks/0/element/initial_value"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "pick"}, "accessory": {
        "type": "static_select", "action_id": "s",
        "options": [{"text": {"type": "plain_text", "text": str(i)}, "value": str(i)} for i in range(101)]}}],
     "/blocks/0/accessory/options"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "pick"}, "accessory": {
        "type": "static_select", "action_id": "s",
        "options": [{"text": {"type": "plain_text", "text": "o" * 76}, "value": "1"}]}}],
     "/blocks/0/accessory/options/0/text/text"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "pick"}, "accessory": {
        "type": "static_select", "action_id": "s",
        "options": [{"text": {"type": "plain_text", "text": "o"}, "value": "v" * 151}]}}],
     "/blocks/0/accessory/options/0/value"),
])
def test_table(blocks: list[dict[str, Any]], pointer: str) -> None:
    errors = check_blocks(blocks)
    assert len(errors) == 1 and errors[0].endswith(f"[json-pointer:{pointer}]"), errors


def test_valid_blocks_pass() -> None:
    with_max = {"type": "input", "label": {"type": "plain_text", "text": "Summary"},
                "element": {"type": "plain_text_input", "action_id": "t", "max_length": 5000,
                            "initial_value": "i" * 4000}}
    blocks = [section("ok"), {"type": "divider"}, {"type": "actions", "elements": [button()] * 25}, with_max,
              {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}}]
    assert check_blocks(blocks) == []


def test_view_rules() -> None:
    assert check_view(modal("ok", [section("x")] * 100)) == []
    assert any("/view/blocks" in e for e in check_view(modal("ok", [section("x")] * 101)))
    assert check_view(modal("ok", submit={"type": "plain_text", "text": "s" * 25}))[0].endswith("/view/submit/text]")
    assert check_view(modal("ok", private_metadata="p" * 3001))[0].endswith("/view/private_metadata]")
    assert check_view(modal("ok", callback_id="c" * 256))[0].endswith("/view/callback_id]")
    assert check_view({**modal("ok"), "type": "home"})[0].endswith("/view/type]")
