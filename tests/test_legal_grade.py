"""Legal's grade, not our label: legal (or a legal approver, or the commander) grades the incident against the CAC
分级指南 by command or by the grading step's choice; that answer alone starts the CN reporting clocks (较大 or above,
running from discovery) or stops them. Our own levels are P1–P4 一级–四级响应, with criteria people can read."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import select

from bot.models import Incident, Step
from bot.playbooks import SHIPPED_DIR, PlaybookError, load_playbook, load_playbooks
from tests.helpers import StackFactory, declare, events, in_channel, incidents_in_db
from yingji.local import LocalStack

CN = ("cn-report-cii", "cn-report-other")


def _config(users: dict[str, str]) -> dict[str, Any]:
    """A CII operator's deployment: both CN clocks apply. 陈杰 is legal, 王芳 a configured legal approver."""
    return {"regulatory": ["cii-operator", "other-operator", "gdpr"],
            "default_roles": {"commander": users["zhang.wei"], "legal": users["chen.jie"]},
            "legal_approvers": [users["wang.fang"]]}


@pytest.fixture
async def graded(make_stack: StackFactory) -> LocalStack:
    return await make_stack(config=_config)


async def _incident(stack: LocalStack, incident_id: int) -> Incident:
    async with stack.rt.sessions() as session:
        row = await session.get(Incident, incident_id)
        assert row is not None
        return row


async def _started(stack: LocalStack, incident_id: int) -> list[str]:
    return [str(e.data["clock"]) for e in await events(stack, incident_id, "clock_started")]


async def _clock_jobs(stack: LocalStack, incident_id: int) -> list[str]:
    return [job for job in await stack.rt.scheduler.job_ids() if job.startswith(f"clock:{incident_id}:")]


async def _grading_step(stack: LocalStack, incident_id: int) -> Step:
    async with stack.rt.sessions() as session:
        return (await session.exec(select(Step).where(Step.incident_id == incident_id,
                                                      Step.step_key == "legal-grade"))).one()


def _message(stack: LocalStack, incident: Incident, ts: str | None) -> dict[str, Any]:
    return next(m for m in stack.sandbox.messages(incident.channel_id) if m["ts"] == ts)


async def _summary(stack: LocalStack, incident: Incident) -> str:
    reply = await stack.actor.slash("/incident", f"summary {incident.key}", user_id=stack.users["zhang.wei"],
                                    channel_id=stack.channels["general"])
    await stack.settle()
    return reply.text


async def test_legal_grades_by_command_and_the_cn_clocks_start_from_discovery(graded: LocalStack) -> None:
    stack, u = graded, graded.users
    incident = await declare(stack, "declare p1 cyber-attack 撞库攻击登录接口")
    # Our severity is the highest, yet no CN clock runs: they wait for legal's grade, and everyone sees that.
    assert [c for c in await _started(stack, incident.id) if c in CN] == []
    assert "待法务判定" in await _summary(stack, incident)
    header = _message(stack, incident, (await _incident(stack, incident.id)).header_ts)
    assert "法定分级" in str(header["blocks"]) and "待法务判定" in str(header["blocks"])
    step = await _grading_step(stack, incident.id)
    assert "待法务判定" in str(_message(stack, incident, step.message_ts)["blocks"])

    async with stack.rt.sessions() as session:  # found out 90 minutes before it was declared
        row = await session.get(Incident, incident.id)
        assert row is not None
        row.discovered_at = row.declared_at - timedelta(minutes=90)
        session.add(row)
        await session.commit()
    discovered = (await _incident(stack, incident.id)).discovered_at
    assert discovered is not None

    reply = await in_channel(stack, incident, "grade 较大", user="chen.jie")
    assert "法定分级：较大" in reply.text and "已启动 2 个" in reply.text, reply.text
    row = await _incident(stack, incident.id)
    assert row.legal_grade == "relatively-major" and row.severity == "sev1"
    [set_event] = await events(stack, incident.id, "legal_grade_set")
    assert set_event.actor == u["chen.jie"] and set_event.data["to"] == "relatively-major"
    assert set_event.at.tzinfo is not None
    clocks = {str(e.data["clock"]): e for e in await events(stack, incident.id, "clock_started")}
    assert set(CN) <= set(clocks)
    cii = clocks["cn-report-cii"]
    assert cii.data["started"] == discovered.isoformat()  # the law counts from discovery, not declaration
    assert cii.data["deadline"] == (discovered + timedelta(minutes=60)).isoformat()
    assert len(await _clock_jobs(stack, incident.id)) > 0
    # The grading step is done by the answer; the header and the checklist show the grade.
    step = await _grading_step(stack, incident.id)
    assert step.done_by == u["chen.jie"] and step.note == "较大"
    header = _message(stack, incident, row.header_ts)
    assert "较大" in str(header["blocks"]) and "待法务判定" not in str(header["blocks"])
    shown = _message(stack, incident, step.message_ts)
    select_block = next(b for b in shown["blocks"] if b.get("block_id") == f"step-{step.id}")
    assert select_block["accessory"]["initial_option"]["value"] == "relatively-major"
    summary = await _summary(stack, incident)
    assert "*法定分级* 较大" in summary and "剩余" in summary

    again = await in_channel(stack, incident, "grade relatively-major", user="chen.jie")
    assert "已是较大" in again.text
    assert len(await events(stack, incident.id, "legal_grade_set")) == 1


