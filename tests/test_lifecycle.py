"""The lifecycle: severity, status, resolve and close, cadence, escalation, regulatory clocks, drills."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.db import utcnow
from bot.models import Incident, TimelineEvent
from bot.scheduler import fire
from tests.helpers import StackFactory, declare, in_channel, timeline_kinds, wait_for
from yingji.cli import main
from yingji.local import LocalStack


async def _incident(stack: LocalStack, incident_id: int = 1) -> Incident:
    async with stack.rt.sessions() as session:
        found = await session.get(Incident, incident_id)
        assert found is not None
        return found


def _leadership(stack: LocalStack) -> str:
    return "\n".join(m["text"] for m in stack.sandbox.messages(stack.channels["leadership"]))



async def test_severity_rules_and_leadership_notice(stack: LocalStack) -> None:
    u = stack.users
    incident = await declare(stack, "declare sev3 logistics-disruption 顺丰华东分拨中心延误")
    await in_channel(stack, incident, f"role commander <@{u['zhang.wei']}>")
    raised = await in_channel(stack, incident, "severity sev1 大促期间影响扩大", user="chen.jie")  # anyone may raise
    assert "P1 一级响应" in raised.text
    assert "INC-1" in _leadership(stack) and "顺丰华东分拨中心延误" in _leadership(stack)
    header = next(m for m in stack.sandbox.messages(incident.channel_id) if m["ts"] == incident.header_ts)
    assert "P1 一级响应" in str(header["blocks"])
    refused = await in_channel(stack, incident, "severity sev3 已缓解", user="chen.jie")
    assert "只有应急指挥" in refused.text
    no_reason = await in_channel(stack, incident, "severity sev3")
    assert "原因" in no_reason.text
    await in_channel(stack, incident, "severity 3 备用承运商已接手")
    assert (await _incident(stack)).severity == "sev3"
    async with stack.rt.sessions() as session:
        changes = (await session.exec(select(TimelineEvent).where(TimelineEvent.kind == "severity_changed"))).all()
    assert [(c.data["to"], c.data["reason"]) for c in changes] == [("sev1", "大促期间影响扩大"), ("sev3", "备用承运商已接手")]
    assert (await timeline_kinds(stack, incident.id)).count("refused") == 1
    wrong = await in_channel(stack, incident, "severity huge")
    assert "huge" in wrong.text


async def test_private_incident_raise_shows_key_and_severity_only(stack: LocalStack) -> None:
    incident = await declare(stack, "declare sev3 data-breach 合作方接口越权访问会员地址")
    await in_channel(stack, incident, "severity sev2 涉及人数超过一万")
    text = _leadership(stack)
    assert "INC-1" in text and "P2 二级响应" in text and "合作方" not in text and "会员地址" not in text


async def test_resolve_and_close_are_the_commanders_and_close_archives_later(make_stack: StackFactory) -> None:
    stack = await make_stack(config={"archive_after_days": 7})
    u = stack.users
    incident = await declare(stack)
    await in_channel(stack, incident, f"role commander <@{u['zhang.wei']}>")
    early = await in_channel(stack, incident, "close")
    assert "请先解决" in early.text
    assert "只有应急指挥" in (await in_channel(stack, incident, "close", user="li.na")).text
    await in_channel(stack, incident, "resolve 通道恢复")
    closed = await in_channel(stack, incident, "close 复盘会已开")
    assert "已关闭" in closed.text
    incident = await _incident(stack)
    run = await stack.rt.scheduler.next_run(f"archive:{incident.id}")
    assert run is not None and abs(run - (incident.closed_at + timedelta(days=7))) < timedelta(seconds=1)
    await asyncio.to_thread(fire, "archive", incident.id)  # seven days later
    await stack.settle()
    assert stack.sandbox.channels[incident.channel_id].archived
    assert "channel_archived" in await timeline_kinds(stack, incident.id)


async def test_close_never_archives_when_configured_so(make_stack: StackFactory) -> None:
    stack = await make_stack(config=lambda users: {"archive_after_days": 0, "incident_managers": [users["li.na"]]})
    incident = await declare(stack)
    await in_channel(stack, incident, "resolve done", user="li.na")  # an incident manager may resolve and close
    await in_channel(stack, incident, "close", user="li.na")
    assert (await _incident(stack)).status == "closed"
    assert await stack.rt.scheduler.next_run(f"archive:{incident.id}") is None


async def test_update_status_button(stack: LocalStack) -> None:
    incident = await declare(stack)
    await stack.actor.join(incident.channel_id, stack.users["chen.jie"])  # the form is for people in the channel
    await stack.actor.block_action(stack.users["chen.jie"], "open_status_form", value=str(incident.id),
                                   channel_id=incident.channel_id, message_ts=incident.header_ts)
    await stack.settle()
    view_id = [k for k, v in stack.sandbox.views.items() if v.get("callback_id") == "status_form"][-1]
    await stack.actor.submit_view(view_id, stack.users["chen.jie"], values={
        "status": {"value": "identified"}, "note": {"value": "定位到支付宝回调网关"}})
    await stack.settle()
    assert (await _incident(stack)).status == "identified"
    refused = await stack.actor.submit_view(view_id, stack.users["chen.jie"], values={"status": {"value": "resolved"}})
    assert refused.json["response_action"] == "errors"
    assert (await _incident(stack)).status == "identified"


async def test_cadence_reminder_fires_and_snooze_delays_it(make_stack: StackFactory) -> None:
    stack = await make_stack(config={"cadence_minutes": {"sev2": 0.05}})  # 3 seconds
    incident = await declare(stack)
    sb = stack.sandbox

    def reminders() -> list[dict]:
        return [m for m in sb.messages(incident.channel_id) if ":hourglass_flowing_sand:" in str(m.get("text"))]

    assert await wait_for(lambda: bool(reminders()))
    await stack.settle()
    reminder = reminders()[0]
    assert "cadence_snooze" in str(reminder["blocks"])
    await stack.actor.block_action(stack.users["zhang.wei"], "cadence_snooze", value=str(incident.id),
                                   channel_id=incident.channel_id, message_ts=reminder["ts"])
    await stack.settle()
    run = await stack.rt.scheduler.next_run(f"cadence:{incident.id}")
    assert run is not None and run > utcnow() + timedelta(minutes=14)
    assert "cadence_snoozed" in await timeline_kinds(stack, incident.id)
    await in_channel(stack, incident, f"role commander <@{stack.users['zhang.wei']}>")
    await in_channel(stack, incident, "resolve fixed")  # reminders stop at resolve
    assert await stack.rt.scheduler.next_run(f"cadence:{incident.id}") is None


async def test_escalation_when_no_commander(make_stack: StackFactory) -> None:
    stack = await make_stack(config=lambda users: {"escalate_after_minutes": {"sev1": 0.03}, "escalation": [users["guest"]]})
    quiet = await declare(stack, "declare sev1 site-outage homepage down")
    staffed = await declare(stack, "declare sev1 site-outage checkout down")
    await in_channel(stack, staffed, f"role commander <@{stack.users['li.na']}>")
    assert await wait_for(lambda: "INC-1" in _leadership(stack))
    await asyncio.sleep(2)
    await stack.settle()
    assert "INC-2" not in _leadership(stack).replace("INC-1", "")
    assert any("INC-1" in m["text"] for m in stack.sandbox.dms(stack.users["guest"]))
    assert "escalated" in await timeline_kinds(stack, quiet.id)
    assert "escalated" not in await timeline_kinds(stack, staffed.id)


async def test_regulatory_clocks_remind_legal_and_stop_when_done(make_stack: StackFactory) -> None:
    stack = await make_stack(config=lambda users: {"regulatory": ["other-operator", "gdpr"]})
    u = stack.users
    incident = await declare(stack, "declare sev1 data-breach 订单导出接口越权")
    await in_channel(stack, incident, f"role legal <@{u['li.na']}>")
    async with stack.rt.sessions() as session:
        started = (await session.exec(select(TimelineEvent).where(TimelineEvent.kind == "clock_started"))).all()
    ids = [e.data["clock"] for e in started]
    assert "gdpr-33" in ids and "pipl-57" in ids and not any("cii" in i for i in ids)  # configured: other operator
    gdpr = ids.index("gdpr-33")
    declared = (await _incident(stack)).declared_at
    for percent, minutes in ((50, 36 * 60), (90, 64.8 * 60), (100, 72 * 60)):  # simulated clock: read the schedule
        run = await stack.rt.scheduler.next_run(f"clock:{incident.id}:{gdpr}:{percent}")
        assert run is not None and abs(run - (declared + timedelta(minutes=minutes))) < timedelta(seconds=1)
    await asyncio.to_thread(fire, "clock_due", incident.id, gdpr, 50)  # 36 hours later
    await stack.settle()
    [reminder] = [m for m in stack.sandbox.messages(incident.channel_id) if ":stopwatch:" in str(m.get("text"))]
    assert f"<@{u['li.na']}>" in reminder["text"] and "50%" in reminder["text"]
    summary = (await in_channel(stack, incident, "summary")).text
    assert "监管时限" in summary and "剩余" in summary
    step = next(e.data["step"] for e in started if e.data["clock"] == "gdpr-33")
    async with stack.rt.sessions() as session:
        from bot.models import Step

        number = (await session.exec(select(Step).where(Step.step_key == step))).one().number
    await in_channel(stack, incident, f"done {number} 已向监管机构报告", user="li.na")
    assert await stack.rt.scheduler.next_run(f"clock:{incident.id}:{gdpr}:90") is None  # the clock stopped
    await asyncio.to_thread(fire, "clock_due", incident.id, gdpr, 90)
    await stack.settle()
    assert len([m for m in stack.sandbox.messages(incident.channel_id) if ":stopwatch:" in str(m.get("text"))]) == 1
    assert "已完成" in (await in_channel(stack, incident, "summary")).text


async def test_a_drill_end_to_end(stack: LocalStack, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    u = stack.users
    reply = await stack.actor.slash("/incident", "drill payment-failure", user_id=u["zhang.wei"],
                                    channel_id=stack.channels["general"])
    assert "INC-1" in reply.text
    await stack.settle()
    drill = await _incident(stack)
    assert drill.drill and stack.sandbox.channels[drill.channel_id].name.startswith("inc-drill-1-")
    assert "[演练]" in str(stack.sandbox.messages(drill.channel_id)[0]["blocks"])
    assert "[演练]" in stack.sandbox.messages(stack.channels["incidents"])[0]["text"]
    for role, person in (("commander", "zhang.wei"), ("tech", "chen.jie"), ("comms", "wang.fang"), ("support", "liu.yang")):
        await in_channel(stack, drill, f"role {role} <@{u[person]}>")
    await in_channel(stack, drill, "done 1")
    await in_channel(stack, drill, "done 2")
    await in_channel(stack, drill, "resolve 演练结束")
    await in_channel(stack, drill, "close")
    [card] = [m for m in stack.sandbox.messages(drill.channel_id) if ":trophy:" in str(m.get("text"))]
    assert "/100" in card["text"] and "#1" in card["text"]
    assert "drill_scored" in await timeline_kinds(stack, drill.id)
    monkeypatch.setenv("DATABASE_URL", stack.rt.settings.database_url)
    assert await asyncio.to_thread(main, ["drills"]) == 0
    out = capsys.readouterr().out
    assert "INC-1" in out and "payment-failure" in out and "2/15" in out
    assert await asyncio.to_thread(main, ["report", "--since", "1d"]) == 0
    assert "(drills excluded): 0" in capsys.readouterr().out


async def test_a_flood_of_refusals_is_one_timeline_row_with_its_count(stack: LocalStack, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """300 refused resolves from someone who is not the commander: one row (per minute) with the count, and the
    review shows it once."""
    incident = await declare(stack)
    await stack.actor.join(incident.channel_id, stack.users["liu.yang"])
    for _ in range(6):
        replies = await asyncio.gather(*(stack.actor.slash("/incident", "resolve 我来结束", user_id=stack.users["liu.yang"],
                                                            channel_id=incident.channel_id) for _ in range(50)))
        assert all("只有应急指挥" in r.text for r in replies)
    await stack.settle()
    async with stack.rt.sessions() as session:
        rows = (await session.exec(select(TimelineEvent).where(
            TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "refused"))).all()
    assert 1 <= len(rows) <= 2 and sum(r.data["count"] for r in rows) == 300  # two only across a minute's edge
    assert (await _incident(stack)).status == "investigating"
    monkeypatch.setenv("DATABASE_URL", stack.rt.settings.database_url)
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["export", incident.key or "", "--format", "md"]) == 0
    review = capsys.readouterr().out
    assert review.count("只有应急指挥") == len(rows) and "×" in review
