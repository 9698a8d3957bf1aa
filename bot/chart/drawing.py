"""The matplotlib side of the chart: lanes, strips, markers and labels drawn on one figure and saved as PNG."""

from __future__ import annotations

import io
import math
import threading
from dataclasses import dataclass
from datetime import datetime

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from bot.chart import typography
from bot.chart.model import (
    AX_BOTTOM,
    AX_LEFT,
    AX_RIGHT,
    AX_TOP,
    AXES_WIDTH_PX,
    DPI,
    HEIGHT_IN,
    LABEL_GAP_PX,
    LABEL_PT,
    LANE_PT,
    MAX_LABELS_PER_LANE,
    SECONDS_TICKS_BELOW,
    SEVERITY_COLOURS,
    STATUS_COLOURS,
    SUBTITLE_PT,
    TITLE_PT,
    UNKNOWN_STATUS_COLOUR,
    WIDTH_IN,
    ChartData,
    Mark,
    aware,
    duration,
    severity_level,
    sorted_marks,
    x_limits,
    zone_label,
)
from bot.times import when

# Matplotlib is not thread-safe (shared font caches); the bot renders from worker threads.
_RENDER_LOCK = threading.Lock()


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
        return _png(_figure(data, typography.fonts()))


def _png(figure: Figure) -> bytes:
    """PNG bytes with no software or time stamp in the metadata, so they depend only on the drawing."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def _figure(data: ChartData, fonts: typography.Fonts) -> Figure:
    """Draw every part on a fresh figure, without pyplot's global state."""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    ax = figure.add_axes((AX_LEFT, AX_BOTTOM, AX_RIGHT - AX_LEFT, AX_TOP - AX_BOTTOM))
    lo, hi = x_limits(data)
    lanes = _lanes(data)
    _draw_frame(ax, data, lanes, lo, hi, fonts)
    _draw_statuses(ax, figure, data, len(lanes), lo, hi, fonts)
    _draw_severities(ax, data, len(lanes) - 2, lo, hi, fonts)
    for index, lane in enumerate(lanes[2:]):
        _draw_marks(ax, lane, len(lanes) - 3 - index, lo, hi, fonts)
    _draw_header(figure, data, fonts)
    if data.drill:
        typography.text(ax, 0.5, 0.5, "DRILL", fonts.props(72, "bold"), transform=ax.transAxes, ha="center",
                        va="center", color="#000000", alpha=0.06, zorder=0)
    return figure


def _lanes(data: ChartData) -> list[_Lane]:
    """Rows top to bottom; all are drawn even when empty so every chart has the same layout."""
    return [
        _Lane("Status", sorted_marks(data.statuses), "", ""),
        _Lane("Severity", sorted_marks(data.severities), "", ""),
        _Lane("Roles", sorted_marks(data.handovers), "D", "#6a3d9a"),
        _Lane("Steps", sorted_marks(data.steps_done), "o", "#1b7f79"),
        _Lane("Statements", sorted_marks(data.statements), "s", "#1f4e8c"),
    ]


# ---- drawing ------------------------------------------------------------------------------------


def _px(moment: datetime, lo: datetime, hi: datetime) -> float:
    """Horizontal position of a moment in pixels from the axes' left edge."""
    return (moment - lo) / (hi - lo) * AXES_WIDTH_PX


def _draw_frame(ax: Axes, data: ChartData, lanes: list[_Lane], lo: datetime, hi: datetime,
                fonts: typography.Fonts) -> None:
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
    ax.set_xlabel(f"Time ({zone_label(data.tz, lo, hi)})", fontproperties=fonts.props(LANE_PT))
    ax.axvline(date2num(aware(data.start)), color="#555555", linestyle="--", linewidth=1, zorder=2)


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
    return list(zip(marks, finishes, strict=True))


def _draw_statuses(ax: Axes, figure: Figure, data: ChartData, count: int, lo: datetime, hi: datetime,
                   fonts: typography.Fonts) -> None:
    """Phases as a solid strip in the Status lane, faint bands behind the other lanes, and a legend."""
    phases = _phases(sorted_marks(data.statuses), aware(data.end))
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
                  fonts: typography.Fonts) -> None:
    """Write the status inside its strip where the strip is wide enough to hold it."""
    written = 0
    for mark, finish in phases:
        text = typography.drawable(mark.label, fonts)
        width = _px(finish, lo, hi) - _px(mark.at, lo, hi)
        if written >= MAX_LABELS_PER_LANE or typography.text_px(text, LABEL_PT + 1) + 8 > width:
            continue
        middle = mark.at + (finish - mark.at) / 2
        typography.text(ax, date2num(middle), count - 0.5, text, fonts.props(LABEL_PT + 1, "bold"),
                        ha="center", va="center", color=_ink(_status_colour(mark.label)), zorder=3)
        written += 1


