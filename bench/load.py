"""The load generator: signed requests sent all at once, from a process of its own, so that neither the
server measured nor the Slack sandbox shares an event loop with the clock that times the answers."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp

from bot.sandbox.actor import sign


async def fire(url: str, secret: str, bodies: list[bytes]) -> list[float]:
    """Send all bodies at once, signed like Slack; each request's time to its HTTP answer, in ms."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def one(body: bytes) -> float:
            ts = str(int(time.time()))
            headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                       "X-Slack-Signature": sign(secret, ts, body)}
            start = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                assert response.status == 200, response.status
            return (time.perf_counter() - start) * 1000

        return list(await asyncio.gather(*(one(b) for b in bodies)))


async def fire_apart(url: str, secret: str, bodies: list[bytes]) -> list[float]:
    """`fire`, run in a child process; returns its timings."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.load", url, secret, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate(json.dumps([b.decode() for b in bodies]).encode())
    if child.returncode:
        raise RuntimeError(f"load generator failed ({child.returncode})")
    return [float(ms) for ms in json.loads(out)]


if __name__ == "__main__":
    sent = [body.encode() for body in json.loads(sys.stdin.read())]
    print(json.dumps(asyncio.run(fire(sys.argv[1], sys.argv[2], sent))))