async def test_graded_down_the_running_cn_clocks_stop_and_graded_up_they_start_again(graded: LocalStack) -> None:
    stack = graded
    incident = await declare(stack, "declare sev2 data-breach 会员手机号外泄")
    assert await _started(stack, incident.id) == ["pipl-57", "gdpr-33"]  # our severity starts only these
    await in_channel(stack, incident, "grade 重大", user="chen.jie")
    assert sorted(await _started(stack, incident.id)) == sorted(["pipl-57", "gdpr-33", *CN])
    jobs = await _clock_jobs(stack, incident.id)

    reply = await in_channel(stack, incident, "grade 一般")  # the commander may grade too
    assert "已停止 2 个" in reply.text, reply.text
    stopped = await events(stack, incident.id, "clock_stopped")
    assert sorted(str(e.data["clock"]) for e in stopped) == sorted(CN)
    assert all(e.actor == stack.users["zhang.wei"] for e in stopped)
    left = await _clock_jobs(stack, incident.id)
    assert len(left) < len(jobs)  # the stopped clocks' reminders are gone; pipl-57's and gdpr-33's stay
    summary = await _summary(stack, incident)
    assert summary.count("因法定分级低于报告标准而停止") == 2 and "*法定分级* 一般" in summary

    await in_channel(stack, incident, "grade not-reportable", user="chen.jie")
    assert len(await events(stack, incident.id, "clock_stopped")) == 2  # nothing more was running

    await in_channel(stack, incident, "grade 特别重大", user="chen.jie")
    assert (await _started(stack, incident.id)).count("cn-report-cii") == 2
    assert (await _incident(stack, incident.id)).legal_grade == "especially-major"


async def test_an_incident_at_p1_that_legal_grades_general_runs_no_cn_clock(graded: LocalStack) -> None:
    stack = graded
    incident = await declare(stack, "declare sev1 site-outage 全站不可用")
    await in_channel(stack, incident, "grade general", user="chen.jie")
    assert (await _incident(stack, incident.id)).legal_grade == "general"
    assert [c for c in await _started(stack, incident.id) if c in CN] == []
    assert await _clock_jobs(stack, incident.id) == []
    await in_channel(stack, incident, "severity sev1 影响扩大")  # our level, however high, starts none either
    assert [c for c in await _started(stack, incident.id) if c in CN] == []


