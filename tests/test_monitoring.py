"""The bot under real monitoring: Debian's Alertmanager notifying the hook, Prometheus scraping /metrics.

Both run on loopback with their own data directories and are killed at the end (see tests/monitoring.py);
without the binaries the tests are skipped and the run says so, except under .ci/run, where they must run.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func
from sqlmodel import col, select

from bot.metrics import REGISTRY
from bot.models import Incident, TimelineEvent
from bot.vocabulary import Severity
from tests.helpers import declare
from tests.monitoring import Daemon, alertmanager, check_tool, need, prometheus, query, until
from yingji.local import LocalStack

README = Path(__file__).resolve().parent.parent / "README.md"
MiB = 1024 * 1024
DECLARATIONS = 3
STORM_GROUPS = ("storm-1", "storm-2", "storm-3", "storm-4")
PER_GROUP = 50                # 4 × 50: the 200-alert storm
BIG = 2500                    # one group whose notification is over 1 MiB
ALERT_KINDS = ("alert_firing", "alert_resolved")


def _stamp(moment: datetime) -> str:
    """RFC 3339 in UTC, as Alertmanager's API reads it."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _alert(group: str, n: int, starts: datetime, ends: datetime | None = None) -> dict[str, Any]:
    """One alert as Prometheus posts it to Alertmanager; the big group's are per-pod and wordy, as they are."""
    labels = {"alertname": "CheckoutErrors", "group": group, "instance": f"10.1.{n // 250}.{n % 250}:8080"}
    annotations = {"summary": "Checkout 5xx above 5%"}
    if group == "big":
        labels |= {"alertname": "KubePodCrashLooping", "namespace": "shop-prod", "container": "checkout",
                   "pod": f"checkout-7d9f8c6b5d-{n:05d}"}
        annotations = {"summary": "Pod is crash looping",
                       "description": f"Pod shop-prod/checkout-7d9f8c6b5d-{n:05d} (checkout) is restarting "
                                      "2.5 times / 10 minutes; the last termination reason was OOMKilled while "
                                      "the payment callback queue was draining after the promotion started."}
    return {"labels": labels, "annotations": annotations, "startsAt": _stamp(starts),
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=checkout_5xx_ratio+%3E+0.05",
            **({"endsAt": _stamp(ends)} if ends else {})}


def _alertmanager_config(bot: str, proxy: str, token: str) -> dict[str, Any]:
    """Group by `group`, seconds-short timings; the big group goes through the proxy that drops an answer."""

    def webhook(base: str) -> dict[str, Any]:
        return {"url": f"{base}/hooks/alertmanager", "send_resolved": True,
                "http_config": {"authorization": {"credentials": token}}}

    return {
        "route": {"receiver": "yingji", "group_by": ["group"], "group_wait": "1s", "group_interval": "1s",
                  "repeat_interval": "1s",
                  # Alertmanager takes a second or two to take in 2,500 alerts: wait for all before the first notification.
                  "routes": [{"matchers": ['group="big"'], "receiver": "yingji-answer-lost", "group_wait": "4s"}]},
        "receivers": [{"name": "yingji", "webhook_configs": [webhook(bot)]},
                      {"name": "yingji-answer-lost", "webhook_configs": [webhook(proxy)]}],
    }


@dataclass
class LostAnswer:
    """Passes each notification to the bot, but tells Alertmanager 503 for the first one, as if the answer
    were lost: Alertmanager sends it again, and the bot must not record it twice."""

    target: str
    http: aiohttp.ClientSession
    sizes: list[int] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {name: request.headers[name] for name in ("Authorization", "Content-Type")}
        async with self.http.post(f"{self.target}{request.path}", data=body, headers=headers) as resp:
            status, answer = resp.status, await resp.read()
        self.sizes.append(len(body))
        if len(self.sizes) == 1:
            return web.json_response({"error": "answer lost on the way"}, status=503)
        return web.Response(status=status, body=answer, content_type="application/json")


