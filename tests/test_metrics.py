"""/metrics by Prometheus' conventions: every label set at zero from the start, units last, no window in a name,
no NaN, and the Slack and hook endpoints counted and timed."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.figures import Figures
from bot.metrics import REGISTRY
from bot.slack.ops import OPERATIONS
from bot.vocabulary import OpResult, Severity
from tests.helpers import post
from yingji.local import LocalStack

# A fresh interpreter: the bot started on an empty database, scraped once before anything happened.
FIRST_SCRAPE = """
import asyncio, sys, tempfile
from pathlib import Path
import aiohttp
from yingji.local import LocalStack

async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = await LocalStack.start(Path(tmp))
        try:
            async with aiohttp.ClientSession() as http, http.get(f"{stack.server.url}/metrics") as resp:
                sys.stdout.write(await resp.text())
        finally:
            await stack.stop()

asyncio.run(main())
"""
# What dashboards and alerting rules rely on, spelled out here rather than read from bot/metrics.py.
PATHS = ("/slack/events", "/hooks/alertmanager", "/hooks/alert", "/status", "/status.json", "/status/feed.atom",
         "/status/banner.js")
CODES = ("2xx", "3xx", "4xx", "5xx")
OUTBOX_RESULTS = (OpResult.DONE, OpResult.FAILED)  # what the runner counts
WINDOW_IN_NAME = re.compile(r"_\d+[smhdwy](_|$)")


@pytest.fixture(scope="module")
def first_scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a new bot's first /metrics, by name and labels."""
    text = subprocess.run([sys.executable, "-c", FIRST_SCRAPE], capture_output=True, text=True, check=True,
                          timeout=120).stdout
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _at(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_every_label_set_is_at_zero_from_the_start(first_scrape: dict[Any, float]) -> None:
    for severity in Severity:
        assert _at(first_scrape, "yingji_incidents_declared_total", severity=severity) == 0, severity
        assert _at(first_scrape, "yingji_incidents", severity=severity, window="30d") == 0, severity
    for path in PATHS:
        assert _at(first_scrape, "yingji_http_request_duration_seconds_count", path=path) == 0, path
        for code in CODES:
            assert _at(first_scrape, "yingji_http_requests_total", path=path, code=code) == 0, (path, code)
    for kind in OPERATIONS:
        for result in OUTBOX_RESULTS:
            assert _at(first_scrape, "yingji_outbox_ops_total", kind=kind, result=result) == 0, (kind, result)
    assert _at(first_scrape, "yingji_incidents_by_playbook", playbook="payment-failure", window="30d") == 0


def test_no_nan_and_no_median_without_data(first_scrape: dict[Any, float]) -> None:
    assert not [key for key, value in first_scrape.items() if math.isnan(value)]
    assert not [name for name, _ in first_scrape if name.startswith("yingji_median_")]


def test_names_end_in_their_unit_and_carry_no_window() -> None:
    for family in REGISTRY.collect():
        assert not WINDOW_IN_NAME.search(family.name), family.name
        assert family.documentation, family.name
        if family.type == "counter":
            assert all(s.name.endswith("_total") for s in family.samples), family.name
        if family.type == "histogram" or "time" in family.name or "duration" in family.name:
            assert family.name.endswith("_seconds"), family.name


def test_publish_leaves_out_what_has_no_data_and_sets_the_rest() -> None:
    since = datetime(2024, 5, 1, tzinfo=UTC)
    metrics.publish(Figures(since=since, incidents=1, by_severity={"sev2": 1}, by_playbook={"gone": 1},
                    median_time_to_acknowledge=42.0), ["site-outage"])
    assert REGISTRY.get_sample_value("yingji_median_time_to_acknowledge_seconds", {"window": "30d"}) == 42.0
    assert REGISTRY.get_sample_value("yingji_median_time_to_resolve_seconds", {"window": "30d"}) is None
    assert REGISTRY.get_sample_value("yingji_incidents", {"window": "30d", "severity": "sev1"}) == 0
    assert REGISTRY.get_sample_value("yingji_incidents_by_playbook", {"window": "30d", "playbook": "gone"}) == 1
    assert REGISTRY.get_sample_value("yingji_incidents_by_playbook", {"window": "30d", "playbook": "site-outage"}) == 0
    metrics.publish(Figures(since=since, incidents=0), [])
    assert REGISTRY.get_sample_value("yingji_median_time_to_acknowledge_seconds", {"window": "30d"}) is None
    assert REGISTRY.get_sample_value("yingji_incidents_by_playbook", {"window": "30d", "playbook": "gone"}) is None


def _requests(path: str) -> dict[str, float]:
    """The request counters and the histogram's count of one path, as they are now."""
    counts = {code: REGISTRY.get_sample_value("yingji_http_requests_total", {"path": path, "code": code}) or 0.0
              for code in CODES}
    counts["timed"] = REGISTRY.get_sample_value("yingji_http_request_duration_seconds_count", {"path": path}) or 0.0
    return counts


def _moved(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in before if after[key] != before[key]}


async def test_an_exception_counts_as_a_timed_5xx() -> None:
    class Broken(Exception):
        pass

    async def handler(_: object) -> aiohttp.web.Response:
        raise Broken

    before = _requests("/hooks/alert")
    with pytest.raises(Broken):
        await metrics.observed("/hooks/alert", handler)(object())
    assert _moved(before, _requests("/hooks/alert")) == {"5xx": 1, "timed": 1}


async def test_hook_and_slack_requests_are_counted_and_timed(stack: LocalStack) -> None:
    before = {path: _requests(path) for path in PATHS}
    assert (await post(stack, "/hooks/alert", {"title": "x", "dedup_key": "y"}, token="wrong"))[0] == 401
    assert (await post(stack, "/hooks/alert", {"title": "Coupon API 5xx", "dedup_key": "coupon", "status": "resolved"}))[0] == 200  # ignored: no Slack work
    assert (await post(stack, "/hooks/alertmanager", {"version": "4"}))[0] == 400
    reply = await stack.actor.slash("/incident", "help", user_id=stack.users["guest"], channel_id=stack.channels["general"])
    assert reply.status == 200
    async with aiohttp.ClientSession() as http, http.post(f"{stack.server.url}/slack/events",
                                                          data=json.dumps({"type": "x"})) as resp:
        assert resp.status == 401  # unsigned
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack.server.url}/status") as page:
            assert page.status == 200
        async with http.get(f"{stack.server.url}/status", headers={"If-None-Match": page.headers["ETag"]}) as same:
            assert same.status == 304
    await stack.settle()
    moved = {path: change for path in PATHS if (change := _moved(before[path], _requests(path)))}
    assert moved == {
        "/hooks/alert": {"2xx": 1, "4xx": 1, "timed": 2},
        "/hooks/alertmanager": {"4xx": 1, "timed": 1},
        "/slack/events": {"2xx": 1, "4xx": 1, "timed": 2},
        "/status": {"2xx": 1, "3xx": 1, "timed": 2},
    }