def _draw_legend(figure: Figure, statuses: list[str], fonts: typography.Fonts) -> None:
    """One legend entry per status that occurs, in the lifecycle's order, unknown codes last."""
    present = list(dict.fromkeys(s.lower() for s in statuses))
    ordered = [s for s in STATUS_COLOURS if s in present] + [s for s in present if s not in STATUS_COLOURS]
    if not ordered:
        return
    handles = [Patch(facecolor=_status_colour(s), edgecolor="none", label=typography.drawable(s, fonts))
               for s in ordered]
    legend = figure.legend(handles=handles, loc="lower right", bbox_to_anchor=(AX_RIGHT, AX_TOP + 0.005),
                           ncols=len(handles), frameon=False, prop=fonts.props(9), handlelength=1.2,
                           columnspacing=1.2, borderaxespad=0)
    for text in legend.get_texts():
        text.set_parse_math(False)


def _severity_y(base: float, level: int) -> float:
    """Height within the Severity lane: SEV1 at the top, SEV4 at the bottom, so a raise steps up."""
    return base + 0.15 + (4 - level) / 3 * 0.55


def _draw_severities(ax: Axes, data: ChartData, base: int, lo: datetime, hi: datetime,
                     fonts: typography.Fonts) -> None:
    """Severity as a step line with a coloured dot and "SEVn" at each change."""
    marks = sorted_marks(data.severities)
    if not marks:
        return
    levels = [severity_level(m.label) for m in marks]
    finish = max(aware(data.end), marks[-1].at)
    xs = [date2num(m.at) for m in marks] + [date2num(finish)]
    ys = [_severity_y(base, level) for level in levels] + [_severity_y(base, levels[-1])]
    ax.step(xs, ys, where="post", color="#444444", linewidth=1.6, zorder=3)
    colours = [SEVERITY_COLOURS[level] for level in levels]
    ax.scatter(xs[:-1], ys[:-1], s=36, c=colours, edgecolors="white", linewidths=0.6, zorder=4)
    texts = [f"SEV{level}" for level in levels]
    lefts = [_px(mark.at, lo, hi) + 5 + typography.text_px(text, LABEL_PT) / 2
             for mark, text in zip(marks, texts, strict=True)]
    for index, _, _ in _place_labels(lefts, texts, rows=1):
        typography.text(ax, xs[index], ys[index] + 0.05, texts[index], fonts.props(LABEL_PT, "bold"), ha="left",
                        va="bottom", color=SEVERITY_COLOURS[levels[index]], zorder=5,
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none",
                              "alpha": 0.75})


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
    for index, (x, text) in enumerate(zip(xs, texts, strict=True)):
        width = typography.text_px(text, LABEL_PT)
        left, align = _label_extent(x, width)
        row = next((r for r in range(rows) if left >= right_edges[r] + LABEL_GAP_PX), None)
        if row is not None:
            right_edges[row] = left + width
            placed.append((index, row, align))
    return placed


LABEL_ROWS = (0.40, 0.64)  # heights of the staggered label rows within a lane
MARKER_Y = 0.22


def _draw_marks(ax: Axes, lane: _Lane, base: int, lo: datetime, hi: datetime, fonts: typography.Fonts) -> None:
    """Markers along the lane, labels staggered over two rows and thinned where they would collide."""
    if not lane.marks:
        return
    xs = [date2num(m.at) for m in lane.marks]
    ax.scatter(xs, [base + MARKER_Y] * len(xs), s=30, marker=lane.marker, c=lane.colour, edgecolors="white",
               linewidths=0.5, alpha=0.9, zorder=4)
    texts = [typography.drawable(m.label, fonts) for m in lane.marks]
    placed = _place_labels([_px(m.at, lo, hi) for m in lane.marks], texts, len(LABEL_ROWS))
    for index, row, align in placed:
        top = base + LABEL_ROWS[row]
        ax.vlines(xs[index], base + MARKER_Y + 0.06, top - 0.02, colors=lane.colour, linewidth=0.6,
                  alpha=0.6, zorder=3)
        typography.text(ax, xs[index], top, texts[index], fonts.props(LABEL_PT), ha=align, va="bottom",
                        color="#222222", zorder=5)


def _draw_header(figure: Figure, data: ChartData, fonts: typography.Fonts) -> None:
    """Title line (key, title, [DRILL]) and a line of context: declared when, how long, status now."""
    suffix = " [DRILL]" if data.drill else ""
    room = WIDTH_IN * DPI * (AX_RIGHT - 0.01) - typography.text_px(f"{data.key} {suffix}", TITLE_PT) * 1.1
    title = typography.clip(typography.drawable(data.title, fonts), TITLE_PT * 1.1, room)
    heading = " ".join(part for part in (data.key, title) if part) + suffix
    typography.text(figure, 0.01, 0.94, heading, fonts.props(TITLE_PT, "bold"), ha="left", va="center",
                    color="#111111")
    start, end = aware(data.start), aware(data.end)
    statuses = sorted_marks(data.statuses)
    facts = [f"Declared {when(start, data.tz)}", f"duration {duration(end - start)}"]
    if statuses:
        facts.append(f"status: {typography.drawable(statuses[-1].label, fonts)}")
    typography.text(figure, 0.01, 0.865, "  ·  ".join(facts), fonts.props(SUBTITLE_PT), ha="left", va="center",
                    color="#555555")
