"""The incident timeline chart: plain data in, PNG bytes out, because a manager would rather look than read."""

from __future__ import annotations

import io
import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font
from matplotlib.patches import Patch
from matplotlib.text import Text


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

STATUS_COLOURS = {
    "investigating": "#d9534f",
    "identified": "#f0a04b",
    "monitoring": "#3f7fc1",
    "resolved": "#4cae4c",
    "closed": "#9e9e9e",
}
UNKNOWN_STATUS_COLOUR = "#b39ddb"
SEVERITY_COLOURS = {1: "#8b0000", 2: "#d9480f", 3: "#d4a106", 4: "#6c757d"}

LATIN_FAMILY = "DejaVu Sans"
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)

# Matplotlib is not thread-safe (shared font caches); the bot renders from worker threads.
_RENDER_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Fonts:
    """The families every text is drawn with, and the characters they can draw between them."""

    families: tuple[str, ...]
    drawable: frozenset[int]

    def props(self, size: float, weight: str = "normal") -> FontProperties:
        """Font properties with the CJK family as a per-glyph fallback behind the Latin one."""
        return FontProperties(family=list(self.families), size=size, weight=weight)


@dataclass(frozen=True)
class _Lane:
    """One row of the chart: its name, its marks and how its markers look."""

    name: str
    marks: list[Mark]
    marker: str
    colour: str


def render_timeline(data: ChartData) -> bytes:
    """The incident's timeline as PNG bytes; the same data always gives the same bytes."""
    with _RENDER_LOCK:
        return _png(_figure(data, _fonts()))


def _png(figure: Figure) -> bytes:
    """PNG bytes with no software or time stamp in the metadata, so they depend only on the drawing."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def _figure(data: ChartData, fonts: _Fonts) -> Figure:
    """Draw every part on a fresh figure, without pyplot's global state."""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    ax = figure.add_axes((AX_LEFT, AX_BOTTOM, AX_RIGHT - AX_LEFT, AX_TOP - AX_BOTTOM))
    lo, hi = _x_limits(data)
    lanes = _lanes(data)
    _draw_frame(ax, data, lanes, lo, hi, fonts)
    _draw_statuses(ax, figure, data, len(lanes), lo, hi, fonts)
    _draw_severities(ax, data, len(lanes) - 2, lo, hi, fonts)
    for index, lane in enumerate(lanes[2:]):
        _draw_marks(ax, lane, len(lanes) - 3 - index, lo, hi, fonts)
    _draw_header(figure, data, fonts)
    if data.drill:
        _text(ax, 0.5, 0.5, "DRILL", fonts.props(72, "bold"), transform=ax.transAxes, ha="center",
              va="center", color="#000000", alpha=0.06, zorder=0)
    return figure


# ---- data shaping -------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    """Naive times are taken as UTC, so a stray one shifts nothing instead of failing the chart."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _sorted(marks: Sequence[Mark]) -> list[Mark]:
    """Marks in time order with aware times; equal times keep their given order."""
    return sorted((Mark(_aware(m.at), m.label) for m in marks), key=lambda m: m.at)


def _lanes(data: ChartData) -> list[_Lane]:
    """Rows top to bottom; all are drawn even when empty so every chart has the same layout."""
    return [
        _Lane("Status", _sorted(data.statuses), "", ""),
        _Lane("Severity", _sorted(data.severities), "", ""),
        _Lane("Roles", _sorted(data.handovers), "D", "#6a3d9a"),
        _Lane("Steps", _sorted(data.steps_done), "o", "#1b7f79"),
        _Lane("Statements", _sorted(data.statements), "s", "#1f4e8c"),
    ]


def _all_times(data: ChartData) -> list[datetime]:
    """Every moment on the chart, so nothing falls outside the axis."""
    marks = [*data.statuses, *data.severities, *data.handovers, *data.steps_done, *data.statements]
    return [_aware(data.start), _aware(data.end), *(_aware(m.at) for m in marks)]


def _x_limits(data: ChartData) -> tuple[datetime, datetime]:
    """The time axis: all marks, at least MIN_SPAN wide, with a little air at both ends."""
    times = _all_times(data)
    lo, hi = min(times), max(times)
    if hi - lo < MIN_SPAN:
        hi = lo + MIN_SPAN
    pad = (hi - lo) * 0.025
    return lo - pad, hi + pad


