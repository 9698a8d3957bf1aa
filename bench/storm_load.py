"""The storm of bench/storm.py, sent from a process of its own (`python -m bench.storm_load`): Alertmanager
notifications on a clock, /metrics scrapes, and slow-body connections, so its CPU stays out of the figures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

ALERT_NAMES = ("CheckoutErrors", "PaymentGatewayTimeouts", "InventorySyncLag", "SearchLatencyHigh", "CartWriteErrors")
SCRAPE_TIMEOUT = 10.0   # Prometheus's default scrape_timeout
RESULT_LINE_LIMIT = 64 * 1024 * 1024  # the result line carries every latency measured: far past asyncio's 64 KiB


@dataclass
class Plan:
    """What the storm process sends, and where."""

    url: str                 # the bot's base URL
    token: str
    tag: int                 # makes fingerprints distinct across rounds
    alerts: int
    every: float
    groups: int
    scrapes: float
    slow: int
    trickle: float
    settle: float


def group_of(tick: int, groups: int) -> int:
    """Which group notification `tick` goes to: the first one, but every third tick another in turn."""
    if groups <= 1 or tick % 3 != 2:
        return 0
    return 1 + (tick // 3) % (groups - 1)


def group_key(group: int) -> str:
    """A group key as Alertmanager writes it (route matchers, then the group's labels)."""
    return f'{{}}/{{severity="critical"}}:{{alertname="{ALERT_NAMES[group % len(ALERT_NAMES)]}"}}'


def fingerprint(tag: int, tick: int, n: int) -> str:
    """16 hex digits, as Alertmanager's, and distinct for every alert the bench ever sends."""
    return f"{tag:02x}{tick:05x}{n:09x}"


def notification(plan: Plan, tick: int, now: datetime) -> tuple[int, bytes]:
    """Notification `tick`: its group, and the body Alertmanager v4 would post, every alert in it new."""
    group = group_of(tick, plan.groups)
    name = ALERT_NAMES[group % len(ALERT_NAMES)]
    starts = (now - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    alerts = []
    for n in range(plan.alerts):
        pod = f"checkout-{tick:04d}-{n:05d}"
        alerts.append({
            "status": "firing",
            "labels": {"alertname": name, "severity": "critical", "service": "checkout", "pod": pod,
                       "instance": f"10.{tick % 250}.{n // 250 % 250}.{n % 250}:9102", "job": "kubernetes-pods"},
            "annotations": {"summary": f"{name} on {pod}"},
            "startsAt": starts,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": f"http://prometheus:9090/graph?g0.expr=rate%28errors%7Bpod%3D%22{pod}%22%7D%5B5m%5D%29",
            "fingerprint": fingerprint(plan.tag, tick, n),
        })
    body = {
        "version": "4", "groupKey": group_key(group), "truncatedAlerts": 0, "status": "firing",
        "receiver": "yingji", "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name, "severity": "critical", "service": "checkout", "job": "kubernetes-pods"},
        "commonAnnotations": {"description": "5xx ratio above 5% for 5 minutes"},
        "externalURL": "http://alertmanager:9093", "alerts": alerts,
    }
    return group, json.dumps(body, separators=(",", ":")).encode()


async def _answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 answer to its end; its status."""
    status = int((await reader.readuntil(b"\r\n")).split()[1])
    length = None
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length is None:
        await reader.read()  # delimited by closing
    else:
        await reader.readexactly(length)
    return status


async def _ask(host: str, port: int, request: bytes) -> int:
    """One request on a fresh connection, closed after the answer; its status."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        return await _answer(reader)
    finally:
        writer.close()


class StormLoad:
    """The storm: notifications and scrapes on a clock, slow bodies held open; what each got back."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        parts = urlsplit(plan.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.stopping = asyncio.Event()
        self.notified: list[dict[str, Any]] = []
        self.hook_statuses: Counter[int] = Counter()   # every attempt's answer (0: none)
        self.scrapes: list[tuple[float, int]] = []
        self.slow_opened = 0
        self.slow_answers: Counter[int] = Counter()    # what the server said before closing one (0: closed unanswered)

    async def _sleep_until(self, moment: float) -> bool:
        """Wait until `moment` (perf_counter); False when stopped first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), max(0.0, moment - time.perf_counter()))
        return not self.stopping.is_set()

    async def _notify(self, tick: int, group: int, body: bytes) -> None:
        """POST one notification; on no answer or a 5xx, again after a pause, as Alertmanager retries."""
        head = (f"POST /hooks/alertmanager HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUser-Agent: Alertmanager/0.27.0\r\n"
                f"Authorization: Bearer {self.plan.token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        record: dict[str, Any] = {"tick": tick, "group": group, "alerts": self.plan.alerts, "status": None, "attempts": 0}
        self.notified.append(record)
        start, pause = time.perf_counter(), 0.5
        while True:
            record["attempts"] += 1
            try:
                status = await _ask(self.host, self.port, head + body)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                status = 0
            self.hook_statuses[status] += 1
            record["status"], record["ms"] = status, (time.perf_counter() - start) * 1000
            if 0 < status < 500:
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, 8.0)

    async def _scrape(self) -> None:
        request = (f"GET /metrics HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUser-Agent: Prometheus/2.53.0\r\n"
                   "Accept: text/plain;version=0.0.4\r\nConnection: close\r\n\r\n").encode()
        start = time.perf_counter()
        try:
            status = await asyncio.wait_for(_ask(self.host, self.port, request), SCRAPE_TIMEOUT)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            status = 0
        self.scrapes.append(((time.perf_counter() - start) * 1000, status))

    async def _slow(self, n: int) -> None:
        """One connection whose body never completes; opened again whenever the server closes it."""
        hook = n % 2 == 1
        path = "/hooks/alertmanager" if hook else "/slack/events"
        kind = (f"Authorization: Bearer {self.plan.token}\r\nContent-Type: application/json" if hook else
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"X-Slack-Request-Timestamp: {int(time.time())}\r\nX-Slack-Signature: v0={'0' * 64}")
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{kind}\r\n"
                "Content-Length: 65536\r\n\r\n").encode()
        trickle = (b'{"version":"4","groupKey":"{}:{alertname=\\"Slow\\"}","status":"firing","alerts":[' if hook
                   else b"token=x&team_id=T0&command=%2Fincident&text=list&")
        await asyncio.sleep(self.plan.trickle * n / max(1, self.plan.slow))  # spread the bytes over the interval
        while not self.stopping.is_set():
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                self.slow_answers[-1] += 1  # refused
                await self._sleep_until(time.perf_counter() + 1)
                continue
            self.slow_opened += 1
            writer.write(head)
            answer = asyncio.ensure_future(reader.read(4096))
            sent = 0
            try:
                while not self.stopping.is_set() and not answer.done():
                    writer.write(trickle[sent % len(trickle):sent % len(trickle) + 1])
                    sent += 1
                    await asyncio.wait([answer], timeout=self.plan.trickle)
            except OSError:
                pass
            if answer.done() and not answer.cancelled() and answer.exception() is None:
                data = answer.result()
                self.slow_answers[int(data.split()[1]) if data.startswith(b"HTTP/") else 0] += 1
            else:
                answer.cancel()
            writer.close()

    async def run(self, stop: asyncio.Future[None]) -> dict[str, Any]:
        """Storm until `stop` is done, then let the notifications be answered (up to plan.settle)."""
        loop = asyncio.get_running_loop()
        began = time.perf_counter()
        slow = [loop.create_task(self._slow(n)) for n in range(self.plan.slow)]
        notifications: set[asyncio.Task[None]] = set()
        scrapes: set[asyncio.Task[None]] = set()

        async def alerts() -> None:
            tick = 0
            while await self._sleep_until(began + tick * self.plan.every):
                group, body = notification(self.plan, tick, datetime.now(UTC))
                task = loop.create_task(self._notify(tick, group, body))
                notifications.add(task)
                tick += 1

        async def scraper() -> None:
            n = 0
            while self.plan.scrapes > 0 and await self._sleep_until(began + n / self.plan.scrapes):
                task = loop.create_task(self._scrape())
                scrapes.add(task)
                task.add_done_callback(scrapes.discard)
                n += 1

        clocks = [loop.create_task(alerts()), loop.create_task(scraper())]
        print("started", flush=True)
        await stop
        stopped = time.perf_counter()
        self.stopping.set()
        await asyncio.gather(*clocks)
        for task in (*scrapes, *slow):
            task.cancel()
        await asyncio.gather(*scrapes, *slow, return_exceptions=True)
        if notifications:
            _, late = await asyncio.wait(notifications, timeout=self.plan.settle)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        return {
            "seconds": stopped - began, "settled": time.perf_counter() - stopped, "notifications": self.notified,
            "hook_statuses": dict(self.hook_statuses), "scrapes": self.scrapes,
            "slow_opened": self.slow_opened, "slow_answers": dict(self.slow_answers),
        }


