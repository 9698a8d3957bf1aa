"""The unified public statement: drafted from facts, reviewed in a thread, approved by comms (and legal)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

import pytest
from aiohttp import web
from sqlmodel import select

from bot.db import utcnow
from bot.models import Statement
from bot.vocabulary import Stage
from commands import statement as statement_commands
from tests.helpers import (
    StackFactory,
    declare,
    draft_statement,
    in_channel,
    statement_config,
    statement_form,
    statements_in_db,
    team_time_in,
    timeline_kinds,
    wait_for,
)
from yingji.local import LocalStack


@pytest.fixture
async def shop(make_stack: StackFactory) -> LocalStack:
    return await make_stack(config=statement_config)


async def _press(stack: LocalStack, statement: Statement, action: str, user: str, channel: str):
    response = await stack.actor.block_action(stack.users[user], action, value=str(statement.id),
                                              channel_id=channel, message_ts=statement.message_ts)
    await stack.settle()
    return response


def _thread(stack: LocalStack, channel: str, statement: Statement) -> str:
    return "\n".join(m["text"] for m in stack.sandbox.replies(channel, statement.message_ts))


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_drafts_for_every_stage(shop: LocalStack, lang: str) -> None:
    incident = await declare(shop)
    for stage in Stage:
        draft = await draft_statement(shop, incident, stage=stage, lang=lang, text=f"statement {stage} {lang}")
        assert (draft.stage, draft.language, draft.status) == (stage, lang, "draft")
        assert draft.text and set(draft.outlets) == {"banner", "push", "social", "email", "script", "status_page"}
        message = next(m for m in shop.sandbox.messages(incident.channel_id) if m["ts"] == draft.message_ts)
        assert f"v{draft.version}" in str(message["blocks"]) and "statement_approve" in str(message["blocks"])
        assert f"v{draft.version}" in _thread(shop, incident.channel_id, draft)
        assert "INC-1" not in json.dumps(draft.outlets, ensure_ascii=False)  # the key never goes public
    assert [s.version for s in await statements_in_db(shop)] == [1, 2, 3, 4]


async def test_form_prefills_from_the_playbook_and_refuses_a_missing_next_update(shop: LocalStack) -> None:
    incident = await declare(shop)
    await in_channel(shop, incident, "statement")
    view_id, view = [(k, v) for k, v in shop.sandbox.views.items() if v.get("callback_id") == "statement_form"][-1]
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert blocks["what_happened"]["element"]["initial_value"]  # the playbook's own words
    assert blocks["next_update"]["element"]["initial_value"].startswith(str(utcnow().astimezone(shop.rt.settings.tz).year))
    values = statement_form(shop)
    values["next_update"] = {"value": ""}
    refused = await shop.actor.submit_view(view_id, shop.users["zhang.wei"], values=values)
    assert refused.json["response_action"] == "errors" and "next_update" in refused.json["errors"]
    values["next_update"] = {"value": "tomorrow-ish"}
    refused = await shop.actor.submit_view(view_id, shop.users["zhang.wei"], values=values)
    assert "2026-11-22 09:30" in refused.json["errors"]["next_update"]
    for when, why in ((team_time_in(shop, -600), "已经过去"), ("9999-01-01 10:00", "太远"), (team_time_in(shop, 25 * 3600), "太远")):
        values["next_update"] = {"value": when}
        refused = await shop.actor.submit_view(view_id, shop.users["zhang.wei"], values=values)
        assert why in refused.json["errors"]["next_update"], (when, refused.json)  # a promise the public can hold us to
    assert await statements_in_db(shop) == []
    wrong = await in_channel(shop, incident, "statement someday")
    assert "someday" in wrong.text


async def test_the_form_asks_about_personal_data_and_a_default_draft_says_nothing_about_it(shop: LocalStack) -> None:
    incident = await declare(shop, "declare sev2 natural-disaster 台风影响华东配送")
    await in_channel(shop, incident, "statement")
    view_id, view = [(k, v) for k, v in shop.sandbox.views.items() if v.get("callback_id") == "statement_form"][-1]
    blocks = {b["block_id"]: b for b in view["blocks"]}
    playbook = shop.rt.playbooks["natural-disaster"].statement
    assert blocks["headline"]["element"]["initial_value"] == playbook.headline.zh
    assert blocks["what_happened"]["element"]["initial_value"] == playbook.what_happened.zh
    assert blocks["doing"]["element"]["initial_value"] == playbook.doing.zh
    assert blocks["data"]["element"]["initial_option"]["value"] == "unknown"  # nobody has checked
    assert [o["value"] for o in blocks["data"]["element"]["options"]] == ["unknown", "none", "suspected", "confirmed",
                                                                          "not_applicable"]
    assert [o["value"] for o in blocks["data_harms"]["element"]["options"]] == ["leaked", "altered", "lost"]
    assert "initial_options" not in blocks["data_harms"]["element"] and not blocks["compensation"]["element"].get("initial_value")
    prefilled = {name: {"value": blocks[name]["element"].get("initial_value") or ""}
                 for name in ("headline", "what_happened", "affected", "doing", "customer_action", "compensation",
                              "data_detail", "next_update")}
    prefilled |= {"stage": {"value": "investigating"}, "language": {"value": "zh"}, "data": {"value": "unknown"}}
    submitted = await shop.actor.submit_view(view_id, shop.users["zhang.wei"], values=prefilled)
    assert not (submitted.json or {}).get("errors"), submitted.body
    await shop.settle()
    [draft] = await statements_in_db(shop)
    said = draft.text + json.dumps(draft.outlets, ensure_ascii=False)
    assert "个人信息" not in said and "补偿" not in said and "扣款" not in said
    assert draft.facts["data"] == "unknown" and draft.facts["data_harms"] == []
    assert "请关注本公告" in draft.text  # when and where the next update comes


async def test_personal_data_is_said_only_as_a_person_chose_it(shop: LocalStack) -> None:
    incident = await declare(shop, "declare sev1 data-breach 会员手机号外泄")
    for facts, field, why in (
        ({"data": "unknown", "data_harms": ["leaked"]}, "data_harms", "才能勾选"),
        ({"data": "none", "data_harms": ["lost"]}, "data_harms", "才能勾选"),
        ({"data": "confirmed"}, "data_harms", "请勾选"),
        ({"data": "not_applicable", "data_detail": "手机号"}, "data_detail", "才填写"),
        ({"data": "maybe"}, "data", "请从列表中选择"),
        ({"data": "suspected", "data_harms": ["stolen"]}, "data_harms", "才能勾选"),
    ):
        await in_channel(shop, incident, "statement")
        view_id = [k for k, v in shop.sandbox.views.items() if v.get("callback_id") == "statement_form"][-1]
        refused = await shop.actor.submit_view(view_id, shop.users["zhang.wei"], values=statement_form(shop, **facts))
        assert refused.json["response_action"] == "errors" and why in refused.json["errors"][field], (facts, refused.json)
    assert await statements_in_db(shop) == []  # nothing was drafted
    checked = await draft_statement(shop, incident, data="none")
    assert "经核查，本次事件未涉及用户个人信息。" in checked.text
    suspected = await draft_statement(shop, incident, data="suspected", data_harms=["leaked", "altered"],
                                      data_detail="手机号和收货地址，约 1200 人")
    assert "部分用户的个人信息可能被泄露或篡改，涉及手机号和收货地址，约 1200 人" in suspected.text
    assert "丢失" not in suspected.text and "我们对此深感抱歉，并将承担应有的责任" in suspected.text
    assert "给您带来不便" not in suspected.text  # a breach is a risk, not an inconvenience


async def test_the_next_update_says_where_the_deployment_publishes_it(make_stack: StackFactory) -> None:
    stack = await make_stack(config=lambda users: {**statement_config(users), "public_updates": {"zh": "官网公告页"}})
    incident = await declare(stack)
    draft = await draft_statement(stack, incident)
    assert "请关注官网公告页" in draft.text and "本公告" not in draft.text
    english = await draft_statement(stack, incident, lang="en")
    assert "see this notice" in english.text  # no English page configured: this notice


async def test_who_may_approve(shop: LocalStack) -> None:
    sb, u = shop.sandbox, shop.users
    incident = await declare(shop)
    await in_channel(shop, incident, f"role comms <@{u['chen.jie']}>")
    draft = await draft_statement(shop, incident, user="chen.jie")  # drafted by the comms holder himself
    await _press(shop, draft, "statement_approve", "chen.jie", incident.channel_id)  # self-approval
    await _press(shop, draft, "statement_approve", "guest", incident.channel_id)     # not an approver
    notices = [str(r.get("text")) for r in sb.responses]
    assert any("起草人不能批准自己的草稿" in n for n in notices)
    assert any("只有comms角色负责人或配置的审批人可以批准" in n for n in notices)
    assert (await statements_in_db(shop))[-1].status == "draft"
    assert (await timeline_kinds(shop, incident.id)).count("refused") == 2
    count = len(sb.messages(incident.channel_id))
    await _press(shop, draft, "statement_approve", "wang.fang", incident.channel_id)  # a configured comms approver
    approved = (await statements_in_db(shop))[-1]
    assert approved.status == "approved" and approved.approved_at is not None
    assert len(sb.messages(incident.channel_id)) == count  # updated in place
    message = next(m for m in sb.messages(incident.channel_id) if m["ts"] == approved.message_ts)
    assert "已批准" in str(message["blocks"]) and "statement_publish" in str(message["blocks"])
    assert "已批准并冻结" in _thread(shop, incident.channel_id, approved)
    again = await _press(shop, draft, "statement_approve", "chen.jie", incident.channel_id)
    assert again.status == 200 and (await statements_in_db(shop))[-1].status == "approved"


async def test_a_breach_needs_comms_and_legal(shop: LocalStack) -> None:
    u = shop.users
    incident = await declare(shop, "declare sev1 data-breach 会员手机号外泄")
    await in_channel(shop, incident, f"role comms <@{u['chen.jie']}>")
    draft = await draft_statement(shop, incident, data="confirmed", data_harms=["leaked"], data_detail="手机号和收货地址")
    await _press(shop, draft, "statement_approve", "chen.jie", incident.channel_id)
    partly = (await statements_in_db(shop))[-1]
    assert partly.status == "draft"
    message = next(m for m in shop.sandbox.messages(incident.channel_id) if m["ts"] == partly.message_ts)
    assert ":hourglass: 法务" in str(message["blocks"])  # the draft shows what it still needs
    assert "还需要：法务" in _thread(shop, incident.channel_id, partly)
    await shop.actor.join(incident.channel_id, u["li.na"])  # a private incident: only people inside it may act
    await _press(shop, draft, "statement_approve", "li.na", incident.channel_id)  # configured legal approver
    assert (await statements_in_db(shop))[-1].status == "approved"
    kinds = await timeline_kinds(shop, incident.id)
    assert kinds.count("statement_approval") == 1 and kinds.count("statement_approved") == 1


async def test_edit_after_approval_is_a_new_version_needing_approval(shop: LocalStack) -> None:
    incident = await declare(shop)
    v1 = await draft_statement(shop, incident)
    await _press(shop, v1, "statement_approve", "wang.fang", incident.channel_id)
    await _press(shop, v1, "statement_edit", "zhang.wei", incident.channel_id)
    view_id = [k for k, v in shop.sandbox.views.items() if v.get("callback_id") == "statement_form"][-1]
    prefilled = {b["block_id"]: b for b in shop.sandbox.views[view_id]["blocks"]}
    assert prefilled["doing"]["element"]["initial_value"] == "已切换备用通道，并逐笔核对已扣款订单"
    await shop.actor.submit_view(view_id, shop.users["zhang.wei"], values=statement_form(shop, "identified", doing="已定位为支付宝回调网关"))
    await shop.settle()
    first, second = await statements_in_db(shop)
    assert (first.status, first.superseded_by) == ("approved", second.id)  # frozen: its text is what went out
    assert (second.version, second.status, second.stage) == (2, "draft", "identified")
    assert "v2" in _thread(shop, incident.channel_id, first)
    await _press(shop, second, "statement_approve", "wang.fang", incident.channel_id)
    assert (await statements_in_db(shop))[-1].status == "approved"


async def test_request_changes_with_a_comment(shop: LocalStack) -> None:
    incident = await declare(shop)
    draft = await draft_statement(shop, incident)
    await _press(shop, draft, "statement_changes", "wang.fang", incident.channel_id)
    view_id = [k for k, v in shop.sandbox.views.items() if v.get("callback_id") == "statement_changes_form"][-1]
    await shop.actor.submit_view(view_id, shop.users["wang.fang"], values={"comment": {"value": "补偿写清楚：10 元无门槛券"}})
    await shop.settle()
    assert "补偿写清楚" in _thread(shop, incident.channel_id, draft)
    message = next(m for m in shop.sandbox.messages(incident.channel_id) if m["ts"] == draft.message_ts)
    assert "补偿写清楚" in str(message["blocks"])
    assert "statement_changes_requested" in await timeline_kinds(shop, incident.id)


async def test_outlets_that_cannot_fit_are_flagged_not_cut(shop: LocalStack) -> None:
    incident = await declare(shop)
    long_fact = "部分用户在使用支付宝、微信支付和银联云闪付付款后，订单长时间仍显示待支付，" * 3
    draft = await draft_statement(shop, incident, what_happened=long_fact)
    flagged = [name for name, outlet in draft.outlets.items() if outlet["over"]]
    assert "banner" in flagged
    assert long_fact.strip("，") in draft.outlets["banner"]["text"] or long_fact in draft.outlets["banner"]["text"]
    message = next(m for m in shop.sandbox.messages(incident.channel_id) if m["ts"] == draft.message_ts)
    assert ":warning:" in str(message["blocks"])
    assert "超出长度" in _thread(shop, incident.channel_id, draft)


async def test_show_and_mark_published(shop: LocalStack) -> None:
    u = shop.users
    incident = await declare(shop)
    none_yet = await in_channel(shop, incident, "statement show", user="liu.yang")
    assert "还没有已批准的对外口径" in none_yet.text
    draft = await draft_statement(shop, incident)
    await _press(shop, draft, "statement_approve", "wang.fang", incident.channel_id)
    shown = (await shop.actor.slash("/incident", "statement show INC-1", user_id=u["liu.yang"],
                                    channel_id=shop.channels["general"])).text
    assert "已批准口径 v1" in shown and "客服口径" in shown and ("问" in shown or "Q:" in shown)
    await _press(shop, draft, "statement_publish", "wang.fang", incident.channel_id)
    view_id = [k for k, v in shop.sandbox.views.items() if v.get("callback_id") == "statement_publish_form"][-1]
    await shop.actor.submit_view(view_id, u["wang.fang"], values={"outlets": {"value": ["banner", "social"]}})
    await shop.settle()
    published = (await statements_in_db(shop))[-1]
    assert published.published_to == ["banner", "social"] and published.published_at is not None
    assert "statement_published" in await timeline_kinds(shop, incident.id)


async def test_webhook_delivery_is_signed_and_retried(make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def receiver(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=503 if len(received) < 3 else 200)

    app = web.Application()
    app.router.add_post("/banner", receiver)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    monkeypatch.setenv("BANNER_HOOK_SECRET", "s3cret-for-tests")
    try:
        stack = await make_stack(config=lambda users: {**statement_config(users), "outlet_webhooks": {
            "banner": {"url": f"http://127.0.0.1:{port}/banner", "secret_env": "BANNER_HOOK_SECRET"}}})
        incident = await declare(stack)
        draft = await draft_statement(stack, incident)
        await _press(stack, draft, "statement_approve", "wang.fang", incident.channel_id)
    finally:
        await runner.cleanup()
    assert len(received) == 3  # two 503s, then delivered
    headers, body = received[-1]
    expected = hmac.new(b"s3cret-for-tests", headers["X-Yingji-Timestamp"].encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Yingji-Signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["outlet"] == "banner" and payload["version"] == 1 and payload["text"]
    assert "第 3 次" in _thread(stack, incident.channel_id, (await statements_in_db(stack))[-1])
    assert "statement_delivered" in await timeline_kinds(stack, incident.id)



async def test_next_update_reminder_fires_and_a_newer_statement_replaces_it(shop: LocalStack) -> None:
    sb = shop.sandbox
    incident = await declare(shop)

    def reminders() -> list[dict]:
        return [m for m in sb.messages(incident.channel_id) if ":loudspeaker:" in str(m.get("text"))]

    v1 = await draft_statement(shop, incident, seconds=6)
    await _press(shop, v1, "statement_approve", "wang.fang", incident.channel_id)
    v1_due = datetime.fromisoformat((await statements_in_db(shop))[-1].facts["next_update_at"])
    assert await shop.rt.scheduler.next_run(f"statement-update:{incident.id}") == v1_due
    v2 = await draft_statement(shop, incident, text="statement identified", stage="identified", seconds=600)
    await _press(shop, v2, "statement_approve", "wang.fang", incident.channel_id)
    assert utcnow() < v1_due, "the test machine was too slow to replace v1's reminder in time"
    v2_due = datetime.fromisoformat((await statements_in_db(shop))[-1].facts["next_update_at"])
    assert await shop.rt.scheduler.next_run(f"statement-update:{incident.id}") == v2_due  # replaced
    wait = (v1_due - utcnow()).total_seconds() + 1.5
    assert not await wait_for(lambda: bool(reminders()), seconds=wait)  # v1's promise no longer fires
    v3 = await draft_statement(shop, incident, text="statement monitoring", stage="monitoring", seconds=2)
    await _press(shop, v3, "statement_approve", "wang.fang", incident.channel_id)
    assert await wait_for(lambda: bool(reminders()))
    await shop.settle()
    [reminder] = reminders()
    assert "v3" in reminder["text"] and "/incident statement" in reminder["text"]
    assert "update_due" in await timeline_kinds(shop, incident.id)


async def test_a_statement_form_that_fails_inside_tells_the_author_and_keeps_nothing(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The form is acknowledged (Slack closes it), nothing is stored, and its author gets a message saying so."""

    async def broken(rt: object, body: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(statement_commands, "submit_form", broken)
    stack = await make_stack(config=statement_config)
    incident = await declare(stack)
    await in_channel(stack, incident, "statement")
    view_id = [k for k, v in stack.sandbox.views.items() if v.get("callback_id") == "statement_form"][-1]
    submitted = await stack.actor.submit_view(view_id, stack.users["zhang.wei"], values={})
    await stack.settle()
    assert submitted.status == 200
    assert any("yingji 内部出错" in str(m.get("text")) for m in stack.sandbox.dms(stack.users["zhang.wei"]))
    async with stack.rt.sessions() as session:
        assert not (await session.exec(select(Statement))).all()
    assert stack.rt.tasks.failures == 0
