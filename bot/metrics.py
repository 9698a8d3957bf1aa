"""Prometheus metrics: counts only, never titles or names, so private incidents stay private."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge

if TYPE_CHECKING:
    from bot.figures import Figures

REGISTRY = CollectorRegistry()

REQUESTS = Counter(
    "yingji_slack_requests_total", "Requests from Slack by outcome", ["status"], registry=REGISTRY
)
INCIDENTS_DECLARED = Counter(
    "yingji_incidents_declared_total", "Incidents declared", ["severity"], registry=REGISTRY
)
OUTBOX_OPS = Counter(
    "yingji_outbox_ops_total", "Slack operations by kind and result", ["kind", "result"], registry=REGISTRY
)
BACKGROUND_TASKS = Gauge("yingji_background_tasks", "Background tasks running", registry=REGISTRY)

WINDOW_DAYS = 30
INCIDENTS_BY_SEVERITY = Gauge(
    "yingji_incidents_30d", "Incidents declared in the last 30 days by severity (drills excluded)", ["severity"],
    registry=REGISTRY,
)
INCIDENTS_BY_PLAYBOOK = Gauge(
    "yingji_incidents_by_playbook_30d", "Incidents declared in the last 30 days by playbook (drills excluded)",
    ["playbook"], registry=REGISTRY,
)
MEDIAN_TTA = Gauge(
    "yingji_median_time_to_acknowledge_seconds_30d", "Median time to acknowledge over 30 days (drills excluded)",
    registry=REGISTRY,
)
MEDIAN_TTR = Gauge(
    "yingji_median_time_to_resolve_seconds_30d", "Median time to resolve over 30 days (drills excluded)",
    registry=REGISTRY,
)


def publish(figures: Figures) -> None:
    """Expose the report's figures; counts and durations only, never a title."""
    INCIDENTS_BY_SEVERITY.clear()
    INCIDENTS_BY_PLAYBOOK.clear()
    for severity, count in figures.by_severity.items():
        INCIDENTS_BY_SEVERITY.labels(severity).set(count)
    for playbook, count in figures.by_playbook.items():
        INCIDENTS_BY_PLAYBOOK.labels(playbook).set(count)
    MEDIAN_TTA.set(figures.median_time_to_acknowledge if figures.median_time_to_acknowledge is not None else float("nan"))
    MEDIAN_TTR.set(figures.median_time_to_resolve if figures.median_time_to_resolve is not None else float("nan"))
