"""Editing a maintenance window (issue 24): after comms asks for changes, its drafter presses Edit on the review
message, gets the form filled in with the window's values, and submits it: the same window changes, the change is
on the window's own timeline (who, when, each field's old and new value) before the review message is redrawn with
the new values, and the change request it answers leaves that message so an approver may approve. Anyone else,
or an approved or cancelled window, is refused by the one policy and nothing changes; the same submission twice
changes it once; the values are checked as a draft's are. Through signed requests, on both databases."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.models import Maintenance, SlackOp
from tests.helpers import StackFactory
from tests.test_maintenance import (
    EN,
    ZH,
    _actions,
    _config,
    _draft,
    _events,
    _message,
    _press,
    _said,
    _soon,
    _thread,
    _values,
    _windows,
)
from yingji.local import LocalStack

EDIT_FORM = "maintenance_edit_form"


@pytest.fixture
async def shop(make_stack: StackFactory) -> LocalStack:
    return await make_stack(config=_config)


def _edit_forms(stack: LocalStack) -> list[str]:
    return [k for k, v in stack.sandbox.views.items() if v.get("callback_id") == EDIT_FORM]


async def _edit_form(stack: LocalStack, window: Maintenance, user: str = "zhang.wei") -> str:
    """`user` presses Edit on the review message; the edit form it opened."""
    before = _edit_forms(stack)
    await _press(stack, window, "maintenance_edit", user)
    [opened] = [view for view in _edit_forms(stack) if view not in before]
    return opened


async def _ask_changes(stack: LocalStack, window: Maintenance, comment: str) -> None:
    await _press(stack, window, "maintenance_changes", "wang.fang")
    view_id = [k for k, v in stack.sandbox.views.items() if v.get("callback_id") == "maintenance_changes_form"][-1]
    sent = await stack.actor.submit_view(view_id, stack.users["wang.fang"], values={"comment": {"value": comment}})
    assert not (sent.json or {}).get("errors"), sent.body
    await stack.settle()


async def _send(stack: LocalStack, view_id: str, values: dict[str, Any], user: str = "zhang.wei") -> dict[str, Any]:
    """Submit the edit form; the form's errors by field (none: it closed)."""
    reply = await stack.actor.submit_view(view_id, stack.users[user], values=values)
    await stack.settle()
    assert reply.status == 200, reply.body
    return (reply.json or {}).get("errors") or {}


async def test_the_drafter_edits_after_changes_were_requested_and_comms_approves(shop: LocalStack) -> None:
    window = await _draft(shop)
    await _ask_changes(shop, window, "请写明影响哪些银行")
    assert "请写明影响哪些银行" in str(_message(shop, window)["blocks"])
    assert _actions(_message(shop, window)) == ["maintenance_approve", "maintenance_changes", "maintenance_edit",
                                                "maintenance_cancel"]
    view_id = await _edit_form(shop, window)
    view = shop.sandbox.views[view_id]
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert json.loads(view["private_metadata"]) == {"maintenance": window.id}
    assert blocks["starts_at"]["element"]["initial_date_time"] == int(window.starts_at.timestamp())
    assert blocks["ends_at"]["element"]["initial_date_time"] == int(window.ends_at.timestamp())
    assert [o["value"] for o in blocks["components"]["element"]["initial_options"]] == ["payment"]
    assert (blocks["text_zh"]["element"]["initial_value"], blocks["text_en"]["element"]["initial_value"]) == (ZH, EN)

    start, end = _soon(hours=4)
    english = "Nov 10, 23:00 to 02:00 (UTC+8): ICBC and CCB card payments may fail. Please retry later."
    assert await _send(shop, view_id, _values(start, end, components=("payment", "checkout"), en=english)) == {}
    for retry in (None, 1):  # the same submission again, byte for byte and as Slack's retry
        assert (await shop.actor.replay(retry_num=retry)).status == 200
        await shop.settle()
    [edited] = await _windows(shop)
    assert (edited.id, edited.status, edited.starts_at, edited.ends_at) == (window.id, "draft", start, end)
    assert edited.components == ["payment", "checkout"] and edited.text == {"zh": ZH, "en": english}
    [event] = [e for e in await _events(shop, window.id) if e.kind == "maintenance_edited"]
    assert event.actor == shop.users["zhang.wei"] and event.at.tzinfo is not None
    changes = event.data["changes"]
    assert set(changes) == {"starts_at", "ends_at", "components", "text_en"}
    assert datetime.fromisoformat(changes["starts_at"]["from"]) == window.starts_at
    assert datetime.fromisoformat(changes["starts_at"]["to"]) == start
    assert changes["components"] == {"from": ["payment"], "to": ["payment", "checkout"]}
    assert changes["text_en"] == {"from": EN, "to": english}
    async with shop.rt.sessions() as session:  # the timeline first: the redraw was queued with the change, then ran
        [redraw] = (await session.exec(select(SlackOp).where(SlackOp.kind == "redraw_maintenance")
                                       .order_by(col(SlackOp.id).desc()))).all()[:1]
    assert redraw.status == "done" and redraw.created_at >= event.at and redraw.done_at and redraw.done_at > event.at

    shown = str(_message(shop, edited)["blocks"])
    assert "ICBC and CCB" in shown and "支付、下单" in shown and "请写明影响哪些银行" not in shown  # answered
    assert _thread(shop, edited).count(f"修改了维护 #{window.id}：开始时间、结束时间、受影响的组件、英文通知") == 1
    said = _said(shop, "zhang.wei")
    assert said.count(f"维护 #{window.id} 已修改") == 1 and "和你提交的内容一样" not in said  # a replay is no new request

    again = await _edit_form(shop, edited)  # a fresh form sent back as it came: nothing to change
    assert await _send(shop, again, _values(start, end, components=("payment", "checkout"), en=english)) == {}
    assert f"维护 #{window.id} 和你提交的内容一样" in _said(shop, "zhang.wei")
    assert [e.kind for e in await _events(shop, window.id)].count("maintenance_edited") == 1

    await _ask_changes(shop, edited, "再补充中文")  # a new request shows until it too is answered
    assert "再补充中文" in str(_message(shop, edited)["blocks"])
    await _press(shop, edited, "maintenance_approve", "wang.fang")
    [approved] = await _windows(shop)
    assert (approved.status, approved.approved_by, approved.text["en"]) == ("approved", shop.users["wang.fang"], english)


