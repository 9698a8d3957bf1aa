"""Rate limits, injected faults, latency, trigger_ids and the HTTP control API."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import Sandbox


async def raw_call(sb: Sandbox, method: str, **params: str) -> tuple[int, dict[str, str], str]:
    """A plain HTTP call, to see status codes and headers slack_sdk hides."""
    async with aiohttp.ClientSession() as http, http.post(sb.api_url + method, data=params,
                         headers={"Authorization": f"Bearer {sb.bot_token}"}) as resp:
        return resp.status, dict(resp.headers), await resp.text()


async def test_tier2_rate_limit_answers_429_with_retry_after(sb: Sandbox) -> None:
    for _ in range(20):  # conversations.list is Tier 2: 20 per minute
        status, _, _ = await raw_call(sb, "conversations.list")
        assert status == 200
    status, headers, body = await raw_call(sb, "conversations.list")
    assert status == 429 and int(headers["Retry-After"]) >= 1 and '"ratelimited"' in body
    sb.rate_limits = False
    assert (await raw_call(sb, "conversations.list"))[0] == 200


async def test_post_message_limit_is_per_channel_and_overridable(sb: Sandbox, client: AsyncWebClient) -> None:
    a = (await client.conversations_create(name="a"))["channel"]["id"]
    b = (await client.conversations_create(name="b"))["channel"]["id"]
    for i in range(5):
        await client.chat_postMessage(channel=a, text=str(i))
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=a, text="too fast")
    assert info.value.response.status_code == 429 and info.value.response.headers["Retry-After"] == "1"
    assert (await client.chat_postMessage(channel=b, text="other channel"))["ok"]
    assert len(sb.messages(a)) == 5
    sb.set_rate_limit("users.list", per_minute=60, burst=1)
    await client.users_list()
    with pytest.raises(SlackApiError):
        await client.users_list()


async def test_fault_kinds(sb: Sandbox, client: AsyncWebClient) -> None:
    cid = (await client.conversations_create(name="inc"))["channel"]["id"]
    sb.faults.add("chat.postMessage", "429", retry_after=7)
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=cid, text="x")
    assert info.value.response.status_code == 429 and info.value.response.headers["Retry-After"] == "7"
    sb.faults.add("chat.postMessage", "5xx")
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=cid, text="x")
    assert info.value.response.status_code == 503 and info.value.response.data == "upstream error"
    sb.faults.add("*", "error", error="fatal_error")
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=cid, text="x")
    assert info.value.response["error"] == "fatal_error"
    sb.faults.add("chat.postMessage", "reset")
    no_retry = AsyncWebClient(token=sb.bot_token, base_url=sb.api_url, retry_handlers=[])
    with pytest.raises(aiohttp.ClientError):
        await no_retry.chat_postMessage(channel=cid, text="x")
    assert sb.messages(cid) == []  # faulted calls change nothing
    sb.faults.add("chat.postMessage", "reset")  # slack_sdk's default handler retries one reset
    assert (await client.chat_postMessage(channel=cid, text="after reset"))["ok"]
    assert [m["text"] for m in sb.messages(cid)] == ["after reset"]
    assert [m for m, _ in sb.calls].count("chat.postMessage") == 6


async def test_timeout_fault(sb: Sandbox) -> None:
    cid = sb.add_channel("inc", members=[sb.bot_user_id])
    impatient = AsyncWebClient(token=sb.bot_token, base_url=sb.api_url, timeout=1)
    sb.faults.add("chat.postMessage", "timeout")  # hang: the client gives up
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await impatient.chat_postMessage(channel=cid, text="lost")
    assert time.monotonic() - started < 3
    await asyncio.sleep(0.1)
    assert sb.messages(cid) == []
    sb.faults.add("chat.postMessage", "timeout", delay=0.2)  # slow but answered
    started = time.monotonic()
    assert (await impatient.chat_postMessage(channel=cid, text="slow"))["ok"]
    assert time.monotonic() - started >= 0.2
    sb.faults.add("*", "error", times=None)
    for _ in range(3):
        with pytest.raises(SlackApiError):
            await impatient.auth_test()
    sb.faults.clear()
    assert (await impatient.auth_test())["ok"]


async def test_retry_handler_recovers_from_two_429s(sb: Sandbox) -> None:
    sb.faults.add("auth.test", "429", times=2, retry_after=1)
    client = AsyncWebClient(token=sb.bot_token, base_url=sb.api_url,
                            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)])
    assert (await client.auth_test())["ok"]
    assert [m for m, _ in sb.calls].count("auth.test") == 3


async def test_latency(sb: Sandbox, client: AsyncWebClient) -> None:
    sb.latency = 0.1
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started >= 0.1


async def test_trigger_ids_expire_and_are_single_use(sb: Sandbox, client: AsyncWebClient) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Declare"}, "blocks": []}

    async def error(trigger_id: str) -> str:
        with pytest.raises(SlackApiError) as info:
            await client.views_open(trigger_id=trigger_id, view=view)
        return str(info.value.response["error"])

    assert await error("123.456.nope") == "invalid_trigger_id"
    trigger = sb.new_trigger_id()
    assert (await client.views_open(trigger_id=trigger, view=view))["ok"]
    assert await error(trigger) == "exchanged_trigger_id"
    sb.trigger_ttl = 0.05
    stale = sb.new_trigger_id()
    await asyncio.sleep(0.1)
    assert await error(stale) == "expired_trigger_id"
    assert len(sb.views) == 1


async def test_views_update_and_push(sb: Sandbox, client: AsyncWebClient) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "One"}, "blocks": [], "external_id": "e1"}
    opened = (await client.views_open(trigger_id=sb.new_trigger_id(), view=view))["view"]
    updated = await client.views_update(view_id=opened["id"], hash=opened["hash"],
                                        view={**view, "title": {"type": "plain_text", "text": "Two"}})
    assert updated["view"]["id"] == opened["id"] and sb.views[opened["id"]]["title"]["text"] == "Two"
    with pytest.raises(SlackApiError) as info:
        await client.views_update(view_id=opened["id"], hash=opened["hash"], view=view)
    assert info.value.response["error"] == "hash_conflict"
    by_ext = await client.views_update(external_id="e1", view={**view, "title": {"type": "plain_text", "text": "3"}})
    assert by_ext["view"]["id"] == opened["id"]
    pushed = await client.views_push(trigger_id=sb.new_trigger_id(view_id=opened["id"]),
                                     view={"type": "modal", "title": {"type": "plain_text", "text": "Sub"}})
    assert pushed["view"]["previous_view_id"] == opened["id"]


async def test_control_api(sb: Sandbox, client: AsyncWebClient) -> None:
    cid = (await client.conversations_create(name="inc-9"))["channel"]["id"]
    async with aiohttp.ClientSession() as http:
        r = await http.post(f"{sb.base_url}/_sandbox/faults", json={"method": "auth.test", "kind": "error",
                                                                    "error": "account_inactive", "times": 1})
        assert (await r.json())["ok"]
        with pytest.raises(SlackApiError):
            await client.auth_test()
        await http.post(f"{sb.base_url}/_sandbox/latency", json={"seconds": 0.01})
        assert sb.latency == 0.01
        sb.faults.add("*", "5xx", times=None)
        await http.post(f"{sb.base_url}/_sandbox/reset-faults")
        assert sb.faults.planned == [] and sb.latency == 0
        state = await (await http.get(f"{sb.base_url}/_sandbox/state")).json()
    assert state["calls"]["conversations.create"] == 1
    assert [c["name"] for c in state["channels"] if c["id"] == cid] == ["inc-9"]