async def test_the_grading_steps_choice_grades_the_incident(graded: LocalStack) -> None:
    stack, u = graded, graded.users
    incident = await declare(stack, "declare p2 payment-failure 支付宝回调超时")
    step = await _grading_step(stack, incident.id)
    block = next(b for b in _message(stack, incident, step.message_ts)["blocks"] if b.get("block_id") == f"step-{step.id}")
    assert block["accessory"]["action_id"] == "legal_grade_pick"
    assert [o["text"]["text"] for o in block["accessory"]["options"]] == ["特别重大", "重大", "较大", "一般", "不需报告"]
    picked = await stack.actor.block_action(u["wang.fang"], "legal_grade_pick", block_id=f"step-{step.id}",
                                            channel_id=incident.channel_id, message_ts=step.message_ts,
                                            action_type="static_select", selected="major")
    assert picked.status == 200
    await stack.settle()
    assert (await _incident(stack, incident.id)).legal_grade == "major"
    [event] = await events(stack, incident.id, "legal_grade_set")
    assert event.actor == u["wang.fang"]  # a configured legal approver
    assert set(CN) <= set(await _started(stack, incident.id))
    assert (await _grading_step(stack, incident.id)).done_by == u["wang.fang"]
    assert any("法定分级：重大" in str(r.get("text")) for r in stack.sandbox.responses)


async def test_someone_not_allowed_is_refused_and_nothing_changes(graded: LocalStack) -> None:
    stack, u = graded, graded.users
    incident = await declare(stack, "declare p2 cyber-attack 撞库攻击")
    await stack.actor.join(incident.channel_id, u["li.na"])
    before = await _started(stack, incident.id)
    refused = await in_channel(stack, incident, "grade 较大", user="li.na")
    assert "只有法务、配置的法务审批人或应急指挥" in refused.text, refused.text
    step = await _grading_step(stack, incident.id)
    await stack.actor.block_action(u["li.na"], "legal_grade_pick", block_id=f"step-{step.id}",
                                   channel_id=incident.channel_id, message_ts=step.message_ts,
                                   action_type="static_select", selected="especially-major")
    await stack.settle()
    assert any("只有法务" in str(r.get("text")) for r in stack.sandbox.responses if r.get("user") == u["li.na"])
    row = await _incident(stack, incident.id)
    assert row.legal_grade is None
    assert await _started(stack, incident.id) == before
    assert await events(stack, incident.id, "legal_grade_set") == []
    assert (await _grading_step(stack, incident.id)).done_at is None
    assert sum(int(e.data.get("count", 1)) for e in await events(stack, incident.id, "refused")
               if e.data.get("action") == "set_legal_grade") == 2
    # Words that are no grade, and none at all, are answered with the right form; nothing is recorded.
    wrong = await in_channel(stack, incident, "grade 严重", user="chen.jie")
    assert "`严重` 不是法定分级" in wrong.text and "relatively-major" in wrong.text
    empty = await in_channel(stack, incident, "grade", user="chen.jie")
    assert "缺少法定分级" in empty.text
    # The grading step is done by answering, not by `done`.
    done = await in_channel(stack, incident, f"done {step.number}", user="chen.jie")
    assert "以设定法定分级完成" in done.text
    assert (await _grading_step(stack, incident.id)).done_at is None
    assert (await _incident(stack, incident.id)).legal_grade is None


async def test_help_severity_shows_each_levels_criteria(stack: LocalStack) -> None:
    reply = await stack.actor.slash("/incident", "help severity", user_id=stack.users["zhang.wei"],
                                    channel_id=stack.channels["general"])
    text = reply.text
    for fragment in ("P1 一级响应", "P2 二级响应", "P3 三级响应", "P4 四级响应", "GMV", "失败率", "影响用户",
                     "个人信息", "默认标准", "`p2` `sev2` `2`", "不是网信办的法定分级"):
        assert fragment in text, fragment
    for legal in ("特别重大", "较大", "一般"):  # our levels no longer carry the legal grades' names
        assert legal not in text


async def test_help_severity_in_english_and_in_the_declare_form(make_stack: StackFactory) -> None:
    stack = await make_stack(config={"language": "en"})
    reply = await stack.actor.slash("/incident", "help severity", user_id=stack.users["zhang.wei"],
                                    channel_id=stack.channels["general"])
    assert "P2 high" in reply.text and "GMV" in reply.text and "default criteria" in reply.text
    opened = await stack.actor.slash("/incident", "declare", user_id=stack.users["zhang.wei"],
                                     channel_id=stack.channels["general"])
    assert opened.status == 200
    await stack.settle()
    [view] = [v for v in stack.sandbox.views.values() if v.get("callback_id") == "declare_form"]
    severity = next(b for b in view["blocks"] if b.get("block_id") == "severity")
    assert "P1 critical" in severity["hint"]["text"] and "GMV" in severity["hint"]["text"]
    assert [o["text"]["text"] for o in severity["element"]["options"]] == ["P1 critical", "P2 high", "P3 medium", "P4 low"]


