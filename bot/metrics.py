"""Prometheus metrics: counts and durations only, never titles or names, so private incidents stay private.

Named by Prometheus' conventions: the unit last (`_seconds`, `_total` on counters), a time window as a label
rather than in the name. Every label set exists from the start at zero, so `increase()` sees the first event
of each; a figure with no data is left out rather than exported as NaN.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from bot.vocabulary import OpResult, Severity

if TYPE_CHECKING:
    from bot.figures import Figures

disable_created_metrics()  # a `_created` gauge beside every counter doubles the series and no rule reads it

REGISTRY = CollectorRegistry()

CODES = ("2xx", "3xx", "4xx", "5xx")  # the classes handlers answer with (3xx: the status page's 304; 5xx: aiohttp's)
OUTBOX_RESULTS = (OpResult.DONE, OpResult.FAILED)  # as bot/slack/runner.py counts them
WINDOW_DAYS = 30
WINDOW = f"{WINDOW_DAYS}d"
# Slack gives an ack 3 s; an alert group of thousands takes seconds to store.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "yingji_http_requests_total", "Requests answered on /slack/events, the alert hooks and the status page, by status class",
    ["path", "code"], registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "yingji_http_request_duration_seconds", "Time from a request's headers to its answer (body read included) on /slack/events, the hooks and the status page",
    ["path"], buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
INCIDENTS_DECLARED = Counter(
    "yingji_incidents_declared_total", "Incidents declared, by severity (drills excluded)", ["severity"],
    registry=REGISTRY,
)
OUTBOX_OPS = Counter(
    "yingji_outbox_ops_total", "Slack operations finished, by kind and result", ["kind", "result"], registry=REGISTRY
)
OUTBOX_UNTOLD = Counter(
    "yingji_outbox_untold_total", "Slack operations given up with nobody to tell (each logged at WARNING), by kind",
    ["kind"], registry=REGISTRY,
)
BACKGROUND_TASKS = Gauge("yingji_background_tasks", "Background tasks running", registry=REGISTRY)
INCIDENTS = Gauge(
    "yingji_incidents", "Incidents declared within the window, by severity (drills excluded)", ["window", "severity"],
    registry=REGISTRY,
)
INCIDENTS_BY_PLAYBOOK = Gauge(
    "yingji_incidents_by_playbook", "Incidents declared within the window, by playbook (drills excluded)",
    ["window", "playbook"], registry=REGISTRY,
)
MEDIAN_TTA = Gauge(
    "yingji_median_time_to_acknowledge_seconds", "Median time to acknowledge within the window (drills excluded)",
    ["window"], registry=REGISTRY,
)
MEDIAN_TTR = Gauge(
    "yingji_median_time_to_resolve_seconds", "Median time to resolve within the window (drills excluded)",
    ["window"], registry=REGISTRY,
)



def _prime() -> None:
    """Every severity at zero from the start (a labelled series is born on first use; paths: `observed`)."""
    for severity in Severity:
        INCIDENTS_DECLARED.labels(severity)


_prime()


def prime_outbox(kinds: Iterable[str]) -> None:
    """Every operation kind and result at zero, so the first failure of a kind is an increase too.

    The kinds live in bot/slack/ops, which imports this module; the composition root passes them in.
    """
    for kind in kinds:
        for result in OUTBOX_RESULTS:
            OUTBOX_OPS.labels(kind, result)
        OUTBOX_UNTOLD.labels(kind)


class Answer(Protocol):
    """What a handler returns, as far as counting goes."""

    @property
    def status(self) -> int: ...


Req = TypeVar("Req")
Ans = TypeVar("Ans", bound=Answer)


def code_class(status: int) -> str:
    """`2xx`, `4xx`, `5xx`: few series, and what alerting rules ask about."""
    return f"{status // 100}xx"


def observed(path: str, handler: Callable[[Req], Awaitable[Ans]]) -> Callable[[Req], Awaitable[Ans]]:
    """The handler, its answers counted by status class and timed; an exception counts as aiohttp's 500. Its series
    exist at zero from the start and are looked up here once, not per request (the status page answers thousands a
    second)."""
    duration = HTTP_DURATION.labels(path)
    counts = {int(code[0]): HTTP_REQUESTS.labels(path, code) for code in CODES}

    def count(status: int) -> None:
        counter = counts.get(status // 100)
        (counter or HTTP_REQUESTS.labels(path, code_class(status))).inc()

    async def handle(request: Req) -> Ans:
        started = time.perf_counter()
        try:
            response = await handler(request)
        except Exception:
            count(500)
            duration.observe(time.perf_counter() - started)
            raise
        count(response.status)
        duration.observe(time.perf_counter() - started)
        return response

    return handle


def publish(figures: Figures, playbooks: Iterable[str]) -> None:
    """Expose the report's figures for every severity and known playbook; a median with no data is left out."""
    INCIDENTS_BY_PLAYBOOK.clear()
    for severity in Severity:
        INCIDENTS.labels(WINDOW, severity).set(figures.by_severity.get(severity, 0))
    for playbook in sorted({*playbooks, *figures.by_playbook}):
        INCIDENTS_BY_PLAYBOOK.labels(WINDOW, playbook).set(figures.by_playbook.get(playbook, 0))
    for gauge, value in ((MEDIAN_TTA, figures.median_time_to_acknowledge), (MEDIAN_TTR, figures.median_time_to_resolve)):
        gauge.clear()
        if value is not None:
            gauge.labels(WINDOW).set(value)