async def _storm_main() -> None:
    """The storm process: the plan on stdin's first line, "stop" on its second; the results on stdout."""
    loop = asyncio.get_running_loop()
    plan = Plan(**json.loads(await loop.run_in_executor(None, sys.stdin.readline)))
    stop: asyncio.Future[None] = loop.create_future()

    async def wait_stop() -> None:
        await loop.run_in_executor(None, sys.stdin.readline)
        stop.set_result(None)

    waiter = loop.create_task(wait_stop())
    result = await StormLoad(plan).run(stop)
    await waiter
    print(json.dumps(result), flush=True)


class Storm:
    """The storm process, seen from the bench."""

    def __init__(self, child: asyncio.subprocess.Process) -> None:
        self.child = child

    @classmethod
    async def start(cls, plan: Plan) -> Storm:
        child = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.storm_load", stdin=asyncio.subprocess.PIPE,
                                                     stdout=asyncio.subprocess.PIPE, limit=RESULT_LINE_LIMIT)
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(asdict(plan)).encode() + b"\n")
        await child.stdin.drain()
        if (await child.stdout.readline()).strip() != b"started":
            raise RuntimeError("the storm process did not start")
        return cls(child)

    async def stop(self) -> dict[str, Any]:
        """Stop sending; what the storm got back once its notifications are answered."""
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.write(b"stop\n")
        await self.child.stdin.drain()
        line = await self.child.stdout.readline()
        await self.child.wait()
        if not line:
            raise RuntimeError(f"the storm process failed ({self.child.returncode})")
        return dict(json.loads(line))

    def kill(self) -> None:
        if self.child.returncode is None:
            self.child.kill()




if __name__ == "__main__":
    asyncio.run(_storm_main())
