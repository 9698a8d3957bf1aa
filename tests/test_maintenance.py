"""Scheduled maintenance (issue 24): `/incident maintenance` opens a form, a valid window is a draft reviewed in a
thread, a configured comms approver who did not draft it approves, the drafter (before approval) or comms cancels;
`list` shows what is not over yet; `phase` and `shown` are what the status page reads. Through signed requests, on
both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot import maintenance as service
from bot.db import utcnow
from bot.models import Maintenance, MaintenanceEvent, SlackOp
from bot.slack import maintenance_view
from bot.vocabulary import MaintenancePhase
from tests.helpers import StackFactory
from yingji.local import LocalStack

COMPONENTS = [{"id": "checkout", "name": {"zh": "下单", "en": "Checkout"}},
              {"id": "payment", "name": {"zh": "支付", "en": "Payment"}}]
ZH = "11 月 10 日 23:00 至次日 02:00 支付渠道切换，期间部分银行卡付款可能失败，请改用支付宝或稍后再试。"
EN = "Nov 10, 23:00 to 02:00 (UTC+8): we switch payment channels; some card payments may fail. Please retry later."


def _config(users: dict[str, str]) -> dict[str, Any]:
    return {"comms_approvers": [users["wang.fang"], users["li.na"]], "status_page": {"components": COMPONENTS}}


@pytest.fixture
async def shop(make_stack: StackFactory) -> LocalStack:
    return await make_stack(config=_config)


def _values(start: datetime, end: datetime, components: tuple[str, ...] = ("payment",), zh: str = ZH,
            en: str = EN) -> dict[str, dict[str, Any]]:
    return {"starts_at": {"value": int(start.timestamp())}, "ends_at": {"value": int(end.timestamp())},
            "components": {"value": list(components)}, "text_zh": {"value": zh}, "text_en": {"value": en}}


def _soon(hours: float = 1, length: float = 3) -> tuple[datetime, datetime]:
    start = utcnow().replace(microsecond=0) + timedelta(hours=hours)
    return start, start + timedelta(hours=length)


async def _open(stack: LocalStack, user: str = "zhang.wei", channel: str | None = None) -> str:
    await stack.actor.slash("/incident", "maintenance", user_id=stack.users[user],
                            channel_id=channel or stack.channels["general"])
    await stack.settle()
    return [k for k, v in stack.sandbox.views.items() if v.get("callback_id") == "maintenance_form"][-1]


async def _submit(stack: LocalStack, values: dict[str, Any], user: str = "zhang.wei", view_id: str | None = None):
    view_id = view_id or await _open(stack, user)
    reply = await stack.actor.submit_view(view_id, stack.users[user], values=values)
    await stack.settle()
    return reply


async def _draft(stack: LocalStack, user: str = "zhang.wei", hours: float = 1) -> Maintenance:
    reply = await _submit(stack, _values(*_soon(hours)), user)
    assert reply.status == 200 and not (reply.json or {}).get("errors"), reply.body
    return (await _windows(stack))[-1]


async def _windows(stack: LocalStack) -> list[Maintenance]:
    async with stack.rt.sessions() as session:
        return list((await session.exec(select(Maintenance).order_by(col(Maintenance.id)))).all())


async def _events(stack: LocalStack, window_id: int | None = None) -> list[MaintenanceEvent]:
    async with stack.rt.sessions() as session:
        query = select(MaintenanceEvent).order_by(col(MaintenanceEvent.id))
        if window_id is not None:
            query = query.where(MaintenanceEvent.maintenance_id == window_id)
        return list((await session.exec(query)).all())


async def _press(stack: LocalStack, window: Maintenance, action: str, user: str):
    reply = await stack.actor.block_action(stack.users[user], action, value=str(window.id), channel_id=window.channel_id,
                                           message_ts=window.message_ts)
    await stack.settle()
    return reply


def _said(stack: LocalStack, user: str) -> str:
    """Everything `user` was told privately: response_url posts and DMs."""
    posts = [str(r.get("text") or "") for r in stack.sandbox.responses if r.get("user") == stack.users[user]]
    return "\n".join(posts + [str(m.get("text") or "") for m in stack.sandbox.dms(stack.users[user])])


def _message(stack: LocalStack, window: Maintenance) -> dict[str, Any]:
    return next(m for m in stack.sandbox.messages(window.channel_id or "") if m["ts"] == window.message_ts)


def _thread(stack: LocalStack, window: Maintenance) -> str:
    return "\n".join(m["text"] for m in stack.sandbox.replies(window.channel_id or "", window.message_ts or ""))


def _actions(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def test_the_form_opens_with_pickers_the_components_and_both_texts(shop: LocalStack) -> None:
    view = shop.sandbox.views[await _open(shop)]
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["starts_at"]["element"]["type"] == blocks["ends_at"]["element"]["type"] == "datetimepicker"
    assert [o["value"] for o in blocks["components"]["element"]["options"]] == ["checkout", "payment"]
    assert "下单" in str(blocks["components"]) and blocks["components"]["optional"] is True
    assert blocks["text_zh"]["element"]["max_length"] == blocks["text_en"]["element"]["max_length"] == 500
    assert not blocks["text_zh"].get("optional") and not blocks["text_en"].get("optional")


async def test_the_person_hears_when_the_form_cannot_open(shop: LocalStack) -> None:
    shop.sandbox.faults.add("views.open", "error", error="expired_trigger_id")
    reply = await shop.actor.slash("/incident", "maintenance", user_id=shop.users["liu.yang"],
                                   channel_id=shop.channels["general"])
    assert "expired_trigger_id" in reply.text and "维护表单没有打开" in reply.text


async def test_without_components_the_form_says_so_and_the_text_stands_alone(make_stack: StackFactory) -> None:
    stack = await make_stack(config=lambda users: {"comms_approvers": [users["wang.fang"]], "announce_channel": None})
    dm = stack.sandbox.im_with(stack.users["liu.yang"]).id
    typed = await stack.actor.slash("/incident", "maintenance", user_id=stack.users["liu.yang"], channel_id=dm)
    assert "没有配置公告频道" in typed.text  # no announce channel to review a DM's window in: no form
    view = stack.sandbox.views[await _open(stack)]
    assert "components" not in {b.get("block_id") for b in view["blocks"]}
    assert "status_page.components" in str(view["blocks"])
    values = _values(*_soon())
    del values["components"]
    assert not ((await _submit(stack, values)).json or {}).get("errors")
    [window] = await _windows(stack)
    assert window.components == [] and "未指定" in str(_message(stack, window)["blocks"])
    assert f"请 <@{stack.users['wang.fang']}> 批准" in _thread(stack, window)
    assert not ((await _submit(stack, values, user="wang.fang")).json or {}).get("errors")
    mine = (await _windows(stack))[-1]  # drafted by the only approver: nobody else is asked
    assert "起草人以外" in _thread(stack, mine) and f"<@{stack.users['wang.fang']}> 批准" not in _thread(stack, mine)


async def test_each_problem_is_named_on_its_field_and_nothing_is_stored(shop: LocalStack) -> None:
    start, end = _soon()
    now = utcnow()
    cases = [
        (_values(start, start - timedelta(minutes=1)), "ends_at", "晚于开始时间"),
        (_values(start, start), "ends_at", "晚于开始时间"),
        (_values(now - timedelta(minutes=30), end), "starts_at", "已经过去"),
        (_values(start, start + timedelta(days=7, minutes=1)), "ends_at", "7 天"),
        (_values(now + timedelta(days=400), now + timedelta(days=400, hours=1)), "starts_at", "365 天"),
        (_values(start, end, components=("payment", "warehouse")), "components", "warehouse"),
        (_values(start, end, zh="   "), "text_zh", "中英文"),
        (_values(start, end, en=""), "text_en", "中英文"),
        (_values(start, end, en="x" * 501), "text_en", "500"),
        ({**_values(start, end), "starts_at": {"value": "tomorrow"}}, "starts_at", "请选择日期和时间"),
    ]
    view_id = await _open(shop)
    for values, field, why in cases:
        reply = await _submit(shop, values, view_id=view_id)
        errors = (reply.json or {}).get("errors") or {}
        assert reply.json.get("response_action") == "errors" and why in errors.get(field, ""), (field, reply.json)
    assert await _windows(shop) == [] and await _events(shop) == []
    async with shop.rt.sessions() as session:
        assert not (await session.exec(select(SlackOp).where(col(SlackOp.kind).like("%maintenance%")))).all()


async def test_a_valid_window_is_one_draft_with_its_event_and_a_review_message(shop: LocalStack) -> None:
    start, end = _soon(hours=2)
    reply = await _submit(shop, _values(start, end, components=("payment", "checkout")))
    assert reply.status == 200 and not (reply.json or {}).get("errors")
    for retry in (None, 1):  # the same submission again, byte for byte and as Slack's retry
        assert (await shop.actor.replay(retry_num=retry)).status == 200
        await shop.settle()
    [window] = await _windows(shop)
    assert (window.status, window.starts_at, window.ends_at) == ("draft", start, end)
    assert window.components == ["payment", "checkout"] and window.text == {"zh": ZH, "en": EN}
    assert window.drafted_by == shop.users["zhang.wei"] and window.channel_id == shop.channels["general"]
    [event] = await _events(shop)
    assert (event.kind, event.actor, event.data["components"]) == ("maintenance_drafted", window.drafted_by,
                                                                   ["payment", "checkout"])
    assert event.at.tzinfo is not None
    message = _message(shop, window)
    assert _actions(message) == ["maintenance_approve", "maintenance_changes", "maintenance_edit", "maintenance_cancel"]
    shown = str(message["blocks"])
    assert "支付、下单" in shown and "待审批" in shown and "(UTC+8)" in shown and "支付渠道切换" in shown
    assert f"<@{shop.users['wang.fang']}>" in _thread(shop, window) and f"#{window.id}" in _thread(shop, window)
    assert _said(shop, "zhang.wei").count(f"维护 #{window.id} 已起草") == 1  # its number, for `cancel <n>`; once


async def test_comms_approves_not_the_drafter_nor_anyone_else(shop: LocalStack) -> None:
    window = await _draft(shop)
    await _press(shop, window, "maintenance_approve", "zhang.wei")
    assert "另一位 comms 审批人" in _said(shop, "zhang.wei")
    await _press(shop, window, "maintenance_approve", "liu.yang")
    assert "comms_approvers" in _said(shop, "liu.yang")
    await shop.actor.replay(retry_num=1)  # Slack's retry of the refused press: answered, not refused again
    await shop.settle()
    refused = [e for e in await _events(shop) if e.kind == "refused"]
    assert {(e.actor, e.data["action"], e.data["count"]) for e in refused} == {
        (shop.users["zhang.wei"], "approve_maintenance", 1), (shop.users["liu.yang"], "approve_maintenance", 1)}
    assert (await _windows(shop))[0].status == "draft"
    await _press(shop, window, "maintenance_approve", "wang.fang")
    for retry in (None, 1):
        await shop.actor.replay(retry_num=retry)
        await shop.settle()
    await _press(shop, window, "maintenance_approve", "wang.fang")  # a double click: two triggers
    assert "已经批准过" in _said(shop, "wang.fang")
    await _press(shop, window, "maintenance_approve", "li.na")
    assert "已经批准过了" in _said(shop, "li.na")
    [window] = await _windows(shop)
    assert (window.status, window.approved_by) == ("approved", shop.users["wang.fang"])
    kinds = [e.kind for e in await _events(shop)]
    assert kinds.count("maintenance_approved") == 1 and kinds.count("refused") == 3
    message = _message(shop, window)
    assert "已批准" in str(message["blocks"]) and _actions(message) == ["maintenance_cancel"]
    assert _thread(shop, window).count("批准了维护") == 1


async def test_comms_requests_changes_in_the_thread(shop: LocalStack) -> None:
    window = await _draft(shop)
    await _press(shop, window, "maintenance_changes", "liu.yang")
    assert "comms_approvers" in _said(shop, "liu.yang")
    assert not [v for v in shop.sandbox.views.values() if v.get("callback_id") == "maintenance_changes_form"]
    await _press(shop, window, "maintenance_changes", "wang.fang")
    view_id = [k for k, v in shop.sandbox.views.items() if v.get("callback_id") == "maintenance_changes_form"][-1]
    blank = await shop.actor.submit_view(view_id, shop.users["wang.fang"], values={"comment": {"value": "  "}})
    assert "修改什么" in blank.json["errors"]["comment"]
    sent = await shop.actor.submit_view(view_id, shop.users["wang.fang"], values={"comment": {"value": "写清楚影响哪些银行 <!channel>"}})
    assert not (sent.json or {}).get("errors")
    await shop.settle()
    [asked] = [e for e in await _events(shop) if e.kind == "maintenance_changes_requested"]
    assert asked.actor == shop.users["wang.fang"] and asked.text == "写清楚影响哪些银行 <!channel>"
    assert "写清楚影响哪些银行" in str(_message(shop, window)["blocks"])
    assert "提出修改意见" in _thread(shop, window) and "<!channel>" not in _thread(shop, window)
    assert (await _windows(shop))[0].status == "draft"


async def test_who_may_cancel(shop: LocalStack) -> None:
    draft, approved = await _draft(shop), await _draft(shop, hours=5)
    await _press(shop, approved, "maintenance_approve", "wang.fang")
    before = utcnow()
    for _ in range(2):  # two presses: one refusal counted twice (unless a minute turned between them)
        await _press(shop, draft, "maintenance_cancel", "liu.yang")
    minutes = {moment.replace(second=0, microsecond=0) for moment in (before, utcnow())}
    assert "起草人（批准前）或 comms 审批人" in _said(shop, "liu.yang")
    counts = [e.data["count"] for e in await _events(shop, draft.id) if e.kind == "refused"]
    assert sum(counts) == 2 and (len(counts) == 1 or len(minutes) == 2), counts
    await _press(shop, approved, "maintenance_cancel", "zhang.wei")  # its drafter, after approval
    assert "只有 comms 审批人可以取消" in _said(shop, "zhang.wei")
    assert [w.status for w in await _windows(shop)] == ["draft", "approved"]
    await _press(shop, draft, "maintenance_cancel", "zhang.wei")
    reply = await shop.actor.slash("/incident", f"maintenance cancel {approved.id}", user_id=shop.users["li.na"],
                                   channel_id=shop.channels["general"])
    await shop.settle()
    assert f"维护 #{approved.id} 已取消" in reply.text
    windows = await _windows(shop)
    assert [(w.status, w.cancelled_by) for w in windows] == [("cancelled", shop.users["zhang.wei"]),
                                                            ("cancelled", shop.users["li.na"])]
    assert [e.data["was"] for e in await _events(shop) if e.kind == "maintenance_cancelled"] == ["draft", "approved"]
    await _press(shop, draft, "maintenance_approve", "wang.fang")
    assert "已取消，请重新起草" in _said(shop, "wang.fang")
    assert windows[0].status == "cancelled" and "已取消" in str(_message(shop, windows[0])["blocks"])
    assert _actions(_message(shop, windows[1])) == []


async def test_list_shows_upcoming_and_active_windows_with_their_state(shop: LocalStack,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    empty = await shop.actor.slash("/incident", "maintenance list", user_id=shop.users["guest"],
                                   channel_id=shop.channels["general"])
    assert "没有安排维护" in empty.text
    now = utcnow().replace(microsecond=0)
    active = (await _submit(shop, _values(now - timedelta(minutes=2), now + timedelta(hours=1)))).status
    assert active == 200
    running, later, dropped = (await _windows(shop))[0], await _draft(shop, hours=30), await _draft(shop, hours=40)
    await _press(shop, running, "maintenance_approve", "wang.fang")
    await _press(shop, dropped, "maintenance_cancel", "zhang.wei")
    reply = await shop.actor.slash("/incident", "maintenance list", user_id=shop.users["guest"],
                                   channel_id=shop.channels["general"])
    lines = [b["text"]["text"] for b in reply.message["blocks"] if b.get("accessory")]
    assert len(lines) == 2 and f"#{running.id}* 进行中 · 已批准" in lines[0] and f"#{later.id}* 即将进行 · 待审批" in lines[1]
    buttons = [b["accessory"] for b in reply.message["blocks"] if b.get("accessory")]
    assert [(b["action_id"], b["value"]) for b in buttons] == [("maintenance_cancel", str(running.id)),
                                                               ("maintenance_cancel", str(later.id))]
    assert "支付" in lines[0] and f"#{dropped.id}" not in str(reply.message)
    monkeypatch.setattr(maintenance_view, "LISTED", 1)
    reply = await shop.actor.slash("/incident", "maintenance list", user_id=shop.users["guest"],
                                   channel_id=shop.channels["general"])
    assert len([b for b in reply.message["blocks"] if b.get("accessory")]) == 1 and "另有 1 项" in str(reply.message)


async def test_typed_in_a_direct_message_or_where_the_bot_cannot_post_it_goes_to_the_announce_channel(
        shop: LocalStack) -> None:
    dm = shop.sandbox.im_with(shop.users["zhang.wei"]).id
    secret = shop.sandbox.add_channel("pay-team", is_private=True, members=[shop.users["zhang.wei"]])
    for channel in (dm, secret):
        view_id = await _open(shop, channel=channel)
        assert not ((await _submit(shop, _values(*_soon()), view_id=view_id)).json or {}).get("errors")
    windows = await _windows(shop)
    assert [w.channel_id for w in windows] == [shop.channels["incidents"]] * 2
    assert all(w.message_ts for w in windows) and "批准或提出修改意见" in _thread(shop, windows[1])
    said = _said(shop, "zhang.wei")
    assert f"维护 #{windows[0].id} 已起草，在 <#{shop.channels['incidents']}> 审核" in said
    assert f"无法在你提交维护 #{windows[1].id} 的地方发消息，所以改在 <#{shop.channels['incidents']}> 审核" in said


def test_the_phase_at_its_edges() -> None:
    start = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    window = Maintenance(starts_at=start, ends_at=start + timedelta(hours=3), drafted_by="U1")
    second = timedelta(seconds=1)
    assert service.phase(window, start - second) == MaintenancePhase.SCHEDULED
    assert service.phase(window, start) == MaintenancePhase.ACTIVE
    assert service.phase(window, window.ends_at - second) == MaintenancePhase.ACTIVE
    assert service.phase(window, window.ends_at) == MaintenancePhase.COMPLETED


async def test_the_page_shows_approved_windows_ending_after_since_by_start(shop: LocalStack) -> None:
    later, sooner, draft = await _draft(shop, hours=30), await _draft(shop, hours=2), await _draft(shop, hours=3)
    for window in (later, sooner):
        await _press(shop, window, "maintenance_approve", "wang.fang")
    async with shop.rt.sessions() as session:
        assert [w.id for w in await service.shown(session, utcnow())] == [sooner.id, later.id]
        assert [w.id for w in await service.shown(session, sooner.ends_at)] == [later.id]  # ends exactly then: history
        assert draft.id not in [w.id for w in await service.shown(session, utcnow() - timedelta(days=1))]
