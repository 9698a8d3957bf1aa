"""The benchmarks still run: each suite, at a tiny size, produces its whole table (figures are never asserted)."""

from __future__ import annotations

import pytest

from bench import ready, timeline
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
