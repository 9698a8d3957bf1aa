"""Who Slack will not let in or write to (guests, deactivated accounts), the token's scopes, and Retry-After's forms."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import Sandbox
from bot.sandbox.faults import RetryAfter
from bot.sandbox.scopes import KNOWN, MANIFEST, manifest_scopes
from bot.sandbox.state import Guest


async def refusal(coro: object) -> dict:
    """The body of the error a call fails with."""
    with pytest.raises(SlackApiError) as info:
        await coro  # type: ignore[misc]
    return dict(info.value.response.data)


async def test_guests_and_deactivated_people_are_refused_one_by_one(sb: Sandbox, client: AsyncWebClient) -> None:
    cid = (await client.conversations_create(name="inc-7"))["channel"]["id"]
    member = sb.add_user("li.na")
    single = sb.add_user("vendor", guest=Guest.SINGLE)
    sb.add_channel("vendor-room", members=[single])
    fresh_single = sb.add_user("auditor", guest=Guest.SINGLE)
    multi = sb.add_user("contractor", guest=Guest.MULTI)
    gone = sb.add_user("left.company", deleted=True)
    body = await refusal(client.conversations_invite(channel=cid, users=[member, single, multi, gone, fresh_single]))
    assert body["error"] == "ura_max_channels"  # the first refusal; each is listed, as Slack does
    assert [(e["user"], e["error"]) for e in body["errors"]] == [
        (single, "ura_max_channels"), (multi, "user_is_restricted"), (gone, "user_is_deleted"),
        (fresh_single, "user_is_ultra_restricted")]
    assert member not in sb.channels[cid].members  # all or none
    assert (await client.conversations_invite(channel=cid, users=member))["ok"]
    info = (await client.users_info(user=single))["user"]
    assert (info["is_restricted"], info["is_ultra_restricted"]) == (True, True)
    assert (await client.users_info(user=multi))["user"]["is_ultra_restricted"] is False


async def test_direct_messages_to_deactivated_people_and_bots(sb: Sandbox, client: AsyncWebClient) -> None:
    gone = sb.add_user("left.company", deleted=True)
    other_bot = sb.add_user("pagerbot", is_bot=True)
    assert (await refusal(client.conversations_open(users=gone)))["error"] == "user_disabled"
    assert (await refusal(client.conversations_open(users=other_bot)))["error"] == "cannot_dm_bot"
    assert (await client.chat_postMessage(channel=gone, text="still delivered"))["ok"]  # Slack does not refuse it
    guest = sb.add_user("vendor", guest=Guest.SINGLE)
    assert (await client.conversations_open(users=guest))["ok"]


async def test_the_token_holds_the_manifests_scopes_by_default() -> None:
    assert MANIFEST.exists() and Sandbox().bot_scopes == manifest_scopes()
    assert {"chat:write", "channels:manage", "im:history"} <= manifest_scopes()
    assert manifest_scopes(Path("/nonexistent/slack-manifest.yml")) == KNOWN


async def test_a_call_without_its_scope_names_what_it_needed() -> None:
    async with Sandbox(bot_scopes=KNOWN - {"im:history", "groups:read"}) as sb:
        client = AsyncWebClient(token=sb.bot_token, base_url=sb.api_url)
        public = (await client.conversations_create(name="inc-8"))["channel"]["id"]
        assert (await client.conversations_history(channel=public))["ok"]
        im = (await client.conversations_open(users=sb.add_user("li.na")))["channel"]["id"]
        body = await refusal(client.conversations_history(channel=im))
        assert (body["error"], body["needed"]) == ("missing_scope", "im:history")
        assert set(body["provided"].split(",")) == KNOWN - {"im:history", "groups:read"}
        body = await refusal(client.conversations_list(types="public_channel,private_channel"))
        assert body["needed"] == "groups:read"
        assert (await client.conversations_list(types="public_channel"))["ok"]
        assert (await client.auth_test())["ok"]  # needs no scope


async def test_invites_take_either_of_their_documented_scopes() -> None:
    async with Sandbox(bot_scopes={"channels:manage"}) as sb:
        client = AsyncWebClient(token=sb.bot_token, base_url=sb.api_url)
        public = (await client.conversations_create(name="inc-9"))["channel"]["id"]
        assert (await client.conversations_invite(channel=public, users=sb.add_user("li.na")))["ok"]
        body = await refusal(client.conversations_create(name="inc-9-private", is_private=True))
        assert body["needed"] == "groups:write"
        sb.bot_scopes = frozenset({"channels:write.invites"})
        assert (await client.conversations_invite(channel=public, users=sb.add_user("wang.fang")))["ok"]


async def _retry_after(sb: Sandbox, value: RetryAfter) -> str | None:
    """The Retry-After header of an injected 429."""
    sb.faults.add("auth.test", "429", retry_after=value)
    async with aiohttp.ClientSession() as http, http.post(sb.api_url + "auth.test",
                                                          headers={"Authorization": f"Bearer {sb.bot_token}"}) as resp:
        assert resp.status == 429
        return resp.headers.get("Retry-After")


async def test_retry_after_in_every_form(sb: Sandbox) -> None:
    assert await _retry_after(sb, 7) == "7"
    assert await _retry_after(sb, 0) == "1"  # whole seconds are at least one, as Slack sends them
    assert await _retry_after(sb, 1.5) == "1.5"
    assert await _retry_after(sb, "soon") == "soon"
    assert await _retry_after(sb, None) is None
    when = datetime(2026, 11, 11, 8, 0, tzinfo=UTC)
    sent = await _retry_after(sb, when)
    assert sent == "Wed, 11 Nov 2026 08:00:00 GMT" and parsedate_to_datetime(sent) == when
    async with aiohttp.ClientSession() as http:
        await http.post(f"{sb.base_url}/_sandbox/faults", json={"method": "auth.test", "kind": "429", "retry_after": None})
    assert (await refusal(AsyncWebClient(token=sb.bot_token, base_url=sb.api_url).auth_test()))["error"] == "ratelimited"