def _severity_level(label: str) -> int:
    """1 (worst) to 4 from "sev1".."sev4"; anything unreadable counts as the mildest."""
    found = re.search(r"[1-4]", label)
    return int(found.group()) if found else 4


def _duration(span: timedelta) -> str:
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


def _zone_name(tz: ZoneInfo) -> str:
    """The IANA name of the zone, e.g. "Asia/Shanghai"."""
    return getattr(tz, "key", None) or str(tz)


# ---- fonts and text -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _fonts() -> _Fonts:
    """Find a system CJK font once per process (e.g. Debian's fonts-wqy-microhei or fonts-noto-cjk);
    without one, text is cleaned so it never shows tofu boxes."""
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    cjk = next((name for name in CJK_FAMILIES if name in installed), None)
    families = (LATIN_FAMILY, cjk) if cjk else (LATIN_FAMILY,)
    drawable: set[int] = set()
    for family in families:
        drawable |= _charmap(family)
    return _Fonts(families, frozenset(drawable))


def _charmap(family: str) -> set[int]:
    """The code points one installed family can draw."""
    path = font_manager.findfont(FontProperties(family=family), fallback_to_default=False)
    return set(FT2Font(path).get_charmap())


def _drawable(text: str, fonts: _Fonts) -> str:
    """One line of text the fonts can draw: each run of characters they cannot becomes one "…"."""
    kept = "".join(ch if ch == " " or ord(ch) in fonts.drawable else "…" for ch in " ".join(text.split()))
    return re.sub(r"…(?:\s*…)+", "…", kept)


def _text_px(text: str, size_pt: float) -> float:
    """Estimated width in pixels, generous so bold text fits too: wide (CJK) characters take a full em."""
    em = size_pt * DPI / 72
    return sum(em if unicodedata.east_asian_width(ch) in ("W", "F") else 0.66 * em for ch in text)


def _clip(text: str, size_pt: float, max_px: float) -> str:
    """Shorten text with "…" so it fits in max_px."""
    if _text_px(text, size_pt) <= max_px:
        return text
    while text and _text_px(text + "…", size_pt) > max_px:
        text = text[:-1]
    return text.rstrip() + "…"


def _text(where: Axes | Figure, x: float, y: float, text: str, props: FontProperties, **style: object) -> Text:
    """Place literal text: never parsed as mathtext, since titles may contain "$"."""
    return where.text(x, y, text, fontproperties=props, parse_math=False, **style)  # type: ignore[arg-type]


# ---- drawing ------------------------------------------------------------------------------------


def _px(moment: datetime, lo: datetime, hi: datetime) -> float:
    """Horizontal position of a moment in pixels from the axes' left edge."""
    return (moment - lo) / (hi - lo) * AXES_WIDTH_PX


def _draw_frame(ax: Axes, data: ChartData, lanes: list[_Lane], lo: datetime, hi: datetime, fonts: _Fonts) -> None:
    """Axis, lane names with counts, lane separators, and date+time ticks in the incident's zone."""
    count = len(lanes)
    ax.set_xlim(date2num(lo), date2num(hi))
    ax.set_ylim(0, count)
    names = [lane.name if index < 2 else f"{lane.name} ({len(lane.marks)})" for index, lane in enumerate(lanes)]
    ax.set_yticks([count - index - 0.5 for index in range(count)], labels=names,
                  fontproperties=fonts.props(LANE_PT))
    ax.tick_params(axis="y", length=0)
    for boundary in range(1, count):
        ax.axhline(boundary, color="#d0d0d0", linewidth=0.8, zorder=1)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.xaxis.set_major_locator(AutoDateLocator(tz=data.tz, minticks=4, maxticks=9))
    seconds = hi - lo < SECONDS_TICKS_BELOW
    ax.xaxis.set_major_formatter(DateFormatter("%m-%d\n%H:%M:%S" if seconds else "%m-%d\n%H:%M", tz=data.tz))
    ax.tick_params(axis="x", labelsize=9)
    ax.grid(axis="x", color="#e6e6e6", linewidth=0.8, zorder=0)
    ax.set_axisbelow(True)
    ax.set_xlabel(f"Time ({_zone_name(data.tz)})", fontproperties=fonts.props(LANE_PT))
    ax.axvline(date2num(_aware(data.start)), color="#555555", linestyle="--", linewidth=1, zorder=2)


def _status_colour(status: str) -> str:
    """The fixed colour of a status; unknown codes share one neutral colour."""
    return STATUS_COLOURS.get(status.lower(), UNKNOWN_STATUS_COLOUR)


