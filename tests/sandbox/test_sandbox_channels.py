"""Channels: Slack's naming rules, membership errors, listing and auth errors, via slack_sdk."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import Sandbox


async def error_of(coro: object) -> str:
    """The Slack error code a call fails with."""
    with pytest.raises(SlackApiError) as info:
        await coro  # type: ignore[misc]
    return str(info.value.response["error"])


async def test_create_makes_bot_creator_and_member(sb: Sandbox, client: AsyncWebClient) -> None:
    r = await client.conversations_create(name="inc-42-payment", is_private=True)
    ch = r["channel"]
    assert ch["id"].startswith("C") and ch["name"] == "inc-42-payment" and ch["is_private"] is True
    stored = sb.channels[ch["id"]]
    assert stored.creator == sb.bot_user_id and sb.bot_user_id in stored.members
    assert sb.channel_by_name("inc-42-payment") is stored
    assert sb.calls[-1][0] == "conversations.create"


@pytest.mark.parametrize("name,error", [
    ("", "invalid_name_required"),
    ("Inc-Upper", "invalid_name_specials"),
    ("has space", "invalid_name_specials"),
    ("支付", "invalid_name_specials"),
    ("a" * 81, "invalid_name_maxlength"),
])
async def test_create_rejects_bad_names(client: AsyncWebClient, name: str, error: str) -> None:
    assert await error_of(client.conversations_create(name=name)) == error


async def test_name_taken_includes_archived(sb: Sandbox, client: AsyncWebClient) -> None:
    assert (await client.conversations_create(name="a" * 80))["ok"]
    cid = (await client.conversations_create(name="inc-1"))["channel"]["id"]
    assert await error_of(client.conversations_create(name="inc-1")) == "name_taken"
    await client.conversations_archive(channel=cid)
    assert sb.channels[cid].archived
    assert await error_of(client.conversations_create(name="inc-1")) == "name_taken"


async def test_invite_errors(sb: Sandbox, client: AsyncWebClient) -> None:
    alice = sb.add_user("alice")
    gone = sb.add_user("bob", deleted=True)
    outside = sb.add_channel("general", members=[alice])
    assert await error_of(client.conversations_invite(channel=outside, users=[alice])) == "not_in_channel"
    cid = (await client.conversations_create(name="inc-2"))["channel"]["id"]
    assert await error_of(client.conversations_invite(channel=cid, users=["U_NOPE"])) == "user_not_found"
    assert await error_of(client.conversations_invite(channel=cid, users=[sb.bot_user_id])) == "cant_invite_self"
    assert await error_of(client.conversations_invite(channel=cid, users=[gone])) == "user_is_deleted"
    assert await error_of(client.conversations_invite(channel="C_NOPE", users=[alice])) == "channel_not_found"
    r = await client.conversations_invite(channel=cid, users=[alice])
    assert r["channel"]["num_members"] == 2 and alice in sb.channels[cid].members
    assert await error_of(client.conversations_invite(channel=cid, users=alice)) == "already_in_channel"


async def test_topic_purpose_join_info(sb: Sandbox, client: AsyncWebClient) -> None:
    cid = (await client.conversations_create(name="inc-3"))["channel"]["id"]
    await client.conversations_setTopic(channel=cid, topic="SEV2 · investigating")
    await client.conversations_setPurpose(channel=cid, purpose="支付宝回调超时")
    assert await error_of(client.conversations_setTopic(channel=cid, topic="x" * 251)) == "too_long"
    info = (await client.conversations_info(channel=cid))["channel"]
    assert info["topic"]["value"] == "SEV2 · investigating" and info["purpose"]["value"] == "支付宝回调超时"
    public = sb.add_channel("ops")
    private = sb.add_channel("secret", is_private=True)
    assert (await client.conversations_join(channel=public))["channel"]["is_member"] is True
    assert await error_of(client.conversations_join(channel=private)) == "channel_not_found"
    sb.channels[private].members.add(sb.bot_user_id)
    assert await error_of(client.conversations_join(channel=private)) == "method_not_supported_for_channel_type"


async def test_list_paginates_and_filters(sb: Sandbox, client: AsyncWebClient) -> None:
    for i in range(5):
        sb.add_channel(f"c{i}")
    archived = sb.add_channel("old")
    sb.channels[archived].archived = True
    seen: list[str] = []
    cursor = None
    while True:
        r = await client.conversations_list(limit=2, cursor=cursor, exclude_archived=True)
        seen += [c["name"] for c in r["channels"]]
        cursor = r["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == ["c0", "c1", "c2", "c3", "c4"]
    r = await client.conversations_list(types="public_channel,private_channel")
    assert "old" in [c["name"] for c in r["channels"]]
    members = await client.conversations_members(channel=(await client.conversations_create(name="x"))["channel"]["id"])
    assert members["members"] == [sb.bot_user_id]


async def test_users(sb: Sandbox, client: AsyncWebClient) -> None:
    uid = sb.add_user("li.lei", real_name="李雷", email="li@example.com")
    user = (await client.users_info(user=uid))["user"]
    assert user["real_name"] == "李雷" and user["tz"] == "Asia/Shanghai" and user["tz_offset"] == 8 * 3600
    assert user["profile"]["email"] == "li@example.com"
    assert (await client.users_lookupByEmail(email="li@example.com"))["user"]["id"] == uid
    assert await error_of(client.users_info(user="U_NOPE")) == "user_not_found"
    names = [m["name"] for m in (await client.users_list())["members"]]
    assert "li.lei" in names and len(names) == 2


async def test_auth_errors_and_unknown_method(sb: Sandbox) -> None:
    assert (await AsyncWebClient(token=sb.bot_token, base_url=sb.api_url).auth_test())["user_id"] == sb.bot_user_id
    assert await error_of(AsyncWebClient(token="xoxb-wrong", base_url=sb.api_url).auth_test()) == "invalid_auth"
    assert await error_of(AsyncWebClient(base_url=sb.api_url).auth_test()) == "not_authed"
    app = AsyncWebClient(token=sb.app_token, base_url=sb.api_url)
    assert await error_of(app.auth_test()) == "not_allowed_token_type"
    bot = AsyncWebClient(token=sb.bot_token, base_url=sb.api_url)
    assert await error_of(bot.apps_connections_open(app_token=sb.bot_token)) == "not_allowed_token_type"
    assert await error_of(bot.api_call("nope.nothing")) == "unknown_method"
    async with aiohttp.ClientSession() as http, http.post(  # token as a form field, like old clients send it
            sb.api_url + "auth.test", data={"token": sb.bot_token}) as resp:
        assert (await resp.json())["ok"] is True
