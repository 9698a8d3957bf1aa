"""`make demo` as a newcomer sees it: a whole incident, ending with the status page that shows what customers were
told — the resolved statement on top, the earlier one beneath, payment back to normal because comms said so — and
nothing of a draft nor of the incident's private side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from yingji.demo import TITLE, run_demo


async def test_the_demo_ends_on_the_status_page_with_the_incident_resolved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert await run_demo() == 0
    out = capsys.readouterr().out
    screen = out.split("The status page customers read", 1)[1]
    page, widget = screen.split("/status.json  (HTTP 200):", 1)
    assert "/status  (HTTP 200;" in page
    resolved = "支付宝支付已恢复正常，受影响的订单已全部更新为已支付，没有重复扣款"  # what 王芳 stated at the end
    earlier = "已切换到备用支付通道，正在逐笔核对已扣款的订单并补单"  # the monitoring statement
    assert "所有服务运行正常" in page and "正在处理的事件" not in page  # no longer ongoing
    assert page.index("已解决") < page.index(resolved) < page.index("此前的更新") < page.index(earlier)
    assert "支付\n  │ 正常" in page  # the state 王芳 chose for payment on the resolved statement
    body = json.loads(widget.strip().splitlines()[0])
    assert body["incidents"] == [] and body["overall"]["incident"] is False
    assert body["overall"]["state"] == "operational"
    assert {c["id"]: c["state"] for c in body["components"]} == {"payment": "operational", "checkout": "operational"}
    private = ["INC-1", TITLE, "inc-1-", "zhang.wei", "wang.fang", "张伟", "王芳", "payment-failure", "支付故障"]
    assert [word for word in private if word in screen] == []
