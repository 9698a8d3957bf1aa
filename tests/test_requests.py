"""How the bot treats what arrives at /slack/events: forgeries, repeats and wrong commands."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.db import utcnow
from bot.models import Delivery
from bot.sandbox.actor import sign
from bot.scheduler import fire
from tests.helpers import declare, incidents_in_db, slash_body
from yingji.local import LocalStack


async def _nothing_changed(stack: LocalStack, channels_before: int) -> None:
    await stack.settle()
    assert await incidents_in_db(stack) == []
    assert len(stack.sandbox.channels) == channels_before
    assert not [c for c in stack.sandbox.calls if c[0] == "conversations.create"]


async def test_forged_and_stale_signatures_are_refused(stack: LocalStack) -> None:
    before = len(stack.sandbox.channels)
    alice = stack.users["zhang.wei"]
    forged = await stack.actor.slash("/incident", "declare sev1 site-outage down", user_id=alice,
                                     channel_id=stack.channels["general"], bad_signature=True)
    stale = await stack.actor.slash("/incident", "declare sev1 site-outage down", user_id=alice,
                                    channel_id=stack.channels["general"], timestamp=int(time.time()) - 6 * 60)
    unsigned = await stack.actor.slash("/incident", "declare sev1 site-outage down", user_id=alice,
                                       channel_id=stack.channels["general"], sign=False)
    assert (forged.status, stale.status, unsigned.status) == (401, 401, 401)
    assert "INC" not in forged.body + stale.body
    await _nothing_changed(stack, before)


async def test_a_retried_request_declares_once(stack: LocalStack) -> None:
    alice = stack.users["zhang.wei"]
    body = slash_body(stack, "declare sev2 payment-failure 微信支付回调失败", alice)
    replies = []
    for retry in (None, 1, 2):
        ts = str(int(time.time()))
        headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(stack.sandbox.signing_secret, ts, body)}
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        replies.append(await stack.actor.raw(body, "application/x-www-form-urlencoded", headers))
    await stack.settle()
    assert [r.status for r in replies] == [200, 200, 200] and [r.body for r in replies] == ["", "", ""]
    # Stored before its ack, answered once after it (by the first delivery), however often Slack retries.
    answers = [str(entry["body"].get("text")) for entry in stack.sandbox.responses]
    assert "INC-1" in answers[0] and not any("已经处理过" in text or "already" in text for text in answers), answers
    assert len(await incidents_in_db(stack)) == 1
    assert len([c for c in stack.sandbox.calls if c[0] == "conversations.create"]) == 1


async def test_delivery_keys_are_forgotten_after_a_week_but_alert_claims_stay(stack: LocalStack) -> None:
    assert "forget_deliveries" in await stack.rt.scheduler.job_ids()
    await declare(stack)  # this week's request keeps its key
    old = utcnow() - timedelta(days=8)
    async with stack.rt.sessions() as session:
        session.add_all([Delivery(key="slash:12345.67890", at=old), Delivery(key="event:Ev0LDEVENT", at=old),
                         Delivery(key="alert-open:db-down", at=old, result="INC-9")])
        await session.commit()
    await asyncio.to_thread(fire, "forget_deliveries")  # what the scheduler does each night
    async with stack.rt.sessions() as session:
        keys = set((await session.exec(select(Delivery.key))).all())
    assert "slash:12345.67890" not in keys and "event:Ev0LDEVENT" not in keys
    assert "alert-open:db-down" in keys  # an alert's claim holds its incident open, however old
    assert [k for k in keys if k.startswith("slash:")]


async def test_a_double_submitted_form_declares_once(stack: LocalStack) -> None:
    sb, alice = stack.sandbox, stack.users["zhang.wei"]
    await stack.actor.slash("/incident", "declare", user_id=alice, channel_id=stack.channels["general"])
    await stack.settle()
    [view_id] = list(sb.views)
    values = {"title": {"value": "库存超卖"}, "playbook": {"value": "inventory-anomaly"}, "severity": {"value": "sev3"}}
    first = await stack.actor.submit_view(view_id, alice, values=values)
    second = await stack.actor.submit_view(view_id, alice, values=values)
    await stack.settle()
    assert (first.status, second.status) == (200, 200)
    assert len(await incidents_in_db(stack)) == 1
    assert len([c for c in sb.calls if c[0] == "conversations.create"]) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("frobnicate now", ["frobnicate", "/incident declare"]),
        ("declare sev9 payment-failure x", ["sev9", "sev1"]),
        ("declare sev2 no-such-playbook 标题", ["no-such-playbook", "payment-failure"]),
        ("declare sev2", ["/incident declare"]),
        ("declare sev2 payment-failure", ["/incident declare"]),
        ("", ["/incident declare", "/incident list"]),
    ],
)
async def test_wrong_commands_get_a_specific_reply_and_change_nothing(
    stack: LocalStack, text: str, expected: list[str]
) -> None:
    before = len(stack.sandbox.channels)
    r = await stack.actor.slash("/incident", text, user_id=stack.users["zhang.wei"], channel_id=stack.channels["general"])
    assert r.status == 200
    assert r.message["response_type"] == "ephemeral"
    for fragment in expected:
        assert fragment in r.text
    await _nothing_changed(stack, before)


async def test_free_text_arrives_intact(stack: LocalStack) -> None:
    title = 'Coupons "满300减50" fail for <VIP> & payload; DROP TABLE -- 优惠券 *bold* `code`'
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # as Slack sends it
    await stack.actor.slash("/incident", f"declare sev3 coupon-campaign-failure {escaped}",
                            user_id=stack.users["zhang.wei"], channel_id=stack.channels["general"])
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    assert incident.title == title


async def test_help_and_list(stack: LocalStack) -> None:
    alice, general = stack.users["zhang.wei"], stack.channels["general"]
    help_reply = await stack.actor.slash("/incident", "help", user_id=alice, channel_id=general)
    assert "/incident declare" in help_reply.text and "/incident list" in help_reply.text
    empty = await stack.actor.slash("/incident", "list", user_id=alice, channel_id=general)
    assert "INC-" not in empty.text
    for title in ("first one", "second one"):
        await stack.actor.slash("/incident", f"declare sev3 logistics-disruption {title}", user_id=alice, channel_id=general)
    await stack.settle()
    listed = (await stack.actor.slash("/incident", "list", user_id=stack.users["guest"], channel_id=general)).text
    assert listed.index("INC-2") < listed.index("INC-1")  # newest first
    assert "second one" in listed


async def test_healthz_and_metrics(stack: LocalStack) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack.server.url}/healthz") as resp:
            assert resp.status == 200
            assert (await resp.json())["database"] is True
        stack.rt.ready = False
        async with http.get(f"{stack.server.url}/healthz") as resp:
            assert resp.status == 503
        stack.rt.ready = True
        async with http.get(f"{stack.server.url}/metrics") as resp:
            assert resp.status == 200
            assert "yingji_incidents_declared_total" in await resp.text()