async def test_only_its_drafter_may_edit_and_only_a_draft(shop: LocalStack) -> None:
    window, dropped = await _draft(shop), await _draft(shop, hours=6)
    left_open = await _edit_form(shop, window)
    for user in ("liu.yang", "wang.fang"):  # someone else; comms, who asks for changes rather than rewriting them
        before = len(_edit_forms(shop))
        await _press(shop, window, "maintenance_edit", user)
        assert len(_edit_forms(shop)) == before and "只有起草人可以修改" in _said(shop, user), user
    errors = await _send(shop, left_open, _values(*_soon(hours=2), zh="别人改的"), user="liu.yang")  # a form passed on
    assert "只有起草人可以修改" in errors["text_zh"]

    await _press(shop, window, "maintenance_approve", "wang.fang")
    await _press(shop, window, "maintenance_edit", "zhang.wei")
    assert "已经批准或取消，不能再修改" in _said(shop, "zhang.wei")
    errors = await _send(shop, left_open, _values(*_soon(hours=2), zh="批准后改的"))  # the form left open
    assert "已经批准或取消" in errors["text_zh"]
    await _press(shop, dropped, "maintenance_cancel", "zhang.wei")
    before = len(_edit_forms(shop))
    await _press(shop, dropped, "maintenance_edit", "zhang.wei")
    assert len(_edit_forms(shop)) == before

    windows = await _windows(shop)
    assert [(w.status, w.text["zh"]) for w in windows] == [("approved", ZH), ("cancelled", ZH)]
    events = await _events(shop)
    assert not [e for e in events if e.kind == "maintenance_edited"]
    refused: Counter[tuple[int, str]] = Counter()
    for event in events:
        if event.kind == "refused" and event.data["action"] == "edit_maintenance":
            refused[(event.maintenance_id, event.actor)] += event.data["count"]
    u = shop.users
    assert refused == {(window.id, u["liu.yang"]): 2, (window.id, u["wang.fang"]): 1, (window.id, u["zhang.wei"]): 2,
                       (dropped.id, u["zhang.wei"]): 1}, refused
    assert _actions(_message(shop, windows[0])) == ["maintenance_cancel"]  # no Edit once approved


async def test_an_edit_is_checked_as_a_draft_is_and_changes_nothing_when_wrong(shop: LocalStack) -> None:
    window = await _draft(shop)
    view_id = await _edit_form(shop, window)
    start, end = _soon()
    cases = [
        (_values(start, start - timedelta(minutes=1)), "ends_at", "晚于开始时间"),
        (_values(start, end, components=("payment", "warehouse")), "components", "warehouse"),
        (_values(start, end, en=""), "text_en", "中英文"),
        ({**_values(start, end), "starts_at": {"value": "tomorrow"}}, "starts_at", "请选择日期和时间"),
    ]
    for values, field, why in cases:
        errors = await _send(shop, view_id, values)
        assert why in errors.get(field, ""), (field, errors)
    [unchanged] = await _windows(shop)
    assert (unchanged.starts_at, unchanged.components, unchanged.text) == (window.starts_at, ["payment"],
                                                                           {"zh": ZH, "en": EN})
    assert [e.kind for e in await _events(shop)] == ["maintenance_drafted"]
    assert await _send(shop, view_id, _values(start, end, zh="改正后的中文通知")) == {}  # corrected: a new request
    [fixed] = await _windows(shop)
    assert fixed.text["zh"] == "改正后的中文通知"