@asynccontextmanager
async def lost_answer(target: str) -> AsyncIterator[tuple[LostAnswer, str]]:
    """The proxy on a free loopback port, and its base URL."""
    async with aiohttp.ClientSession() as http:
        proxy = LostAnswer(target, http)
        app = web.Application(client_max_size=64 * MiB)
        app.router.add_post("/hooks/alertmanager", proxy.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield proxy, f"http://127.0.0.1:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()


async def _post_alerts(http: aiohttp.ClientSession, am: Daemon, alerts: list[dict[str, Any]]) -> None:
    async with http.post(f"{am.url}/api/v2/alerts", json=alerts) as resp:
        assert resp.status == 200, await resp.text()


async def _recorded(stack: LocalStack) -> dict[str, Any]:
    """Per alert group: the incidents it opened and its alert events by kind."""
    async with stack.rt.sessions() as session:
        opened = (await session.exec(select(Incident.id, Incident.alert_key))).all()
        counted = (await session.exec(
            select(TimelineEvent.incident_id, TimelineEvent.kind, func.count())
            .where(col(TimelineEvent.kind).in_(ALERT_KINDS))
            .group_by(TimelineEvent.incident_id, TimelineEvent.kind))).all()
    group_of = {incident: re.findall(r'group="([^"]+)"', key or "")[-1] for incident, key in opened}
    incidents = Counter(group_of.values())
    events: dict[str, dict[str, int]] = {}
    for incident, kind, n in counted:
        events.setdefault(group_of[incident], {})[kind] = n
    return {"incidents": dict(incidents), "events": events}


def _expected(storm_1: dict[str, int]) -> dict[str, Any]:
    """What _recorded should read: one incident per group, each alert once, storm-1 at the stage given."""
    events = {group: {"alert_firing": PER_GROUP} for group in STORM_GROUPS} | {"big": {"alert_firing": BIG}}
    return {"incidents": dict.fromkeys((*STORM_GROUPS, "big"), 1), "events": events | {"storm-1": storm_1}}


async def _each_once(stack: LocalStack) -> tuple[int, int]:
    """Alert events, and distinct alert instances (fingerprint, start, kind) among them."""
    async with stack.rt.sessions() as session:
        rows = (await session.exec(select(TimelineEvent).where(col(TimelineEvent.kind).in_(ALERT_KINDS)))).all()
    return len(rows), len({(row.data["fingerprint"], row.data["starts_at"], row.kind) for row in rows})


def _notified() -> float:
    """Notifications the bot has answered 2xx on /hooks/alertmanager (this process, every test)."""
    return REGISTRY.get_sample_value("yingji_http_requests_total", {"path": "/hooks/alertmanager", "code": "2xx"}) or 0


async def test_alertmanager_storm_big_group_resolve_and_refire(stack: LocalStack, tmp_path: Path) -> None:
    assert stack.alert_token is not None
    first = datetime.now(UTC)  # an older start skips group_wait: Alertmanager would notify before all were in
    async with (lost_answer(stack.server.url) as (proxy, proxy_url),
                alertmanager(tmp_path / "alertmanager",
                             _alertmanager_config(stack.server.url, proxy_url, stack.alert_token)) as am,
                aiohttp.ClientSession() as http):
        storm = [_alert(group, n, first) for group in STORM_GROUPS for n in range(PER_GROUP)]
        await asyncio.gather(*(_post_alerts(http, am, storm[i:i + 10]) for i in range(0, len(storm), 10)))
        await _post_alerts(http, am, [_alert("big", n, first) for n in range(BIG)])
        await until(lambda: _recorded(stack), lambda got: got == _expected({"alert_firing": PER_GROUP}), 40,
                    "the storm and the big group recorded, one incident per group")

        ended = datetime.now(UTC)
        await _post_alerts(http, am, [_alert("storm-1", n, first, ended) for n in range(PER_GROUP)])
        resolved = {"alert_firing": PER_GROUP, "alert_resolved": PER_GROUP}
        await until(lambda: _recorded(stack), lambda got: got == _expected(resolved), 20, "storm-1 resolved")

        again = datetime.now(UTC)
        await _post_alerts(http, am, [_alert("storm-1", n, again) for n in range(PER_GROUP)])
        refired = {"alert_firing": 2 * PER_GROUP, "alert_resolved": PER_GROUP}
        await until(lambda: _recorded(stack), lambda got: got == _expected(refired), 20,
                    "storm-1 firing again, in its open incident")

        repeats_from = _notified(), len(proxy.sizes)

        async def repeated() -> tuple[float, int]:
            return _notified() - repeats_from[0], len(proxy.sizes) - repeats_from[1]

        groups = len(STORM_GROUPS) + 1
        await until(repeated, lambda got: got[0] >= 2 * groups and got[1] >= 2, 20, "two repeats of each group")
        assert await _recorded(stack) == _expected(refired)
        assert proxy.sizes[0] > MiB and proxy.sizes[1] == proxy.sizes[0]  # over 1 MiB, sent again after the lost answer
        events, instances = await _each_once(stack)
        assert events == instances == len(STORM_GROUPS) * PER_GROUP + 2 * PER_GROUP + BIG  # + storm-1 resolved, re-fired


async def test_prometheus_sees_every_declaration(stack: LocalStack, tmp_path: Path) -> None:
    series = 'yingji_incidents_declared_total{job="yingji",severity="sev3"}'
    timed = 'yingji_http_request_duration_seconds_count{job="yingji",path="/slack/events"}'
    async with prometheus(tmp_path / "prometheus", f"127.0.0.1:{stack.server.port}") as prom:
        # Every severity's series is scraped before anything is declared: the first declaration is an increase.
        await until(lambda: query(prom, 'count(yingji_incidents_declared_total{job="yingji"})'),
                    lambda n: n == len(Severity), 15, "every severity's series in Prometheus")
        before = time.time()
        for n in range(DECLARATIONS):
            await declare(stack, f"declare sev3 payment-failure 监控 {n}")
        await until(lambda: query(prom, f"{series} - {series} @ {before:.3f}"), lambda n: n == DECLARATIONS, 15,
                    f"{DECLARATIONS} declarations counted")
        assert (await query(prom, f"{timed} - {timed} @ {before:.3f}") or 0) >= DECLARATIONS
    async with aiohttp.ClientSession() as http, http.get(f"{stack.server.url}/metrics") as resp:
        exposed = await resp.read()
    assert await check_tool("promtool", "check", "metrics", stdin=exposed) == ""


def test_the_readmes_alerting_rules_are_valid(tmp_path: Path) -> None:
    [rules] = re.findall(r"```yaml\n(groups:\n.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    path = tmp_path / "rules.yml"
    path.write_text(rules, encoding="utf-8")
    checked = subprocess.run([need("promtool"), "check", "rules", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0 and "SUCCESS: 2 rules found" in checked.stdout, checked
