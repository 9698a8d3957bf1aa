"""What every benchmark shares: percentiles, the result rows, the table and the JSON file."""

from __future__ import annotations

import json
import platform
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    """One line of the table: a measured value, its target, and the baseline it is compared with."""

    name: str
    value: float
    unit: str
    target: str = ""
    baseline: float | None = None
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        """value ÷ baseline, when there is a baseline."""
        return self.value / self.baseline if self.baseline else None


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile (nearest rank), 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def table(figures: list[Figure]) -> str:
    """The figures as one aligned table: figure, value, target, baseline, ratio."""
    rows = [("figure", "value", "target", "baseline", "ratio", "")]
    for f in figures:
        rows.append((
            f.name, f"{f.value:.3g} {f.unit}", f.target,
            f"{f.baseline:.3g} {f.unit}" if f.baseline is not None else "",
            f"{f.ratio:.2f}×" if f.ratio is not None else "",
            "" if f.met is None else ("ok" if f.met else "MISSED"),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows)


def write(name: str, figures: list[Figure], extra: dict[str, object] | None = None) -> Path:
    """Save the figures under bench/results/ (ignored by git)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({
        "when": datetime.now(UTC).isoformat(), "machine": platform.platform(),
        "python": platform.python_version(), "figures": [{**asdict(f), "ratio": f.ratio} for f in figures],
        **(extra or {}),
    }, indent=2, ensure_ascii=False))
    return path