def _ink(colour: str) -> str:
    """Black or white, whichever reads better on the given fill."""
    red, green, blue = to_rgb(colour)
    return "#1a1a1a" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.6 else "white"


def _phases(marks: list[Mark], end: datetime) -> list[tuple[Mark, datetime]]:
    """Each status with the moment it gave way to the next; the last runs to `end`."""
    finishes = [m.at for m in marks[1:]] + [max(end, marks[-1].at)] if marks else []
    return list(zip(marks, finishes))


def _draw_statuses(ax: Axes, figure: Figure, data: ChartData, count: int, lo: datetime, hi: datetime,
                   fonts: _Fonts) -> None:
    """Phases as a solid strip in the Status lane, faint bands behind the other lanes, and a legend."""
    phases = _phases(_sorted(data.statuses), _aware(data.end))
    by_colour: dict[str, list[tuple[float, float]]] = {}
    for mark, finish in phases:
        start = date2num(mark.at)
        by_colour.setdefault(_status_colour(mark.label), []).append((start, date2num(finish) - start))
    for colour, spans in by_colour.items():
        ax.broken_barh(spans, (count - 0.85, 0.7), facecolors=colour, edgecolor="none", zorder=2)
        ax.broken_barh(spans, (0, count - 1), facecolors=colour, edgecolor="none", alpha=0.10, zorder=0)
    _label_phases(ax, phases, count, lo, hi, fonts)
    _draw_legend(figure, [mark.label for mark, _ in phases], fonts)


def _label_phases(ax: Axes, phases: list[tuple[Mark, datetime]], count: int, lo: datetime, hi: datetime,
                  fonts: _Fonts) -> None:
    """Write the status inside its strip where the strip is wide enough to hold it."""
    written = 0
    for mark, finish in phases:
        text = _drawable(mark.label, fonts)
        width = _px(finish, lo, hi) - _px(mark.at, lo, hi)
        if written >= MAX_LABELS_PER_LANE or _text_px(text, LABEL_PT + 1) + 8 > width:
            continue
        middle = mark.at + (finish - mark.at) / 2
        _text(ax, date2num(middle), count - 0.5, text, fonts.props(LABEL_PT + 1, "bold"), ha="center",
              va="center", color=_ink(_status_colour(mark.label)), zorder=3)
        written += 1


def _draw_legend(figure: Figure, statuses: list[str], fonts: _Fonts) -> None:
    """One legend entry per status that occurs, in the lifecycle's order, unknown codes last."""
    present = list(dict.fromkeys(s.lower() for s in statuses))
    ordered = [s for s in STATUS_COLOURS if s in present] + [s for s in present if s not in STATUS_COLOURS]
    if not ordered:
        return
    handles = [Patch(facecolor=_status_colour(s), edgecolor="none", label=_drawable(s, fonts)) for s in ordered]
    legend = figure.legend(handles=handles, loc="lower right", bbox_to_anchor=(AX_RIGHT, AX_TOP + 0.005),
                           ncols=len(handles), frameon=False, prop=fonts.props(9), handlelength=1.2,
                           columnspacing=1.2, borderaxespad=0)
    for text in legend.get_texts():
        text.set_parse_math(False)


def _severity_y(base: float, level: int) -> float:
    """Height within the Severity lane: SEV1 at the top, SEV4 at the bottom, so a raise steps up."""
    return base + 0.15 + (4 - level) / 3 * 0.55


def _draw_severities(ax: Axes, data: ChartData, base: int, lo: datetime, hi: datetime, fonts: _Fonts) -> None:
    """Severity as a step line with a coloured dot and "SEVn" at each change."""
    marks = _sorted(data.severities)
    if not marks:
        return
    levels = [_severity_level(m.label) for m in marks]
    finish = max(_aware(data.end), marks[-1].at)
    xs = [date2num(m.at) for m in marks] + [date2num(finish)]
    ys = [_severity_y(base, level) for level in levels] + [_severity_y(base, levels[-1])]
    ax.step(xs, ys, where="post", color="#444444", linewidth=1.6, zorder=3)
    colours = [SEVERITY_COLOURS[level] for level in levels]
    ax.scatter(xs[:-1], ys[:-1], s=36, c=colours, edgecolors="white", linewidths=0.6, zorder=4)
    texts = [f"SEV{level}" for level in levels]
    lefts = [_px(mark.at, lo, hi) + 5 + _text_px(text, LABEL_PT) / 2 for mark, text in zip(marks, texts)]
    for index, _, _ in _place_labels(lefts, texts, rows=1):
        _text(ax, xs[index], ys[index] + 0.05, texts[index], fonts.props(LABEL_PT, "bold"), ha="left",
              va="bottom", color=SEVERITY_COLOURS[levels[index]], zorder=5,
              bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.75})


