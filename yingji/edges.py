"""The HTTP server's edges: how large a body may be, how long it may take to arrive, how many connections
may be open at once. A slow or huge client gets a clear answer and never holds the server."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web

log = logging.getLogger(__name__)

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The edges, from yingji.yaml."""

    hook_body_bytes: int = 16 * MiB  # an Alertmanager group of thousands of per-pod alerts is a few MiB
    slack_body_bytes: int = MiB  # aiohttp's default; Slack's payloads are far smaller
    read_timeout: float = 10.0  # seconds for a whole body to arrive
    max_connections: int = 1000


def _closing(status: int, reason: str) -> web.Response:
    """An error that also closes the connection, so a misbehaving client does not keep it."""
    response = web.json_response({"error": reason}, status=status)
    response.force_close()
    return response


async def read_body(request: web.Request, limit: int, timeout: float) -> bytes | web.Response:
    """The whole body, or 413 when it is larger than `limit`, or 408 when it has not arrived within `timeout`."""
    declared = request.content_length
    if declared is not None and declared > limit:
        return _closing(413, f"body of {declared} bytes is over this endpoint's limit of {limit}")
    try:
        async with asyncio.timeout(timeout):
            return await request.clone(client_max_size=limit).read()
    except TimeoutError:
        log.info("%s: body not received within %g s; connection closed", request.path, timeout)
        return _closing(408, f"the body did not arrive within {timeout:g} s")
    except web.HTTPRequestEntityTooLarge:
        return _closing(413, f"body is over this endpoint's limit of {limit} bytes")


class _Full(asyncio.Protocol):
    """What a connection over the limit gets: a 503 that says why, then the connection is closed."""

    ANSWER = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
              b"Retry-After: 1\r\nContent-Length: 34\r\n\r\n{\"error\": \"too many connections\"}\n")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.ANSWER)
        transport.close()


class BoundedSite(web.TCPSite):
    """A TCP site that keeps at most `limit` connections open; past it, one log line (not one per accept)."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, *, limit: int, backlog: int) -> None:
        super().__init__(runner, host, port, backlog=backlog)
        self._limit = limit
        self._full = False

    async def start(self) -> None:
        await web.BaseSite.start(self)  # TCPSite.start would hand the loop aiohttp's own factory
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self._host, self._port, backlog=self._backlog,
                                                reuse_address=self._reuse_address, reuse_port=self._reuse_port)
        self._bound_port = self._server.sockets[0].getsockname()[1] if self._server.sockets else self._port

    def _protocol(self) -> asyncio.BaseProtocol:
        """aiohttp's handler for a new connection, or a polite refusal when the server is full."""
        server = self._runner.server
        assert server is not None
        open_now = len(server.connections)
        if open_now >= self._limit:
            if not self._full:
                self._full = True
                log.warning("%s connections open, the limit: new ones get 503 until some close", open_now)
            return _Full()
        if self._full and open_now < self._limit * 0.9:
            self._full = False
            log.warning("connections below the limit again (%s open); accepting", open_now)
        return server()

