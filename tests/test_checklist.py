"""The checklist: posted at declaration, completed in place, reminded when late, across restarts."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlmodel import select

from bot.models import Step, TimelineEvent
from bot.playbooks import SHIPPED_DIR, load_playbooks
from tests.helpers import Database, StackFactory, declare, fast_playbooks, in_channel, timeline_kinds
from yingji.cli import main
from yingji.local import LocalStack


def _checklists(stack: LocalStack, channel_id: str) -> list[dict]:
    return [m for m in stack.sandbox.messages(channel_id) if "step_done" in str(m.get("blocks"))
            or "处置清单" in str(m.get("blocks"))]


async def _steps(stack: LocalStack, incident_id: int) -> list[Step]:
    async with stack.rt.sessions() as session:
        return list((await session.exec(select(Step).where(Step.incident_id == incident_id).order_by(Step.number))).all())


async def test_checklist_is_posted_grouped_by_phase_with_done_buttons(stack: LocalStack) -> None:
    incident = await declare(stack)
    playbook = load_playbooks([SHIPPED_DIR])["payment-failure"]
    [checklist] = _checklists(stack, incident.channel_id)
    blocks = checklist["blocks"]
    buttons = [b for b in blocks if b.get("accessory", {}).get("action_id") == "step_done"]
    choices = [b for b in blocks if b.get("accessory", {}).get("action_id") == "legal_grade_pick"]
    assert len(buttons) == len([s for s in playbook.steps if s.asks is None])  # a Done button on every other step
    assert len(choices) == len(playbook.grading_steps()) == 1  # the grading step is done by picking the grade
    phase_titles = [b["elements"][0]["text"] for b in blocks if b["type"] == "context"]
    assert phase_titles[0] == "*发现*" and phase_titles[-1] == "*复盘*"
    first = buttons[0]["text"]["text"]
    assert first.startswith(":white_large_square: *1.*") and "截止" in first and "技术支持" in first
    assert all(s.message_ts == checklist["ts"] for s in await _steps(stack, incident.id))
    assert await stack.rt.scheduler.job_ids()  # reminders are waiting in the job store


async def test_reminders_are_scheduled_without_a_log_line_each(stack: LocalStack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    incident = await declare(stack)
    await in_channel(stack, incident, "done 1")  # one reminder cancelled, the rest stay scheduled
    assert len(await stack.rt.scheduler.job_ids()) > 1
    chatter = [r.getMessage() for r in caplog.records if r.name.startswith("apscheduler") and r.levelno < logging.WARNING]
    assert chatter == []


async def test_long_checklists_are_split_under_the_block_limit(make_stack: StackFactory, tmp_path: Path) -> None:
    directory = fast_playbooks(tmp_path / "pb", {}, extra_steps={"payment-failure": 70})
    stack = await make_stack(config={"playbooks_dir": str(directory)})
    incident = await declare(stack)
    parts = _checklists(stack, incident.channel_id)
    assert len(parts) == 2 and all(len(m["blocks"]) <= 50 for m in parts)
    steps = await _steps(stack, incident.id)
    assert len(steps) == 85 and {s.message_ts for s in steps} == {m["ts"] for m in parts}
    await in_channel(stack, incident, "done 80")
    assert ":white_check_mark: ~80." in str(_checklists(stack, incident.channel_id)[1]["blocks"])


async def test_done_updates_the_checklist_in_place_and_records_it(stack: LocalStack) -> None:
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack)
    count = len(sb.messages(incident.channel_id))
    reply = await in_channel(stack, incident, "done 2 已联系支付宝技术支持，工单 #8812")
    assert "第 2 项完成" in reply.text
    assert len(sb.messages(incident.channel_id)) == count
    [checklist] = _checklists(stack, incident.channel_id)
    assert ":white_check_mark: ~2." in str(checklist["blocks"]) and "工单 #8812" in str(checklist["blocks"])
    async with stack.rt.sessions() as session:
        [event] = (await session.exec(select(TimelineEvent).where(TimelineEvent.kind == "step_done"))).all()
    assert event.actor == u["zhang.wei"] and event.data["note"] == "已联系支付宝技术支持，工单 #8812"
    again = await in_channel(stack, incident, "done 2", user="li.na")
    assert "已由" in again.text and f"<@{u['zhang.wei']}>" in again.text
    missing = await in_channel(stack, incident, "done 99")
    assert "没有第 99 项" in missing.text and "1–15" in missing.text
    wrong = await in_channel(stack, incident, "done two")
    assert "不是步骤编号" in wrong.text
    assert (await timeline_kinds(stack, incident.id)).count("step_done") == 1
    listed = (await in_channel(stack, incident, "steps")).text
    assert listed.index("*1.*") < listed.index("~2.")  # open steps first


async def test_done_button(stack: LocalStack) -> None:
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack)
    [checklist] = _checklists(stack, incident.channel_id)
    step = (await _steps(stack, incident.id))[0]
    await stack.actor.join(incident.channel_id, u["li.na"])  # pressing Done takes being in the channel
    pressed = await stack.actor.block_action(u["li.na"], "step_done", value=str(step.id),
                                             channel_id=incident.channel_id, message_ts=checklist["ts"])
    assert pressed.status == 200
    await stack.settle()
    assert (await _steps(stack, incident.id))[0].done_by == u["li.na"]
    assert f"step:{step.id}" not in await stack.rt.scheduler.job_ids()  # its reminder is cancelled
    await stack.actor.block_action(u["zhang.wei"], "step_done", value=str(step.id),
                                   channel_id=incident.channel_id, message_ts=checklist["ts"])
    await stack.settle()
    assert any("已由" in str(r.get("text")) for r in sb.responses)
    assert (await _steps(stack, incident.id))[0].done_by == u["li.na"]


async def _wait_for(predicate, seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached")


def _reminders(stack: LocalStack, channel_id: str) -> list[dict]:
    return [m for m in stack.sandbox.messages(channel_id) if ":alarm_clock:" in str(m.get("text"))]


async def test_an_overdue_step_is_reminded_once_and_a_done_one_never(make_stack: StackFactory, tmp_path: Path) -> None:
    directory = fast_playbooks(tmp_path / "pb", {"payment-failure": {"identify-channel": 0.02, "contact-provider": 0.04}})
    stack = await make_stack(config={"playbooks_dir": str(directory)})
    u = stack.users
    incident = await declare(stack)
    await in_channel(stack, incident, f"role tech <@{u['chen.jie']}>")
    await in_channel(stack, incident, "done 2")  # contact-provider, due in 2.4 s, done in time

    async def reminded() -> bool:
        return len(_reminders(stack, incident.channel_id)) >= 1

    await _wait_for(reminded)
    await asyncio.sleep(3)  # past the second step's deadline too
    await stack.settle()
    [reminder] = _reminders(stack, incident.channel_id)
    assert "第 1 项已超时" in reminder["text"] and f"<@{u['chen.jie']}>" in reminder["text"]
    kinds = await timeline_kinds(stack, incident.id)
    assert kinds.count("step_overdue") == 1


async def test_reminder_survives_a_restart(tmp_path: Path, database: Database) -> None:
    directory = fast_playbooks(tmp_path / "pb", {"payment-failure": {"identify-channel": 0.05}})
    stack = await LocalStack.start(tmp_path / "bot", config={"playbooks_dir": str(directory)})
    incident = await declare(stack)
    sb = stack.sandbox
    await stack.stop(keep_sandbox=True)  # down before the step falls due (3 s)
    await asyncio.sleep(3.5)
    assert _reminders(stack, incident.channel_id) == []
    restarted = await LocalStack.start(tmp_path / "bot", sandbox=sb, config={"playbooks_dir": str(directory)})
    try:
        async def reminded() -> bool:
            return len(_reminders(restarted, incident.channel_id)) >= 1

        await _wait_for(reminded)
        await restarted.settle()
        assert len(_reminders(restarted, incident.channel_id)) == 1
        assert "第 1 项已超时" in _reminders(restarted, incident.channel_id)[0]["text"]
        assert "未指定" in _reminders(restarted, incident.channel_id)[0]["text"]  # no tech, no commander
    finally:
        await restarted.stop()


def test_playbooks_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["playbooks", "check"]) == 0
    assert "20 playbooks" in capsys.readouterr().out
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "payment-failure.yaml").write_text((SHIPPED_DIR / "payment-failure.yaml").read_text().replace("owner: tech", "owner: janitor", 1))
    assert main(["playbooks", "check", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "payment-failure.yaml" in out and "steps.0.owner" in out and "janitor" in out