def _label_extent(x: float, width: float) -> tuple[float, str]:
    """Left edge and alignment of a label centred on x, pushed inside the axes at either end."""
    if x - width / 2 < 0:
        return x, "left"
    if x + width / 2 > AXES_WIDTH_PX:
        return x - width, "right"
    return x - width / 2, "center"


def _place_labels(xs: list[float], texts: list[str], rows: int) -> list[tuple[int, int, str]]:
    """(index, row, alignment) of the labels to write: those that fit, then at most the cap, spread evenly."""
    placed = _fitting_labels(xs, texts, rows)
    if len(placed) <= MAX_LABELS_PER_LANE:
        return placed
    step = (len(placed) - 1) / (MAX_LABELS_PER_LANE - 1)
    return [placed[round(i * step)] for i in range(MAX_LABELS_PER_LANE)]


def _fitting_labels(xs: list[float], texts: list[str], rows: int) -> list[tuple[int, int, str]]:
    """Greedy left-to-right: each label takes the lowest free row; one with no room keeps only its marker."""
    right_edges = [-math.inf] * rows
    placed: list[tuple[int, int, str]] = []
    for index, (x, text) in enumerate(zip(xs, texts)):
        width = _text_px(text, LABEL_PT)
        left, align = _label_extent(x, width)
        row = next((r for r in range(rows) if left >= right_edges[r] + LABEL_GAP_PX), None)
        if row is not None:
            right_edges[row] = left + width
            placed.append((index, row, align))
    return placed


LABEL_ROWS = (0.40, 0.64)  # heights of the staggered label rows within a lane
MARKER_Y = 0.22


def _draw_marks(ax: Axes, lane: _Lane, base: int, lo: datetime, hi: datetime, fonts: _Fonts) -> None:
    """Markers along the lane, labels staggered over two rows and thinned where they would collide."""
    if not lane.marks:
        return
    xs = [date2num(m.at) for m in lane.marks]
    ax.scatter(xs, [base + MARKER_Y] * len(xs), s=30, marker=lane.marker, c=lane.colour, edgecolors="white",
               linewidths=0.5, alpha=0.9, zorder=4)
    texts = [_drawable(m.label, fonts) for m in lane.marks]
    placed = _place_labels([_px(m.at, lo, hi) for m in lane.marks], texts, len(LABEL_ROWS))
    for index, row, align in placed:
        top = base + LABEL_ROWS[row]
        ax.vlines(xs[index], base + MARKER_Y + 0.06, top - 0.02, colors=lane.colour, linewidth=0.6,
                  alpha=0.6, zorder=3)
        _text(ax, xs[index], top, texts[index], fonts.props(LABEL_PT), ha=align, va="bottom",
              color="#222222", zorder=5)


def _draw_header(figure: Figure, data: ChartData, fonts: _Fonts) -> None:
    """Title line (key, title, [DRILL]) and a line of context: declared when, how long, status now."""
    suffix = " [DRILL]" if data.drill else ""
    room = WIDTH_IN * DPI * (AX_RIGHT - 0.01) - _text_px(f"{data.key} {suffix}", TITLE_PT) * 1.1
    title = _clip(_drawable(data.title, fonts), TITLE_PT * 1.1, room)
    heading = " ".join(part for part in (data.key, title) if part) + suffix
    _text(figure, 0.01, 0.94, heading, fonts.props(TITLE_PT, "bold"), ha="left", va="center", color="#111111")
    start, end = _aware(data.start).astimezone(data.tz), _aware(data.end)
    statuses = _sorted(data.statuses)
    facts = [f"Declared {start:%Y-%m-%d %H:%M}", f"duration {_duration(end - _aware(data.start))}"]
    if statuses:
        facts.append(f"status: {_drawable(statuses[-1].label, fonts)}")
    _text(figure, 0.01, 0.865, "  ·  ".join(facts), fonts.props(SUBTITLE_PT), ha="left", va="center",
          color="#555555")
