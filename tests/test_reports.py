"""Summaries, the chart, the review at resolve, exports, the team report, /metrics and the digest."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import aiohttp
import pytest

from bot.scheduler import fire
from tests.helpers import declare, in_channel, timeline_kinds
from yingji.cli import main
from yingji.local import LocalStack


async def _staffed_and_resolved(stack: LocalStack):
    u = stack.users
    incident = await declare(stack)
    await in_channel(stack, incident, f"role commander <@{u['zhang.wei']}>")
    await in_channel(stack, incident, f"role tech <@{u['chen.jie']}>")
    await in_channel(stack, incident, "status identified 支付宝回调网关超时")
    await in_channel(stack, incident, "done 1 定位为支付宝通道")
    await in_channel(stack, incident, "note action: 回调延迟告警阈值改为 30 秒")
    await in_channel(stack, incident, "status monitoring 已切换备用通道")
    return incident


async def test_summary_from_any_channel_with_chart_by_dm(stack: LocalStack) -> None:
    sb, u = stack.sandbox, stack.users
    incident = await _staffed_and_resolved(stack)
    reply = await stack.actor.slash("/incident", f"summary {incident.key}", user_id=u["zhang.wei"],
                                    channel_id=stack.channels["general"])
    text = reply.text
    for fragment in ("INC-1", "P2 二级响应", "观察中", "响应用时", f"<@{u['chen.jie']}>", "*最近进展*",
                     "14/15 项未完成", "尚无已批准的口径", "下次更新"):
        assert fragment in text, fragment
    assert len(text) < 3000
    await stack.settle()
    [chart] = [m for m in sb.dms(u["zhang.wei"]) if m.get("files")]
    file = sb.files[chart["files"][0]["id"]]
    assert file["name"] == "INC-1-summary.png" and bytes(file["bytes"]).startswith(b"\x89PNG")


async def test_summary_is_deterministic(stack: LocalStack) -> None:
    from bot import summary
    from bot.db import utcnow
    from bot.slack.summary_view import render

    incident = await _staffed_and_resolved(stack)
    now = utcnow()
    async with stack.rt.sessions() as session:
        first = render(await summary.gather(session, incident), stack.rt.settings.tz, now)
        second = render(await summary.gather(session, incident), stack.rt.settings.tz, now)
    assert first == second


async def test_resolve_is_for_the_commander_and_posts_the_review(stack: LocalStack) -> None:
    sb = stack.sandbox
    incident = await _staffed_and_resolved(stack)
    refused = await in_channel(stack, incident, "resolve 已恢复", user="chen.jie")
    assert "只有应急指挥" in refused.text
    assert "refused" in await timeline_kinds(stack, incident.id)
    resolved = await in_channel(stack, incident, "resolve 支付宝通道恢复，积压回调已补单")
    assert "已解决" in resolved.text
    [review] = [m for m in sb.messages(incident.channel_id) if m.get("files")]
    assert "复盘草稿" in review["text"] and "回调延迟告警" in review["text"]
    names = {f["name"] for f in review["files"]}
    assert names == {"INC-1-review.md", "INC-1-timeline.png"}
    md = next(bytes(f["bytes"]).decode() for f in sb.files.values() if f["name"] == "INC-1-review.md")
    for heading in ("## 概要", "## 影响", "## 指标", "## 时间线", "## 做得好的", "## 需要改进的", "## 行动项"):
        assert heading in md
    assert "- [ ] 回调延迟告警阈值改为 30 秒" in md and "@陈杰" in md  # names people chose, not ids, outside Slack
    assert "review_posted" in await timeline_kinds(stack, incident.id)
    assert sorted(await stack.rt.scheduler.job_ids()) == ["digest", "forget_deliveries"]  # reminders stopped


@pytest.mark.parametrize("fmt", ["md", "json", "csv"])
async def test_export_formats_parse_back(stack: LocalStack, fmt: str, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    incident = await _staffed_and_resolved(stack)
    await in_channel(stack, incident, "resolve 恢复")
    monkeypatch.setenv("DATABASE_URL", stack.rt.settings.database_url)
    monkeypatch.setenv("YINGJI_CONFIG", str(stack.rt.settings.config_path))
    out = stack.data_dir / f"export.{fmt}"
    assert await asyncio.to_thread(main, ["export", "INC-1", "--format", fmt, "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        data = json.loads(text)
        assert data["key"] == "INC-1" and data["status"] == "resolved"
        assert data["metrics_seconds"]["time_to_resolve"] is not None and len(data["steps"]) == 15
        assert data["action_items"] == ["回调延迟告警阈值改为 30 秒"]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows[0]["kind"] == "declared" and any(r["kind"] == "status_changed" for r in rows)
        assert all(r["at_local"].endswith(" (UTC+8)") for r in rows)
    else:
        assert text.startswith("# 复盘草稿: INC-1") and "## 时间线" in text


async def test_report_and_metrics_exclude_drills(stack: LocalStack, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    u = stack.users
    incident = await _staffed_and_resolved(stack)
    await in_channel(stack, incident, "resolve ok")
    await declare(stack, "declare sev3 logistics-disruption 顺丰华东分拨延误")
    async with stack.rt.sessions() as session:  # a drill must not count
        from bot.models import Incident

        drill = await session.get(Incident, 2)
        drill.drill = True
        session.add(drill)
        await session.commit()
    await declare(stack, "declare sev1 site-outage homepage down")
    monkeypatch.setenv("DATABASE_URL", stack.rt.settings.database_url)
    assert await asyncio.to_thread(main, ["report", "--since", "30d"]) == 0
    out = capsys.readouterr().out
    assert "(drills excluded): 2" in out and "sev1" in out and "sev2" in out and "sev3" not in out
    assert "logistics-disruption" not in out and "Median time to resolve" in out
    async with aiohttp.ClientSession() as http, http.get(f"{stack.server.url}/metrics") as resp:
        metrics = await resp.text()
    assert 'yingji_incidents{severity="sev2",window="30d"} 1.0' in metrics
    assert 'yingji_incidents{severity="sev3",window="30d"} 0.0' in metrics  # the drill
    assert 'yingji_incidents_by_playbook{playbook="site-outage",window="30d"} 1.0' in metrics
    assert 'yingji_median_time_to_resolve_seconds{window="30d"}' in metrics
    assert "homepage" not in metrics and "支付宝" not in metrics
    assert u  # people exist


async def test_daily_digest_to_leadership(stack: LocalStack) -> None:
    sb = stack.sandbox
    await declare(stack, "declare sev2 payment-failure 微信支付失败率升高")
    await declare(stack, "declare sev1 data-breach 会员数据外泄")
    assert "digest" in await stack.rt.scheduler.job_ids()
    await asyncio.to_thread(fire, "digest")  # what the scheduler does at the configured time
    await stack.settle()
    [digest] = sb.messages(stack.channels["leadership"])
    assert "INC-1" in digest["text"] and "微信支付失败率升高" in digest["text"]
    assert "INC-2" in digest["text"] and "会员数据外泄" not in digest["text"]


def test_bad_period_is_refused(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    assert main(["report", "--since", "a month"]) == 2
    assert "--since" in capsys.readouterr().err
