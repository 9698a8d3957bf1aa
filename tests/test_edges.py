"""The edges of the HTTP server and bulk work beside the acks (issue 20): behaviour, never wall-clock time.

- A real Alertmanager group of 2,500 per-pod alerts (~1.4 MiB) is accepted and every alert recorded once; a
  body over the configured limit is a 413 that says so; JSON nested 50,000 deep is a 400 with the reason.
- A body that trickles in is answered 408 once the read timeout passes, and the connection is closed.
- Past `max_connections`, new connections get a 503 and the log gets one line, not one per accept.
- Thousands of alerts are written in short transactions, and a command sent while they are being written is
  answered before the ingestion ends.
- A storm of scrapes costs one figures query.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest
from sqlalchemy import event

import yingji.app
from tests.helpers import StackFactory, am_alert, am_payload, declare, events, post
from yingji.local import LocalStack


def _pods(n: int, *, group: str = '{}:{alertname="PodCrashLooping"}') -> dict:
    """An Alertmanager group with one alert per pod, labels and annotations as kube-prometheus writes them."""
    alerts = [am_alert(fp=f"{i:016x}", labels={
        "alertname": "PodCrashLooping", "namespace": "checkout", "pod": f"checkout-7d9f8b6c5d-{i:05d}",
        "container": "api", "severity": "warning", "job": "kube-state-metrics", "instance": f"10.2.{i // 250}.{i % 250}:8080",
    }, summary=f"Pod checkout/checkout-7d9f8b6c5d-{i:05d} ({i}) is restarting 2.4 times / 10 minutes.") for i in range(n)]
    return am_payload(*alerts, group=group)


async def test_a_large_alertmanager_group_is_recorded_whole(stack: LocalStack) -> None:
    body = json.dumps(_pods(2500))
    assert len(body) > 1024 * 1024  # over aiohttp's default limit, which answered 413
    status, answer = await post(stack, "/hooks/alertmanager", body)
    assert status == 200, answer
    await stack.settle()
    assert answer["added"] == 2500
    assert len(await events(stack, 1, "alert_firing")) == 2500
    status, again = await post(stack, "/hooks/alertmanager", body)  # Alertmanager's repeat: nothing twice
    assert status == 200 and again["added"] == 0
    assert len(await events(stack, 1, "alert_firing")) == 2500


async def test_over_the_limit_and_too_deep_are_told_why(make_stack: StackFactory) -> None:
    stack = await make_stack(config={"hook_max_bytes": 64 * 1024})
    status, answer = await post(stack, "/hooks/alertmanager", json.dumps(_pods(300)))
    assert status == 413 and "limit" in answer["error"]
    status, answer = await post(stack, "/hooks/alertmanager", "[" * 32_000 + "]" * 32_000)
    assert status == 400 and "nested too deep" in answer["error"]
    status, answer = await post(stack, "/hooks/alert", '{"a": ' * 6_000)
    assert status == 400


async def test_a_trickling_body_is_answered_408_and_closed(make_stack: StackFactory) -> None:
    stack = await make_stack(config={"read_timeout_seconds": 0.5})
    port = stack.server.port
    for path in ("/slack/events", "/hooks/alertmanager"):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Authorization: Bearer {stack.alert_token}\r\nContent-Length: 1000\r\n\r\n{{".encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)  # read() returns once the server closes
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"did not arrive" in answer


async def test_past_the_connection_limit_one_log_line_and_a_503(make_stack: StackFactory,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    stack = await make_stack(config={"max_connections": 20})
    caplog.set_level(logging.WARNING, logger="yingji.edges")
    idle = [await asyncio.open_connection("127.0.0.1", stack.server.port) for _ in range(20)]
    await asyncio.sleep(0.2)  # let the server register them
    refused = []
    for _ in range(30):
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.server.port)
        refused.append(await asyncio.wait_for(reader.read(), 30))
        writer.close()
    assert all(r.startswith(b"HTTP/1.1 503") and b"too many connections" in r for r in refused)
    assert len([r for r in caplog.records if "the limit" in r.getMessage()]) == 1  # one line, not 30
    for _, writer in idle:
        writer.close()
    for _ in range(100):
        if len(stack.server.runner.server.connections) < 18:
            break
        await asyncio.sleep(0.05)
    async with aiohttp.ClientSession() as http, http.get(f"{stack.server.url}/healthz") as resp:
        assert resp.status == 200  # accepting again


async def test_thousands_of_alerts_go_in_short_transactions_and_commands_go_between(stack: LocalStack) -> None:
    incident = await declare(stack)
    commits: list[str] = []
    event.listen(stack.rt.engine.sync_engine, "commit", lambda _: commits.append("commit"))
    done: list[str] = []

    async def ingest() -> None:
        status, _ = await post(stack, "/hooks/alertmanager", json.dumps(_pods(5000, group="storm")))
        assert status == 200
        done.append("alerts")

    async def note() -> None:
        while len(commits) < 2:  # the storm's first transactions are in
            await asyncio.sleep(0.001)
        reply = await stack.actor.slash("/incident", "note 告警风暴中", user_id=stack.users["zhang.wei"],
                                        channel_id=incident.channel_id)
        assert "时间线" in reply.text
        done.append("note")

    await asyncio.gather(ingest(), note())
    assert done == ["note", "alerts"]  # the command did not wait for 5,000 alerts
    assert len(commits) >= 10  # 5,000 alerts in chunks, not one transaction
    await stack.settle()
    assert len(await events(stack, 2, "alert_firing")) == 5000


async def test_a_storm_of_scrapes_costs_one_query(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = yingji.app.figures

    async def counted(*args, **kwargs):
        calls.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(yingji.app, "figures", counted)
    async with aiohttp.ClientSession() as http:

        async def scrape() -> int:
            async with http.get(f"{stack.server.url}/metrics") as resp:
                assert "yingji_incidents{" in await resp.text() or resp.status == 200
                return resp.status

        assert set(await asyncio.gather(*(scrape() for _ in range(150)))) == {200}
    assert len(calls) == 1
