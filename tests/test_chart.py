"""The timeline chart: valid, deterministic PNGs for short, long, busy, empty and Chinese incidents."""

from __future__ import annotations

import itertools
import struct
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.chart import ChartData, Mark, drawing, model, render_timeline, typography

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 11, 15, 40, tzinfo=UTC)  # 23:40 on 11 November in Shanghai
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def data(**changes: object) -> ChartData:
    """A typical three-hour incident; tests override what they are about."""
    fields: dict[str, object] = dict(
        key="INC-42",
        title="Checkout down",
        start=T0,
        end=at(185),
        tz=SHANGHAI,
        statuses=[Mark(at(0), "investigating"), Mark(at(38), "identified"), Mark(at(95), "monitoring"),
                  Mark(at(170), "resolved")],
        severities=[Mark(at(0), "sev2"), Mark(at(22), "sev1"), Mark(at(120), "sev2")],
        handovers=[Mark(at(1), "commander: 张伟"), Mark(at(3), "tech: Chen Jie"), Mark(at(90), "commander: 王芳")],
        steps_done=[Mark(at(m), f"#{n}") for n, m in enumerate((5, 7, 9, 12, 40, 41, 60, 100), start=1)],
        statements=[Mark(at(15), "v1"), Mark(at(45), "v2"), Mark(at(110), "v3")],
    )
    fields.update(changes)
    return ChartData(**fields)  # type: ignore[arg-type]


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk."""
    assert png[:8] == PNG_SIGNATURE and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def png_text_chunks(png: bytes) -> list[bytes]:
    """The keywords of every tEXt chunk, to check nothing time-dependent is written."""
    keywords, offset = [], 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset:offset + 4])
        kind = png[offset + 4:offset + 8]
        if kind == b"tEXt":
            keywords.append(png[offset + 8:offset + 8 + length].split(b"\0")[0])
        offset += 12 + length
    return keywords


def test_png_signature_and_size() -> None:
    png = render_timeline(data())
    assert png_size(png) == (1200, 500)
    assert len(png) > 10_000


def test_same_data_same_bytes() -> None:
    first = render_timeline(data(title="双十一支付回调超时", drill=True))
    assert render_timeline(data(title="双十一支付回调超时", drill=True)) == first
    assert render_timeline(data()) != first
    assert b"Software" not in png_text_chunks(first) and b"Creation Time" not in png_text_chunks(first)


def test_same_bytes_from_concurrent_threads() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = set(pool.map(lambda _: render_timeline(data()), range(8)))
    assert len(results) == 1


def test_nothing_but_the_start() -> None:
    empty = data(end=T0, statuses=[], severities=[], handovers=[], steps_done=[], statements=[])
    assert png_size(render_timeline(empty)) == (1200, 500)


def test_thirty_second_incident() -> None:
    short = data(end=T0 + timedelta(seconds=30),
                 statuses=[Mark(T0, "investigating"), Mark(T0 + timedelta(seconds=25), "resolved")],
                 severities=[Mark(T0, "sev3")], handovers=[Mark(T0 + timedelta(seconds=5), "commander: 张伟")],
                 steps_done=[Mark(T0 + timedelta(seconds=s), f"#{s}") for s in range(1, 30)], statements=[])
    assert png_size(render_timeline(short)) == (1200, 500)


def test_ten_days_across_midnights_in_shanghai() -> None:
    end = T0 + timedelta(days=10)
    long = data(end=end,
                statuses=[Mark(T0, "investigating"), Mark(T0 + timedelta(days=2), "identified"),
                          Mark(T0 + timedelta(days=6), "monitoring"), Mark(T0 + timedelta(days=9), "resolved"),
                          Mark(end, "closed")],
                severities=[Mark(T0, "sev3"), Mark(T0 + timedelta(hours=5), "sev1"),
                            Mark(T0 + timedelta(days=7), "sev4")],
                steps_done=[Mark(T0 + timedelta(hours=h), f"#{h}") for h in range(0, 240, 7)])
    assert png_size(render_timeline(long)) == (1200, 500)


def tick_labels(chart_data: ChartData) -> list[str]:
    """The x tick labels as drawn."""
    figure = drawing._figure(chart_data, typography.fonts())
    figure.canvas.draw()
    return [label.get_text() for label in figure.axes[0].get_xticklabels()]


def test_ticks_show_dates_and_times_in_the_incident_zone() -> None:
    labels = tick_labels(data(end=T0 + timedelta(days=10)))
    assert len(labels) >= 4 and "11-13\n00:00" in labels
    assert all(label.endswith("\n00:00") for label in labels)  # midnights in Shanghai, not in UTC
    assert drawing._figure(data(), typography.fonts()).axes[0].get_xlabel() == "Time (UTC+8)"


def test_short_incidents_tick_in_seconds() -> None:
    labels = tick_labels(data(end=T0 + timedelta(seconds=30), statuses=[], severities=[], handovers=[],
                              steps_done=[], statements=[]))
    assert "11-11\n23:40:10" in labels


def test_two_thousand_marks() -> None:
    many = [Mark(T0 + timedelta(minutes=i * 0.7), f"#{i}") for i in range(2000)]
    busy = data(end=at(1500), statuses=[Mark(m.at, ("investigating", "identified", "monitoring")[i % 3])
                                        for i, m in enumerate(many[:400])],
                severities=[Mark(m.at, f"sev{i % 4 + 1}") for i, m in enumerate(many[:400])],
                handovers=[Mark(m.at, f"commander: 张伟{i}") for i, m in enumerate(many)],
                steps_done=many, statements=[Mark(m.at, f"v{i}") for i, m in enumerate(many)])
    assert png_size(render_timeline(busy)) == (1200, 500)


def test_labels_are_thinned_and_capped() -> None:
    xs = [i * 0.5 for i in range(2000)]
    texts = [f"#{i}" for i in range(2000)]
    placed = drawing._place_labels(xs, texts, rows=2)
    assert 10 < len(placed) <= model.MAX_LABELS_PER_LANE
    assert {row for _, row, _ in placed} == {0, 1}
    for row in (0, 1):
        spans = []
        for index, r, _ in placed:
            if r == row:
                width = typography.text_px(texts[index], model.LABEL_PT)
                left = drawing._label_extent(xs[index], width)[0]
                spans.append((left, left + width))
        assert all(right < next_left for (_, right), (next_left, _) in itertools.pairwise(spans))


def test_chinese_title_renders() -> None:
    png = render_timeline(data(title="双十一支付回调超时：华东区 $5 退款"))
    assert png_size(png) == (1200, 500)


def test_text_never_falls_back_to_tofu() -> None:
    fonts = typography.fonts()
    shown = typography.drawable("commander: 张伟 🔥 ok", fonts)
    assert shown.startswith("commander: ") and shown.endswith(" ok")
    assert all(ch == " " or ord(ch) in fonts.drawable for ch in shown)
    if len(fonts.families) > 1:
        assert "张伟" in shown
    else:
        assert shown == "commander: … ok"


@pytest.mark.parametrize("label, level", [("sev1", 1), ("SEV4", 4), ("sev2", 2), ("bogus", 4)])
def test_severity_levels(label: str, level: int) -> None:
    assert model.severity_level(label) == level


def test_naive_times_are_taken_as_utc() -> None:
    naive = data(start=T0.replace(tzinfo=None), end=at(185).replace(tzinfo=None))
    assert render_timeline(naive) == render_timeline(data())