@pytest.mark.parametrize("level", ["p2", "P2", "2", "sev2", "SEV2"])
async def test_p2_2_and_sev2_all_declare_sev2(stack: LocalStack, level: str) -> None:
    incident = await declare(stack, f"declare {level} order-anomaly 订单状态不同步")
    assert incident.severity == "sev2"
    header = _message(stack, incident, incident.header_ts)
    assert "P2 二级响应" in str(header["blocks"])


async def test_a_level_that_is_no_level_is_refused(stack: LocalStack) -> None:
    for wrong in ("p5", "p", "sev0", "较大"):
        reply = await stack.actor.slash("/incident", f"declare {wrong} order-anomaly 订单异常",
                                        user_id=stack.users["zhang.wei"], channel_id=stack.channels["general"])
        assert "不是有效级别" in reply.text and "p1–p4" in reply.text, reply.text
    assert await incidents_in_db(stack) == []


def test_every_playbook_with_cn_clocks_has_legals_grading_step_before_them() -> None:
    for playbook in load_playbooks([SHIPPED_DIR]).values():
        cn = [c for c in playbook.clocks if c.id.startswith("cn-report")]
        if not cn:
            continue
        assert all(c.min_legal_grade == "relatively-major" and c.min_severity is None for c in cn), playbook.slug
        [step] = [s for s in playbook.steps if s.asks == "legal_grade"]
        assert step.owner == "legal" and step.due_minutes < min(c.minutes for c in cn), playbook.slug
        assert "分级指南" in step.title.zh and "第四条" in step.title.zh, playbook.slug
    graded = {slug for slug, pb in load_playbooks([SHIPPED_DIR]).items() if pb.graded}
    assert {"data-breach", "cyber-attack", "site-outage", "payment-failure"} <= graded


def _playbook(tmp_path: Path, clock: dict[str, Any], asks: bool) -> Path:
    t = {"zh": "文字", "en": "text"}
    report: dict[str, Any] = {"id": "report", "phase": "report", "title": t, "owner": "legal", "due_minutes": 60,
                              "clock": "cn"}
    grade: dict[str, Any] = {"id": "grade", "phase": "report", "title": t, "owner": "legal", "due_minutes": 30}
    if asks:
        grade["asks"] = "legal_grade"
    data = {"slug": "mini", "name": t, "description": t, "default_severity": "sev3", "roles": ["commander", "legal"],
            "duties": {"commander": t, "legal": t}, "steps": [grade, report],
            "statement": {"tone": "service", "headline": t, "what_happened": t, "doing": t, "customer_action": t,
                          "qa": [{"q": t, "a": t}, {"q": t, "a": t}]},
            "clocks": [{"id": "cn", "name": t, "basis": "art. 4", "minutes": 240, **clock}]}
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_a_playbook_clock_waits_for_one_reportable_grade_and_someone_to_give_it(tmp_path: Path) -> None:
    pb = load_playbook(_playbook(tmp_path, {"min_legal_grade": "relatively-major"}, asks=True))
    assert pb.graded and pb.grading_steps() == {"grade"} and pb.clocks_for("sev1") == []
    for grade, runs in (("especially-major", True), ("major", True), ("relatively-major", True), ("general", False),
                        ("not-reportable", False), (None, False), ("bogus", False)):
        assert pb.clocks[0].applies_at_grade(grade) is runs, grade
    problems = {
        "both": ({"min_legal_grade": "major", "min_severity": "sev3"}, True, "either min_severity or min_legal_grade"),
        "nothing": ({"min_legal_grade": "not-reportable"}, True, "a reportable grade"),
        "typo": ({"min_legal_grade": "较大"}, True, "min_legal_grade"),
        "nobody asks": ({"min_legal_grade": "major"}, False, "asks: legal_grade"),
    }
    for name, (clock, asks, expected) in problems.items():
        with pytest.raises(PlaybookError) as info:
            load_playbook(_playbook(tmp_path, clock, asks))
        assert expected in str(info.value), (name, str(info.value))
