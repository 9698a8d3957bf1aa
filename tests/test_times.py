"""Times people read carry their UTC offset, `2026-12-03 15:39 (UTC+8)`, never a zone abbreviation such as `CST`
(China Standard Time to some readers, US Central to others); machine fields stay ISO 8601."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.chart import ChartData, drawing, typography
from bot.chart.model import zone_label
from bot.scheduler import fire
from bot.times import utc_offset, when
from tests.helpers import declare, in_channel
from yingji.cli import main
from yingji.local import LocalStack

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "commands", "yingji")
SHANGHAI, KOLKATA, NEW_YORK = ZoneInfo("Asia/Shanghai"), ZoneInfo("Asia/Kolkata"), ZoneInfo("America/New_York")
ABBREVIATION = re.compile(r"\b(CST|CDT|EST|EDT|IST|GMT|BST|HKT)\b")
SHOWN = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? \(UTC\+8\)")


# ---- the formatter ------------------------------------------------------------------------------


@pytest.mark.parametrize(("moment", "tz", "minutes", "seconds"), [
    (datetime(2026, 12, 3, 7, 39, 5, tzinfo=UTC), SHANGHAI, "2026-12-03 15:39 (UTC+8)", "2026-12-03 15:39:05 (UTC+8)"),
    (datetime(2026, 12, 3, 7, 39, 5, tzinfo=UTC), KOLKATA, "2026-12-03 13:09 (UTC+5:30)", "2026-12-03 13:09:05 (UTC+5:30)"),
    (datetime(2026, 12, 3, 7, 39, 5, tzinfo=UTC), ZoneInfo("UTC"), "2026-12-03 07:39 (UTC)", "2026-12-03 07:39:05 (UTC)"),
    (datetime(2026, 12, 3, 7, 39, 5, tzinfo=UTC), ZoneInfo("Europe/London"), "2026-12-03 07:39 (UTC)",
     "2026-12-03 07:39:05 (UTC)"),
    (datetime(2026, 12, 3, 7, 39, 5, tzinfo=UTC), NEW_YORK, "2026-12-03 02:39 (UTC-5)", "2026-12-03 02:39:05 (UTC-5)"),
    (datetime(2026, 12, 3, 7, 39, 5, tzinfo=UTC), ZoneInfo("America/St_Johns"), "2026-12-03 04:09 (UTC-3:30)",
     "2026-12-03 04:09:05 (UTC-3:30)"),
    (datetime(2026, 12, 3, 7, 39, 5, tzinfo=UTC), timezone(timedelta(hours=8)), "2026-12-03 15:39 (UTC+8)",
     "2026-12-03 15:39:05 (UTC+8)"),
])
def test_a_moment_is_shown_with_its_offset(moment: datetime, tz: ZoneInfo, minutes: str, seconds: str) -> None:
    assert when(moment, tz) == minutes
    assert when(moment, tz, seconds=True) == seconds
    assert not ABBREVIATION.search(minutes + seconds)


def test_the_offset_follows_a_clock_change() -> None:
    # New York springs forward at 02:00 EST (07:00 UTC) on 8 March 2026 and falls back at 02:00 EDT (06:00 UTC)
    # on 1 November 2026, when 01:30 happens twice: only the offset tells the two apart.
    assert when(datetime(2026, 3, 8, 6, 59, tzinfo=UTC), NEW_YORK) == "2026-03-08 01:59 (UTC-5)"
    assert when(datetime(2026, 3, 8, 7, 0, tzinfo=UTC), NEW_YORK) == "2026-03-08 03:00 (UTC-4)"
    assert when(datetime(2026, 11, 1, 5, 30, tzinfo=UTC), NEW_YORK) == "2026-11-01 01:30 (UTC-4)"
    assert when(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), NEW_YORK) == "2026-11-01 01:30 (UTC-5)"


def test_the_offset_alone() -> None:
    moment = datetime(2026, 7, 1, tzinfo=UTC)
    assert [utc_offset(moment, ZoneInfo(z)) for z in ("Asia/Shanghai", "Asia/Kolkata", "UTC", "America/New_York",
                                                      "Asia/Kathmandu", "Pacific/Kiritimati")] == [
        "UTC+8", "UTC+5:30", "UTC", "UTC-4", "UTC+5:45", "UTC+14"]


# ---- the chart ----------------------------------------------------------------------------------


def _chart(start: datetime, end: datetime, tz: ZoneInfo) -> ChartData:
    return ChartData(key="INC-7", title="Checkout down", start=start, end=end, tz=tz, statuses=[], severities=[],
                     handovers=[], steps_done=[], statements=[])


def test_the_chart_names_offsets_not_zones() -> None:
    start = datetime(2026, 12, 3, 7, 39, tzinfo=UTC)
    figure = drawing._figure(_chart(start, start + timedelta(hours=3), SHANGHAI), typography.fonts())
    drawn = [t.get_text() for t in figure.texts]
    assert any("Declared 2026-12-03 15:39 (UTC+8)" in text for text in drawn), drawn
    assert figure.axes[0].get_xlabel() == "Time (UTC+8)"
    assert not ABBREVIATION.search(" ".join(drawn))
    fall_back = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    assert zone_label(NEW_YORK, fall_back, fall_back + timedelta(hours=6)) == "UTC-4 to UTC-5"


# ---- what people read from the running bot ------------------------------------------------------


async def _resolved(stack: LocalStack):
    """INC-1 staffed, one step done, an action item, a status change, then resolved (which posts the review)."""
    u = stack.users
    incident = await declare(stack)
    await in_channel(stack, incident, f"role commander <@{u['zhang.wei']}>")
    await in_channel(stack, incident, f"role tech <@{u['chen.jie']}>")
    await in_channel(stack, incident, "done 1 定位为支付宝通道")
    await in_channel(stack, incident, "note action: 回调延迟告警阈值改为 30 秒")
    await in_channel(stack, incident, "status monitoring 已切换备用通道")
    return incident


def _shown(text: str, where: str) -> None:
    """`text` shows a time with its offset and no zone abbreviation."""
    assert SHOWN.search(text), f"{where}: no time with (UTC+8) in {text[:400]!r}"
    assert not ABBREVIATION.search(text), f"{where}: {ABBREVIATION.search(text)} in {text[:400]!r}"


async def test_slack_shows_offsets(stack: LocalStack) -> None:
    sb = stack.sandbox
    incident = await _resolved(stack)
    [pinned] = [m for m in sb.messages(incident.channel_id) if m["ts"] == sb.channels[incident.channel_id].pins[0]]
    _shown(str(pinned["blocks"]), "pinned header")
    _shown((await in_channel(stack, incident, "summary")).text, "/incident summary")
    _shown(str((await in_channel(stack, incident, "timeline")).message["blocks"]), "/incident timeline")
    _shown((await in_channel(stack, incident, "steps")).text, "/incident steps")
    _shown((await in_channel(stack, incident, "roles")).text, "/incident roles")
    _shown((await in_channel(stack, incident, "done 1")).text, "/incident done (already done)")
    await in_channel(stack, incident, "statement")
    form = [v for v in sb.views.values() if v.get("callback_id") == "statement_form"][-1]
    [field] = [b for b in form["blocks"] if b["block_id"] == "next_update"]
    assert field["label"]["text"] == "下次更新时间（YYYY-MM-DD HH:MM，UTC+8）"  # the zone to type it in
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", field["element"]["initial_value"])  # parsed back as typed
    await in_channel(stack, incident, "resolve 支付宝通道恢复")
    review = next(bytes(f["bytes"]).decode() for f in sb.files.values() if f["name"] == "INC-1-review.md")
    _shown(review, "review markdown")
    await asyncio.to_thread(fire, "digest")
    await stack.settle()
    _shown(sb.messages(stack.channels["leadership"])[-1]["text"], "digest")
    everything = json.dumps([sb.messages(c) for c in sb.channels] + list(sb.responses), ensure_ascii=False)
    assert not ABBREVIATION.search(everything)


async def test_exports_and_reports_show_offsets(stack: LocalStack, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    incident = await _resolved(stack)
    await in_channel(stack, incident, "resolve 恢复")
    monkeypatch.setenv("DATABASE_URL", stack.rt.settings.database_url)
    monkeypatch.setenv("YINGJI_CONFIG", str(stack.rt.settings.config_path))
    exported = {}
    for fmt in ("md", "csv", "json"):
        out = stack.data_dir / f"export.{fmt}"
        assert await asyncio.to_thread(main, ["export", "INC-1", "--format", fmt, "-o", str(out)]) == 0
        exported[fmt] = out.read_text(encoding="utf-8")
    _shown(exported["md"], "markdown export")
    rows = list(csv.DictReader(io.StringIO(exported["csv"])))
    for row in rows:
        _shown(row["at_local"], "CSV at_local")
        assert datetime.fromisoformat(row["at_utc"]).utcoffset() == timedelta(0)  # machine-readable stays ISO
    data = json.loads(exported["json"])
    assert not ABBREVIATION.search(exported["json"]) and data["timezone"] == "Asia/Shanghai"
    for moment in [data["declared_at"], data["resolved_at"], *(e["at"] for e in data["timeline"])]:
        assert datetime.fromisoformat(moment).utcoffset() == timedelta(0), moment
    assert await asyncio.to_thread(main, ["report", "--since", "30d"]) == 0
    _shown(capsys.readouterr().out, "yingji report")


# ---- nothing new can print an abbreviation ------------------------------------------------------


def _abbreviating(root: Path, folders: tuple[str, ...]) -> list[str]:
    """Lines under `folders` that would print a zone abbreviation (`%Z`, `tzname()`), as `path:line: code`."""
    return [f"{path.relative_to(root)}:{number}: {line.strip()}"
            for folder in folders for path in sorted((root / folder).rglob("*.py"))
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
            if "%Z" in line or ".tzname(" in line]


def test_no_zone_abbreviation_in_product_code() -> None:
    found = _abbreviating(ROOT, PRODUCT)
    assert not found, "times for people go through bot.times.when (UTC offset), not %Z or tzname():\n" + "\n".join(found)


def test_the_scan_finds_one(tmp_path: Path) -> None:
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "late.py").write_text('SHOWN = "%Y-%m-%d %H:%M"\nLABEL = "%H:%M %Z"\n', encoding="utf-8")
    assert _abbreviating(tmp_path, ("bot",)) == ['bot/late.py:2: LABEL = "%H:%M %Z"']
