"""The crowd at the status page: many browsers, each on a keep-alive connection, asking again as soon as an
answer is in, for a fixed time; from a process of its own, so its CPU is not the server's nor the clock's.

Each connection sends `GET <path>` over and over (HTTP/1.1 keep-alive, as a browser does) and times each
answer to its last byte. Printed as JSON: answers counted by status, their times in ms, and the seconds run.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlsplit

CONNECT_TIMEOUT = 10.0


async def _browser(host: str, port: int, paths: list[str], until: float, times: list[float],
                   statuses: dict[int, int], offset: int) -> None:
    """One keep-alive connection asking for the paths in turn until `until`; reconnects if the server closes."""
    n = offset
    while time.perf_counter() < until:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError):
            statuses[0] = statuses.get(0, 0) + 1
            await asyncio.sleep(0.05)
            continue
        try:
            while time.perf_counter() < until:
                path = paths[n % len(paths)]
                n += 1
                start = time.perf_counter()
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept-Encoding: identity\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                length, closing = 0, False
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                    elif name.strip().lower() == "connection" and value.strip().lower() == "close":
                        closing = True
                await reader.readexactly(length)
                times.append((time.perf_counter() - start) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
                if closing:
                    break
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
            statuses[0] = statuses.get(0, 0) + 1
        finally:
            writer.close()


async def crowd(url: str, paths: list[str], connections: int, seconds: float) -> dict[str, object]:
    """`connections` browsers asking for `paths` for `seconds`: every answer's time and status."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    times: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(*(_browser(host, port, paths, until, times, statuses, i) for i in range(connections)))
    return {"times": times, "statuses": statuses, "seconds": time.perf_counter() - start}


if __name__ == "__main__":
    base, count, duration, *asked = sys.argv[1:]
    print(json.dumps(asyncio.run(crowd(base, asked, int(count), float(duration)))))
