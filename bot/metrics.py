"""Prometheus metrics: counts only, never titles or names, so private incidents stay private."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

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
