"""The status page kept in memory: every response rendered once per change, with its ETag, so a crowd of readers
costs no database work. It is drawn again (one read, then a render in a thread) at once after a local change
(`changed()`, which never blocks its caller and folds a burst into one rebuild), when a poll of a cheap figure sees
another replica's change, and when a maintenance window starts or ends or a new day begins."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import FileConfig
from bot.db import utcnow
from bot.status_page import rows
from bot.status_page.render import CONTENT_TYPES, Look, render_all
from bot.status_page.state import Component, derive
from bot.tasks import TaskSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Response:
    """One rendered response: its bytes, type, strong ETag (a hash of the bytes, so replicas agree) and the moment
    its bytes last changed."""

    body: bytes
    content_type: str
    etag: str
    last_modified: datetime


class StatusBoard:
    """The rendered status page of one running app, by (route, language)."""

    def __init__(self, reads: async_sessionmaker[AsyncSession], file: FileConfig, tz: tzinfo, tasks: TaskSet, *,
                 salt: bytes, clock: Callable[[], datetime] = utcnow) -> None:
        config = file.status_page
        self.reads, self.tz, self.tasks, self.salt, self.clock = reads, tz, tasks, salt, clock
        self.look = Look.of(config, file.brand, salt)
        self.components = [Component(c.id, c.name.model_dump()) for c in config.components]
        self.show_drills = config.show_drills
        self.refresh = config.refresh_seconds
        self.responses: dict[tuple[str, str], Response] = {}
        self.generation: tuple[Any, ...] | None = None  # the figure the responses were built from
        self.next_boundary: datetime | None = None  # when they must be drawn again whatever happens
        self.rebuilds = 0
        self._dirty = False
        self._worker: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None

    def response(self, route: str, lang: str) -> Response | None:
        """What to answer now (None until the first rebuild succeeded)."""
        return self.responses.get((route, lang))

    def changed(self) -> None:
        """Something the page shows changed: draw it again soon, off the caller's path; a burst is one rebuild."""
        self._dirty = True
        if self._worker is None or self._worker.done():
            self._worker = self.tasks.spawn(self._drain(), name="status_page:rebuild")

    async def start(self) -> None:
        """Draw the page once (through the one worker, so no two rebuilds ever race), then watch for changes made
        elsewhere and for the clock."""
        self.changed()
        if self._worker is not None:
            await self._worker
        self._poller = asyncio.get_running_loop().create_task(self._poll(), name="status_page:poll")

    async def stop(self) -> None:
        """Stop watching (rebuilds in flight belong to the task set, which the runtime stops)."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    async def _drain(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                await self.rebuild()
            except Exception:
                log.exception("status page: rebuild failed; the poll tries again")
                self.generation = None
                return

    async def rebuild(self) -> None:
        """One read of what the page shows, the state derived, every response rendered (in a thread) and swapped in."""
        now = self.clock()
        async with self.reads() as session:
            generation = await rows.generation(session)
            versions, windows = await rows.read(session, now)
        state = derive(versions, windows, self.components, now=now, tz=self.tz, show_drills=self.show_drills,
                       salt=self.salt)
        rendered = await asyncio.to_thread(render_all, state, self.look)
        self._swap(rendered, now)
        self.generation, self.next_boundary = generation, state.next_boundary
        self.rebuilds += 1

    def _swap(self, rendered: dict[tuple[str, str], bytes], now: datetime) -> None:
        """New responses replace the old; one whose bytes did not change keeps its Last-Modified, and a changed one
        moves it forward by at least a second (HTTP dates have no finer grain)."""
        second = now.replace(microsecond=0)
        fresh = {}
        for key, body in rendered.items():
            etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
            old = self.responses.get(key)
            if old is not None and old.etag == etag:
                fresh[key] = old
                continue
            modified = max(second, old.last_modified + timedelta(seconds=1)) if old else second
            fresh[key] = Response(body, CONTENT_TYPES[key[0]], etag, modified)
        self.responses = fresh

    async def _poll(self) -> None:
        """Every `refresh` seconds: the clock passed a boundary, or another replica changed what the page shows."""
        while True:
            await asyncio.sleep(self.refresh)
            try:
                if self.generation is None or (self.next_boundary and self.clock() >= self.next_boundary):
                    self.changed()
                    continue
                async with self.reads() as session:
                    if await rows.generation(session) != self.generation:
                        self.changed()
            except Exception:
                log.warning("status page: poll failed; trying again in %s s", self.refresh, exc_info=True)
