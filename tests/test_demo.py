"""`make demo` as a newcomer sees it: a whole incident, ending with the status page that shows the approved,
published statement (and nothing of a draft)."""

from __future__ import annotations

from pathlib import Path

import pytest

from yingji.demo import run_demo


async def test_the_demo_ends_on_the_status_page_with_the_published_statement(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert await run_demo() == 0
    out = capsys.readouterr().out
    page = out.split("The status page customers read", 1)[1]
    assert "/status  (HTTP 200;" in page
    assert "部分用户使用支付宝付款后，订单仍显示待支付" in page  # the approved text, published to the page
    assert "INC-1" not in page and "zhang.wei" not in page
    assert "支付\n  │ 部分中断" in page  # the component and the state comms chose
