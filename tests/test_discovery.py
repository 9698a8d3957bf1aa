"""When the problem was discovered: given in the declare form or by `/incident discovered <when>`, checked (not after
the declaration, not more than 30 days before it), on the timeline, and what the law's clocks and the time-to
figures run from. Through signed requests, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import summary
from bot.db import utcnow
from bot.models import Incident
from bot.review import metrics
from bot.slack.summary_view import render
from bot.timers import ClockState, clocks
from bot.times import when
from tests.helpers import StackFactory, declare, events, in_channel, incidents_in_db, timeline_kinds
from yingji.local import LocalStack

BREACH = {"regulatory": ["other-operator"]}  # data-breach's 4-hour CAC report clock applies (graded 较大 and above)


def _breach(users: dict[str, str]) -> dict[str, Any]:
    """A deployment where the 4-hour clock applies, with chen.jie holding legal to grade the breach."""
    return {**BREACH, "default_roles": {"legal": users["chen.jie"]}}
FOUR_HOURS = "cn-report-other"


async def _incident(stack: LocalStack, incident_id: int) -> Incident:
    async with stack.rt.sessions() as session:
        found = await session.get(Incident, incident_id)
        assert found is not None
        return found


async def _open_form(stack: LocalStack) -> tuple[str, dict[str, Any]]:
    alice = stack.users["zhang.wei"]
    await stack.actor.slash("/incident", "declare", user_id=alice, channel_id=stack.channels["general"])
    await stack.settle()
    [(view_id, view)] = [(vid, v) for vid, v in stack.sandbox.views.items() if v.get("callback_id") == "declare_form"]
    return view_id, view


async def _submit(stack: LocalStack, view_id: str, discovered: Any, *, playbook: str = "data-breach",
                  severity: str = "sev2", options: list[str] | None = None):
    values: dict[str, Any] = {
        "title": {"value": "会员地址接口越权"}, "playbook": {"value": playbook}, "severity": {"value": severity},
        "options": {"value": options or []},
    }
    if discovered is not None:
        values["discovered"] = {"value": discovered}
    reply = await stack.actor.submit_view(view_id, stack.users["zhang.wei"], values=values)
    await stack.settle()
    return reply


async def _declare_discovered(stack: LocalStack, before: timedelta, **kwargs: Any) -> tuple[Incident, datetime]:
    """Declare a breach through the form, saying it was discovered `before` ago; the incident and its discovery."""
    view_id, _ = await _open_form(stack)
    picked = int(utcnow().timestamp() - before.total_seconds())
    reply = await _submit(stack, view_id, picked, **kwargs)
    assert reply.status == 200 and not reply.json, reply.text
    incident = (await incidents_in_db(stack))[-1]
    await in_channel(stack, incident, "grade 较大", user="chen.jie")  # the CAC clocks wait for legal's grade, then run from discovery
    return incident, datetime.fromtimestamp(picked, incident.declared_at.tzinfo)


async def _clock(stack: LocalStack, incident: Incident, clock_id: str) -> ClockState:
    async with stack.rt.sessions() as session:
        facts = await summary.gather(session, incident)
    return next(c for c in clocks(facts.events) if c.clock == clock_id)


async def _snapshot(stack: LocalStack, incident_id: int) -> tuple[datetime | None, list[str]]:
    incident = await _incident(stack, incident_id)
    kinds = [k for k in await timeline_kinds(stack, incident_id) if k != "refused"]
    return incident.discovered_at, kinds


# -- the declare form ---------------------------------------------------------------------------------------------


async def test_the_form_asks_when_it_was_discovered_defaulting_to_now(stack: LocalStack) -> None:
    view_id, view = await _open_form(stack)
    [block] = [b for b in view["blocks"] if b.get("block_id") == "discovered"]
    opened = json.loads(view["private_metadata"])["opened"]
    assert block["optional"] is True and block["element"]["type"] == "datetimepicker"
    assert block["element"]["initial_date_time"] == opened and abs(opened - utcnow().timestamp()) < 60
    reply = await _submit(stack, view_id, opened)  # left as it opened: discovered now, at the declaration
    assert reply.status == 200 and not reply.json
    [incident] = await incidents_in_db(stack)
    assert incident.discovered_at is None
    assert not [e for e in await events(stack, incident.id, "clock_started") if e.data["clock"] == FOUR_HOURS]


async def test_the_form_records_the_discovery_and_the_clocks_run_from_it(make_stack: StackFactory) -> None:
    stack = await make_stack(config=_breach)
    incident, found = await _declare_discovered(stack, timedelta(hours=2, minutes=30))
    assert incident.discovered_at == found
    [declared] = await events(stack, incident.id, "declared")
    assert declared.data["discovered"] == found.isoformat()
    [started] = [e for e in await events(stack, incident.id, "clock_started") if e.data["clock"] == FOUR_HOURS]
    assert datetime.fromisoformat(started.data["started"]) == found
    assert datetime.fromisoformat(started.data["deadline"]) == found + timedelta(hours=4)
    clock = await _clock(stack, incident, FOUR_HOURS)
    index = clock.index
    run = await stack.rt.scheduler.next_run(f"clock:{incident.id}:{index}:100")
    assert run is not None and abs(run - (found + timedelta(hours=4))) < timedelta(seconds=1)
    left = clock.deadline - incident.declared_at  # found at 01:00, declared at 03:30: 1.5 h of the 4 h are left
    assert timedelta(hours=1, minutes=29) < left <= timedelta(hours=1, minutes=30)
    header = next(m for m in stack.sandbox.messages(incident.channel_id) if m["ts"] == incident.header_ts)
    assert "发现时间" in str(header["blocks"]) and when(found, stack.rt.settings.tz) in str(header["blocks"])


async def test_the_form_refuses_a_discovery_in_the_future_or_too_long_ago(stack: LocalStack) -> None:
    view_id, _ = await _open_form(stack)
    later = await _submit(stack, view_id, int(utcnow().timestamp()) + 3600)
    assert later.json["response_action"] == "errors"
    assert set(later.json["errors"]) == {"discovered"} and "晚于现在" in later.json["errors"]["discovered"]
    old = await _submit(stack, view_id, int((utcnow() - timedelta(days=31)).timestamp()))
    assert old.json["response_action"] == "errors" and "30 天" in old.json["errors"]["discovered"]
    garbled = await _submit(stack, view_id, "yesterday")
    assert garbled.json["response_action"] == "errors" and "日期和时间" in garbled.json["errors"]["discovered"]
    assert await incidents_in_db(stack) == []
    within = await _submit(stack, view_id, int((utcnow() - timedelta(days=29)).timestamp()))
    assert not within.json
    [incident] = await incidents_in_db(stack)
    assert incident.discovered_at is not None and incident.declared_at - incident.discovered_at > timedelta(days=28)


# -- /incident discovered -----------------------------------------------------------------------------------------


async def test_the_command_takes_a_time_today_a_date_and_time_or_minutes_and_hours_before_now(stack: LocalStack) -> None:
    incident = await declare(stack, "declare sev2 payment-failure 支付宝回调超时")
    tz = stack.rt.settings.tz
    local = incident.declared_at.astimezone(tz).replace(second=0, microsecond=0)

    reply = await in_channel(stack, incident, f"discovered {local:%H:%M}")  # today, in the team's zone
    assert (await _incident(stack, incident.id)).discovered_at == local
    assert when(local, tz) in reply.text and "INC-1" in reply.text

    earlier = local - timedelta(days=2, hours=3)
    reply = await in_channel(stack, incident, f"discovered {earlier:%Y-%m-%d %H:%M}")
    assert (await _incident(stack, incident.id)).discovered_at == earlier
    assert "2 天 3 小时" in reply.text  # how long before the declaration

    before = utcnow()
    await in_channel(stack, incident, "discovered -90m")
    found = (await _incident(stack, incident.id)).discovered_at
    assert found is not None and before - timedelta(minutes=90) <= found <= utcnow() - timedelta(minutes=90)

    await in_channel(stack, incident, "discovered -3h")
    found = (await _incident(stack, incident.id)).discovered_at
    assert found is not None and abs(utcnow() - timedelta(hours=3) - found) < timedelta(seconds=30)

    sets = await events(stack, incident.id, "discovered_set")
    assert len(sets) == 4 and all(e.actor == stack.users["zhang.wei"] for e in sets)
    assert sets[0].data == {"from": None, "to": local.astimezone(UTC).isoformat()}
    assert sets[1].data == {"from": local.astimezone(UTC).isoformat(), "to": earlier.astimezone(UTC).isoformat()}
    assert sets[-1].data["to"] == found.isoformat()
    assert "→" in sets[1].text and when(earlier, tz) in sets[1].text

    same = await in_channel(stack, incident, f"INC-1 discovered {earlier:%Y-%m-%d %H:%M}")
    await in_channel(stack, incident, f"discovered {earlier:%Y-%m-%d %H:%M}")
    again = await in_channel(stack, incident, f"discovered {earlier:%Y-%m-%d %H:%M}")
    assert "已是" in again.text and same.status == 200
    assert len(await events(stack, incident.id, "discovered_set")) == 5  # the repeat recorded nothing
    timeline = str((await in_channel(stack, incident, "timeline")).message["blocks"])
    assert "发现时间" in timeline and when(earlier, tz) in timeline
    header = next(m for m in stack.sandbox.messages(incident.channel_id) if m["ts"] == incident.header_ts)
    assert when(earlier, tz) in str(header["blocks"])  # the header was redrawn with it


async def test_each_refusal_changes_nothing_and_says_why(stack: LocalStack) -> None:
    incident = await declare(stack, "declare sev2 payment-failure 支付宝回调超时")
    await in_channel(stack, incident, "discovered -20m")
    before = await _snapshot(stack, incident.id)
    tomorrow = (utcnow() + timedelta(days=1)).astimezone(stack.rt.settings.tz)

    future = await in_channel(stack, incident, f"discovered {tomorrow:%Y-%m-%d %H:%M}")
    assert "晚于宣布时间" in future.text and "未做任何更改" in future.text
    now_ = await in_channel(stack, incident, "discovered -0m")  # after the declaration, a moment ago
    assert "晚于宣布时间" in now_.text
    old = await in_channel(stack, incident, "discovered -745h")  # 31 days
    assert "30 天以上" in old.text and "未做任何更改" in old.text
    for garbled in ("yesterday", "25:00", "2026-02-30 10:00", "-3d", "-", "14:5"):
        reply = await in_channel(stack, incident, f"discovered {garbled}")
        assert "无法识别" in reply.text and "/incident discovered" in reply.text, garbled
    missing = await in_channel(stack, incident, "discovered")
    assert "/incident discovered" in missing.text
    outsider = await stack.actor.slash("/incident", "discovered INC-1 -30m", user_id=stack.users["guest"],
                                       channel_id=stack.channels["general"])
    await stack.settle()
    assert "只有事件频道里的人可以设置发现时间" in outsider.text
    assert await _snapshot(stack, incident.id) == before
    assert (await timeline_kinds(stack, incident.id)).count("refused") == 1  # the outsider's, recorded once


async def test_a_full_width_colon_and_a_key_from_elsewhere_work(stack: LocalStack) -> None:
    incident = await declare(stack, "declare sev3 payment-failure 退款延迟")
    tz = stack.rt.settings.tz
    local = incident.declared_at.astimezone(tz).replace(second=0, microsecond=0)
    reply = await stack.actor.slash("/incident", f"discovered INC-1 {local:%H}：{local:%M}", user_id=stack.users["zhang.wei"],
                                    channel_id=stack.channels["general"])
    await stack.settle()
    assert "INC-1" in reply.text
    assert (await _incident(stack, incident.id)).discovered_at == local


# -- the clocks, the summary and the figures ---------------------------------------------------------------------


async def test_found_at_one_declared_at_half_past_three_leaves_an_hour_and_a_half(make_stack: StackFactory) -> None:
    stack = await make_stack(config=_breach)
    incident, found = await _declare_discovered(stack, timedelta(hours=2, minutes=30))
    tz = stack.rt.settings.tz
    deadline = found + timedelta(hours=4)
    async with stack.rt.sessions() as session:
        facts = await summary.gather(session, incident)
    text = render(facts, tz, found + timedelta(hours=2, minutes=30))  # 03:30, for a breach found at 01:00
    assert f"剩余 1 小时 30 分（截止 {when(deadline, tz)}）" in text
    assert f"*发现* {when(found, tz)}" in text
    late = render(facts, tz, deadline + timedelta(minutes=20))
    assert f"已超时 20 分钟（截止 {when(deadline, tz)}）" in late
    said = (await in_channel(stack, incident, "summary")).text  # the same, through the command, a moment later
    assert f"（截止 {when(deadline, tz)}）" in said and ("剩余 1 小时 29 分" in said or "剩余 1 小时 30 分" in said)


async def test_correcting_the_discovery_moves_the_clocks_and_their_reminders(make_stack: StackFactory) -> None:
    stack = await make_stack(config=_breach)
    incident = await declare(stack, "declare sev2 data-breach 订单导出接口越权")
    await in_channel(stack, incident, "grade 较大", user="chen.jie")  # the CAC clocks wait for legal's grade
    clock = await _clock(stack, incident, FOUR_HOURS)
    assert clock.started == incident.declared_at  # nobody said when it was discovered: from the declaration
    run = await stack.rt.scheduler.next_run(f"clock:{incident.id}:{clock.index}:100")
    assert run is not None and abs(run - (incident.declared_at + timedelta(hours=4))) < timedelta(seconds=1)

    await in_channel(stack, incident, "discovered -150m")
    found = (await _incident(stack, incident.id)).discovered_at
    assert found is not None
    moved = await _clock(stack, incident, FOUR_HOURS)
    assert (moved.started, moved.deadline) == (found, found + timedelta(hours=4))
    for percent, share in ((50, 0.5), (90, 0.9), (100, 1.0)):
        run = await stack.rt.scheduler.next_run(f"clock:{incident.id}:{clock.index}:{percent}")
        if percent == 50:  # two of the four hours were already gone: that reminder is due at once, or was sent
            continue
        assert run is not None and abs(run - (found + timedelta(hours=4) * share)) < timedelta(seconds=1), percent
    said = (await in_channel(stack, incident, "summary")).text
    assert f"（截止 {when(found + timedelta(hours=4), stack.rt.settings.tz)}）" in said

    await in_channel(stack, incident, "discovered -30m")  # corrected again, later: the clock moves back
    found = (await _incident(stack, incident.id)).discovered_at
    assert found is not None
    again = await _clock(stack, incident, FOUR_HOURS)
    assert again.deadline == found + timedelta(hours=4)
    run = await stack.rt.scheduler.next_run(f"clock:{incident.id}:{clock.index}:100")
    assert run is not None and abs(run - again.deadline) < timedelta(seconds=1)


async def test_a_reminder_due_before_a_correction_moved_it_is_not_sent_early(make_stack: StackFactory) -> None:
    from bot import reminders

    stack = await make_stack(config=_breach)
    incident = await declare(stack, "declare sev2 data-breach 订单导出接口越权")
    await in_channel(stack, incident, "grade 较大", user="chen.jie")  # the CAC clocks wait for legal's grade
    await in_channel(stack, incident, "discovered -10m")
    clock = await _clock(stack, incident, FOUR_HOURS)
    async with stack.rt.sessions() as session:  # the 90 % timer fires although 90 % has not passed
        assert await reminders.clock_due(session, incident.id, clock.index, 90) == incident.id
    await stack.settle()
    assert "clock_reminder" not in await timeline_kinds(stack, incident.id)


async def test_time_to_acknowledge_and_resolve_run_from_discovery(make_stack: StackFactory) -> None:
    stack = await make_stack(config=_breach)
    incident, found = await _declare_discovered(stack, timedelta(hours=2, minutes=30), options=["commander"])
    said = (await in_channel(stack, incident, "summary")).text
    assert "响应用时 2 小时 30 分" in said and "（从发现起算）" in said
    roles = (await in_channel(stack, incident, "roles")).text
    assert "2 小时 30 分" in roles
    await in_channel(stack, incident, "resolve 已封堵接口")
    async with stack.rt.sessions() as session:
        row = await session.get(Incident, incident.id)
        assert row is not None
        facts = await summary.gather(session, row)
    figures = metrics(facts)
    assert figures["time_to_acknowledge"] is not None and 9000 <= figures["time_to_acknowledge"] < 9060
    assert figures["time_to_resolve"] is not None and 9000 <= figures["time_to_resolve"] < 9120
    [posted] = [m for m in stack.sandbox.messages(incident.channel_id) if m.get("files")]
    assert "响应 2 小时 30 分" in posted["text"] and "解决 2 小时 3" in posted["text"]
    md = next(bytes(f["bytes"]).decode() for f in stack.sandbox.files.values() if f["name"] == "INC-1-review.md")
    assert f"发现时间：{when(found, stack.rt.settings.tz, seconds=True)}" in md and "响应用时: 2 小时 30 分" in md
