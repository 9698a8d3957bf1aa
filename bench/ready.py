"""Declare to ready: from the request until the channel has its topic, pinned header, checklist and people."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import Figure, median
from yingji.local import LocalStack

RUNS = 5


def _ready(stack: LocalStack, name_prefix: str, people: set[str]) -> bool:
    sb = stack.sandbox
    channel = next((c for c in sb.channels.values() if c.name.startswith(name_prefix)), None)
    if channel is None or not channel.topic or not channel.pins or not people <= channel.members:
        return False
    return any("step_done" in str(m.get("blocks")) for m in channel.messages)


async def _declare_until_ready(stack: LocalStack, n: int) -> tuple[float, int]:
    """Seconds from the request to a ready channel, and the Web API calls it took."""
    calls_before = len(stack.sandbox.calls)
    people = {stack.users["zhang.wei"], stack.users["wang.fang"]}
    start = time.perf_counter()
    await stack.actor.slash("/incident", f"declare sev2 payment-failure ready check {n}",
                            user_id=stack.users["zhang.wei"], channel_id=stack.channels["general"])
    while not _ready(stack, f"inc-{n}-", people):
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - start
    await stack.settle(60)
    calls = [c for c in stack.sandbox.calls[calls_before:] if c[0] not in ("auth.test",)]
    return elapsed, len(calls)


async def run() -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        stack = await LocalStack.start(Path(tmp), rate_limits=False,
                                       config=lambda people: {"default_roles": {"comms": people["wang.fang"]}})
        try:
            n, results = 0, {}
            for latency in (0.0, 0.05, 0.2):
                stack.sandbox.latency = latency
                times, calls = [], 0
                for _ in range(RUNS):
                    n += 1
                    elapsed, calls = await _declare_until_ready(stack, n)
                    times.append(elapsed * 1000)
                results[latency] = median(times)
                figures.append(Figure(f"declare → ready, sandbox +{latency * 1000:.0f} ms per call", results[latency], "ms"))
            trips = round((results[0.2] - results[0.0]) / 200)  # each sequential trip adds the latency once
            figures.append(Figure("Web API calls per declaration (to ready and after)", calls, "calls"))
            figures.append(Figure("sequential round trips on the critical path (measured)", trips, "trips",
                                  "≤ 4", met=trips <= 4))
        finally:
            await stack.stop()
    return figures


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run())))
