"""What a chart is built from, with no matplotlib: the data passed in, its fixed layout and the times read off it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.times import utc_offset
from bot.vocabulary import Status


@dataclass(frozen=True)
class Mark:
    """One dated event on the chart, with the few characters that say what it was."""

    at: datetime  # timezone-aware
    label: str  # short, e.g. "SEV1", "tech → Chen Jie", "#3", "v2"


@dataclass(frozen=True)
class ChartData:
    """Everything the chart shows, already read off the timeline, so rendering needs no database."""

    key: str
    title: str
    start: datetime
    end: datetime
    tz: ZoneInfo
    statuses: list[Mark]
    severities: list[Mark]
    handovers: list[Mark]
    steps_done: list[Mark]
    statements: list[Mark]
    drill: bool = False


# Canvas: 1200×500 px. The axes box is fixed (no tight_layout) so every chart has the same layout.
WIDTH_IN, HEIGHT_IN, DPI = 12.0, 5.0, 100
AX_LEFT, AX_RIGHT, AX_BOTTOM, AX_TOP = 0.115, 0.985, 0.15, 0.80
AXES_WIDTH_PX = WIDTH_IN * DPI * (AX_RIGHT - AX_LEFT)

TITLE_PT, SUBTITLE_PT, LANE_PT, LABEL_PT = 15.0, 10.0, 10.0, 8.0
LABEL_GAP_PX = 6.0
MAX_LABELS_PER_LANE = 40
MIN_SPAN = timedelta(seconds=30)
SECONDS_TICKS_BELOW = timedelta(minutes=15)

STATUS_COLOURS: dict[str, str] = {
    Status.INVESTIGATING: "#d9534f",
    Status.IDENTIFIED: "#f0a04b",
    Status.MONITORING: "#3f7fc1",
    Status.RESOLVED: "#4cae4c",
    Status.CLOSED: "#9e9e9e",
}
UNKNOWN_STATUS_COLOUR = "#b39ddb"
SEVERITY_COLOURS = {1: "#8b0000", 2: "#d9480f", 3: "#d4a106", 4: "#6c757d"}


# ---- data shaping -------------------------------------------------------------------------------


def aware(moment: datetime) -> datetime:
    """Naive times are taken as UTC, so a stray one shifts nothing instead of failing the chart."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def sorted_marks(marks: Sequence[Mark]) -> list[Mark]:
    """Marks in time order with aware times; equal times keep their given order."""
    return sorted((Mark(aware(m.at), m.label) for m in marks), key=lambda m: m.at)


def _all_times(data: ChartData) -> list[datetime]:
    """Every moment on the chart, so nothing falls outside the axis."""
    marks = [*data.statuses, *data.severities, *data.handovers, *data.steps_done, *data.statements]
    return [aware(data.start), aware(data.end), *(aware(m.at) for m in marks)]


def x_limits(data: ChartData) -> tuple[datetime, datetime]:
    """The time axis: all marks, at least MIN_SPAN wide, with a little air at both ends."""
    times = _all_times(data)
    lo, hi = min(times), max(times)
    if hi - lo < MIN_SPAN:
        hi = lo + MIN_SPAN
    pad = (hi - lo) * 0.025
    return lo - pad, hi + pad


def severity_level(label: str) -> int:
    """1 (worst) to 4 from "sev1".."sev4"; anything unreadable counts as the mildest."""
    found = re.search(r"[1-4]", label)
    return int(found.group()) if found else 4


def duration(span: timedelta) -> str:
    """A short human duration: "45s", "12m 5s", "3h 20m", "10d 4h"."""
    seconds = max(0, int(span.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def zone_label(tz: ZoneInfo, lo: datetime, hi: datetime) -> str:
    """The offset the ticks are read in, `UTC+8`; both, `UTC-4 to UTC-5`, when the span crosses a clock change."""
    first, last = utc_offset(aware(lo), tz), utc_offset(aware(hi), tz)
    return first if first == last else f"{first} to {last}"
