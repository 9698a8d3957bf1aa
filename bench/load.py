"""The load generator: signed requests sent all at once, from a process of its own, so that neither the
server measured nor the Slack sandbox shares an event loop with the clock that times the answers.

Each request is signed and encoded before the clock starts, goes out on its own connection (as Slack's
deliveries do), and is timed until the last byte of its answer. The client is a bare asyncio protocol, not
aiohttp's: on a 2-core machine aiohttp's client spent as much CPU per request as the servers it measured
(an aiohttp server that only answers 200 measured 97 ms at p99 for 200 at once through it, 64-75 ms through
this), and that time landed in every figure.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from bot.sandbox.actor import sign

if TYPE_CHECKING:
    from bot.sandbox.server import Sandbox

LIMIT = 60.0  # seconds an answer may take before the request counts as unanswered


def signed_request(url: str, secret: str, body: bytes) -> bytes:
    """The whole HTTP/1.1 request Slack would send for `body`, signed now."""
    parts = urlsplit(url)
    ts = str(int(time.time()))
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: {sign(secret, ts, body)}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _Exchange(asyncio.Protocol):
    """One request on a fresh connection; `answered` gets (time of the answer's last byte, status)."""

    def __init__(self, request: bytes, answered: asyncio.Future[tuple[float, int]]) -> None:
        self.request = request
        self.answered = answered
        self.received = bytearray()
        self.status = 0
        self.length: int | None = None  # of head and body, once the head is in and gives a Content-Length

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.received += data
        if not self.status:
            end = self.received.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.received[:end]).decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    self.length = end + 4 + int(value)
        if self.length is not None and len(self.received) >= self.length:
            self._answer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.status and self.length is None:  # an answer delimited by closing the connection
            self._answer()
        elif not self.answered.done():
            self.answered.set_exception(exc or ConnectionError("the server closed the connection before answering"))

    def _answer(self) -> None:
        if not self.answered.done():
            self.answered.set_result((time.perf_counter(), self.status))
            self.transport.close()


async def exchange(url: str, requests: list[bytes]) -> list[tuple[float, int]]:
    """Send all requests at once; each one's time to its complete HTTP answer in ms, and the answer's status
    (0 when the connection failed or closed without an answer; the time is then until it did)."""
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)

    async def one(request: bytes) -> tuple[float, int]:
        answered: asyncio.Future[tuple[float, int]] = loop.create_future()
        start = time.perf_counter()
        transport: asyncio.BaseTransport | None = None
        try:
            transport, _ = await loop.create_connection(lambda: _Exchange(request, answered), parts.hostname, parts.port)
            end, status = await asyncio.wait_for(answered, LIMIT)
        except (OSError, TimeoutError):
            end, status = time.perf_counter(), 0
            if transport is not None:
                transport.close()
        return (end - start) * 1000, status

    return list(await asyncio.gather(*(one(r) for r in requests)))


async def fire(url: str, requests: list[bytes]) -> list[float]:
    """Send all requests at once; each one's time to its complete HTTP answer, in ms (all must answer 200)."""
    return _all_200(await exchange(url, requests))


def _all_200(answers: list[tuple[float, int]]) -> list[float]:
    for _, status in answers:
        if status != 200:
            raise RuntimeError(f"the server answered {status}" if status else "the connection failed")
    return [ms for ms, _ in answers]


async def exchange_apart(url: str, secret: str, bodies: list[bytes]) -> list[tuple[float, int]]:
    """`exchange`, run in a child process with the bodies signed as Slack would: (ms, status) of each answer."""
    requests = [signed_request(url, secret, body).decode("latin-1") for body in bodies]
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.load", url, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate(json.dumps(requests).encode())
    if child.returncode:
        raise RuntimeError(f"load generator failed ({child.returncode})")
    return [(float(ms), int(status)) for ms, status in json.loads(out)]


async def fire_apart(url: str, secret: str, bodies: list[bytes]) -> list[float]:
    """`fire`, run in a child process with the bodies signed as Slack would; returns its timings."""
    return _all_200(await exchange_apart(url, secret, bodies))


def slash_body(sb: Sandbox, channel: str, user: str, text: str) -> bytes:
    """The form Slack posts when `user` types `/incident <text>` in `channel` of the sandbox's workspace."""
    return urlencode({
        "token": "x", "team_id": sb.team_id, "team_domain": "sandbox", "channel_id": channel, "channel_name": "general",
        "user_id": user, "user_name": "bench", "command": "/incident", "text": text, "api_app_id": sb.app_id,
        "is_enterprise_install": "false", "response_url": sb.new_response_url(channel, user),
        "trigger_id": sb.new_trigger_id(),
    }).encode()


if __name__ == "__main__":
    sent = [request.encode("latin-1") for request in json.loads(sys.stdin.read())]
    print(json.dumps(asyncio.run(exchange(sys.argv[1], sent))))
