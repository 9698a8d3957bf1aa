"""The incident timeline chart: plain data in, PNG bytes out, because a manager would rather look than read."""

from bot.chart.drawing import render_timeline
from bot.chart.model import ChartData, Mark

__all__ = ["ChartData", "Mark", "render_timeline"]
