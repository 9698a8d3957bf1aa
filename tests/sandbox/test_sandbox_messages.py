"""Messages: post, thread, update, pin, permalink, ephemerals, DMs, history, response_url and files."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.sandbox import Sandbox


async def error_of(coro: object) -> str:
    """The Slack error code a call fails with."""
    with pytest.raises(SlackApiError) as info:
        await coro  # type: ignore[misc]
    return str(info.value.response["error"])


@pytest.fixture
async def cid(client: AsyncWebClient) -> str:
    """An incident channel created by the bot."""
    return str((await client.conversations_create(name="inc-7"))["channel"]["id"])


async def test_post_thread_update_pin_permalink(sb: Sandbox, client: AsyncWebClient, cid: str) -> None:
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "INC-7 支付宝回调超时"}}]
    r = await client.chat_postMessage(channel=cid, text="INC-7", blocks=blocks,
                                      metadata={"event_type": "incident", "event_payload": {"key": "INC-7"}})
    ts = r["ts"]
    assert r["channel"] == cid and r["message"]["bot_id"] == sb.bot_id
    reply = await client.chat_postMessage(channel=cid, thread_ts=ts, text="timeline")
    assert float(reply["ts"]) > float(ts)
    top = sb.messages(cid)
    assert [m["ts"] for m in top] == [ts] and top[0]["reply_count"] == 1
    assert top[0]["metadata"]["event_payload"] == {"key": "INC-7"}
    assert top[0]["blocks"][0]["block_id"]  # Slack assigns block_ids
    assert [m["text"] for m in sb.replies(cid, ts)] == ["timeline"]
    await client.chat_update(channel=cid, ts=ts, text="INC-7 resolved")
    assert sb.messages(cid)[0]["text"] == "INC-7 resolved" and "edited" in sb.messages(cid)[0]
    assert sb.messages(cid)[0]["blocks"][0]["type"] == "header"  # blocks kept when not given
    await client.pins_add(channel=cid, timestamp=ts)
    assert sb.channels[cid].pins == [ts]
    assert await error_of(client.pins_add(channel=cid, timestamp=ts)) == "already_pinned"
    assert await error_of(client.pins_add(channel=cid, timestamp="1.000001")) == "message_not_found"
    assert (await client.pins_list(channel=cid))["items"][0]["message"]["ts"] == ts
    link = (await client.chat_getPermalink(channel=cid, message_ts=ts))["permalink"]
    assert link == f"https://sandbox.slack.com/archives/{cid}/p{ts.replace('.', '')}"
    await client.reactions_add(channel=cid, timestamp=ts, name="eyes")
    assert await error_of(client.reactions_add(channel=cid, timestamp=ts, name="eyes")) == "already_reacted"
    bm = await client.bookmarks_add(channel_id=cid, title="Runbook", type="link", link="https://runbook.example")
    assert sb.channels[cid].bookmarks[0]["id"] == bm["bookmark"]["id"]
    await client.chat_delete(channel=cid, ts=reply["ts"])
    assert sb.replies(cid, ts) == []


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_message_errors(sb: Sandbox, client: AsyncWebClient, cid: str) -> None:
    alice = sb.add_user("alice")
    outside = sb.add_channel("random", members=[alice])
    assert await error_of(client.chat_postMessage(channel=outside, text="hi")) == "not_in_channel"
    assert await error_of(client.chat_postMessage(channel="C_NOPE", text="hi")) == "channel_not_found"
    assert await error_of(client.chat_postMessage(channel=cid)) == "no_text"
    assert await error_of(client.chat_postMessage(channel=cid, text="x" * 40001)) == "msg_too_long"
    assert await error_of(client.chat_update(channel=cid, ts="1.000001", text="x")) == "message_not_found"
    sb.channels[cid].messages.append({"type": "message", "ts": "1.000002", "user": alice, "text": "mine"})
    assert await error_of(client.chat_update(channel=cid, ts="1.000002", text="x")) == "cant_update_message"
    await client.conversations_archive(channel=cid)
    assert await error_of(client.chat_postMessage(channel=cid, text="late")) == "is_archived"
    assert len(sb.messages(cid)) == 1


async def test_ephemeral_and_dm(sb: Sandbox, client: AsyncWebClient, cid: str) -> None:
    alice = sb.add_user("alice")
    bob = sb.add_user("bob")
    await client.conversations_invite(channel=cid, users=[alice])
    r = await client.chat_postEphemeral(channel=cid, user=alice, text="only you")
    assert r["message_ts"] and sb.ephemerals[-1]["user"] == alice and sb.ephemerals[-1]["text"] == "only you"
    assert await error_of(client.chat_postEphemeral(channel=cid, user=bob, text="x")) == "user_not_in_channel"
    im = (await client.conversations_open(users=[bob]))["channel"]["id"]
    assert im.startswith("D")
    await client.chat_postMessage(channel=im, text="you are on call")
    await client.chat_postMessage(channel=bob, text="reminder")  # a user id means the IM
    assert [m["text"] for m in sb.dms(bob)] == ["you are on call", "reminder"]
    assert (await client.conversations_open(users=bob))["channel"]["id"] == im


async def test_history_newest_first_with_cursor(sb: Sandbox, client: AsyncWebClient, cid: str) -> None:
    sb.rate_limits = False  # six quick posts to one channel would exceed chat.postMessage's burst
    for i in range(5):
        await client.chat_postMessage(channel=cid, text=f"m{i}",
                                      metadata={"event_type": "t", "event_payload": {"i": i}})
    r = await client.conversations_history(channel=cid, limit=3)
    assert [m["text"] for m in r["messages"]] == ["m4", "m3", "m2"] and r["has_more"]
    assert "metadata" not in r["messages"][0]
    r2 = await client.conversations_history(channel=cid, cursor=r["response_metadata"]["next_cursor"],
                                            include_all_metadata=True)
    assert [m["text"] for m in r2["messages"]] == ["m1", "m0"] and r2["messages"][0]["metadata"]["event_payload"]
    root = sb.messages(cid)[0]["ts"]
    await client.chat_postMessage(channel=cid, thread_ts=root, text="r1")
    replies = await client.conversations_replies(channel=cid, ts=root)
    assert [m["text"] for m in replies["messages"]] == ["m0", "r1"]


async def test_response_url(sb: Sandbox, client: AsyncWebClient, cid: str) -> None:
    alice = sb.add_user("alice")
    url = sb.new_response_url(channel_id=cid, user_id=alice)
    r = await AsyncWebhookClient(url).send(text="wrong command", response_type="ephemeral")
    assert r.status_code == 200 and r.body == "ok"
    assert sb.responses[-1]["text"] == "wrong command" and sb.responses[-1]["response_type"] == "ephemeral"
    assert sb.ephemerals[-1]["source"] == "response_url"
    await AsyncWebhookClient(url).send(text="declared", response_type="in_channel")
    assert sb.messages(cid)[-1]["text"] == "declared"
    posted = await client.chat_postMessage(channel=cid, text="button here")
    url2 = sb.new_response_url(channel_id=cid, user_id=alice, message_ts=posted["ts"])
    await AsyncWebhookClient(url2).send(text="replaced", replace_original=True)
    assert sb.channels[cid].find(posted["ts"])["text"] == "replaced"  # type: ignore[index]
    async with aiohttp.ClientSession() as http, http.post(f"{sb.base_url}/response/nope", json={"text": "x"}) as resp:
        assert resp.status == 404


async def test_file_upload_round_trip(sb: Sandbox, client: AsyncWebClient, cid: str) -> None:
    content = "时间线\n10:02 declared\n".encode()
    r = await client.files_upload_v2(channel=cid, content=content, filename="timeline.txt",
                                      title="INC-7 timeline", initial_comment="review attached")
    fid = r["file"]["id"]
    assert sb.files[fid]["bytes"] == content and sb.files[fid]["title"] == "INC-7 timeline"
    msg = sb.messages(cid)[-1]
    assert msg["text"] == "review attached" and msg["files"][0]["id"] == fid
    url = (await client.files_getUploadURLExternal(filename="x.txt", length=1))
    assert await error_of(client.files_completeUploadExternal(files=[{"id": url["file_id"]}], channel_id=cid)) \
        == "file_upload_not_completed"
