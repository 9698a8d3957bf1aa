"""The benchmarks still run: each suite, at a tiny size, produces its whole table (figures are never asserted)."""

from __future__ import annotations

import pytest

from bench import ack, ready, storm, timeline
from bench.common import Figure, table


def _names(figures: list[Figure]) -> list[str]:
    assert all(f.value >= 0 for f in figures)
    assert table(figures).count("\n") == len(figures)  # one header line and one row per figure
    return [f.name for f in figures]


async def test_timeline_suite_reads_back_what_it_appended() -> None:
    names = _names(await timeline.run((20, 40)))
    for size in (20, 40):
        assert f"/incident summary at {size:,} events" in names
        assert f"/incident export at {size:,} events" in names
    assert "summary growth 20→40 (events ×2)" in names


async def test_ready_suite_counts_the_web_api_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ready, "RUNS", 1)
    figures = await ready.run()
    calls = next(f for f in figures if f.name.startswith("Web API calls per declaration"))
    assert calls.value >= 4  # at least: create the channel, post the header, pin it, post the checklist
    assert "sequential round trips on the critical path (measured)" in _names(figures)


def test_the_ratio_to_bare_bolt_is_taken_round_by_round() -> None:
    """One slow round of ours (the machine busy for a moment) moves the pooled p99, not the per-round median."""
    ours = {"ours": [100.0] * 100 + [300.0] * 100 + [120.0] * 100, "bare": [100.0] * 300,
            "stored": [1.0], "alone": [1.0]}
    p99s = {"ours": [100.0, 300.0, 120.0], "bare": [100.0, 100.0, 100.0], "stored": [1.0], "alone": [1.0]}
    rows = {f.name: f for f in ack._figures(max(ack.LEVELS), ours, p99s)}
    assert rows["ack p99 at 200 concurrent"].ratio == 3.0
    ratio = rows["ack p99 at 200 concurrent ÷ bare bolt's, round by round (median of 3; 1.00–3.00)"]
    assert (ratio.value, ratio.met) == (1.2, True)


async def test_ack_suite_times_every_server_each_round(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ack, "LEVELS", (1, 3))
    monkeypatch.setattr(ack, "ROUNDS", {1: 1, 3: 2})
    names = _names(await ack.run())
    for level in (1, 3):
        assert f"ack p99 at {level} concurrent" in names
        assert f"ack p99 at {level} concurrent vs aiohttp answering 200 (the floor)" in names
    assert any(name.startswith("ack p99 at 3 concurrent ÷ bare bolt's, round by round (median of 2;") for name in names)


async def test_storm_suite_reports_every_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("ALERTS", 20), ("SCRAPES", 2.0), ("SLOW", 3), ("CONCURRENT", 3), ("ROUNDS", 1),
                        ("STORM_WARM", 1.0), ("SETTLE", 20.0)):
        monkeypatch.setattr(storm, name, value)
    names = _names(await storm.run())
    for command in storm.COMMANDS:
        for pct in ("p50", "p99"):
            assert f"{command}: ack {pct} during the storm (baseline: without)" in names
        for phase in ("without the storm", "during the storm"):
            assert any(n.startswith(f"{command}: ack p99 {phase} ÷ bare bolt's, round by round (median of 1;")
                       for n in names)
    for start in ("alerts recorded ÷ distinct alerts sent", "incidents opened by the alerts", "notification answered",
                  "5xx answers", "commands not answered 200", "notes, steps done and declarations stored",
                  "/metrics scrapes answered 200 a second", "/metrics scrape p99", "slow-body connections opened"):
        assert any(n.startswith(start) for n in names), start
