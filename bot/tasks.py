"""Background work after the ack: every task is kept until it ends, and its failure is logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager, suppress
from typing import Any

log = logging.getLogger(__name__)


class TaskSet:
    """Holds references to running tasks so none is garbage-collected or fails unseen."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.failures = 0

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run `coro` in the background; an exception is logged with the task's name."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.failures += 1
            log.error("background task %s failed", task.get_name(), exc_info=exc)

    def __len__(self) -> int:
        return len(self._tasks)

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until no task is running (tests and the demo use it to see the settled state)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{len(self._tasks)} background tasks still running")
            await asyncio.wait(set(self._tasks), timeout=remaining)

    async def cancel_all(self) -> None:
        """Stop everything at shutdown; unfinished Slack work stays in the outbox for the next start."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class AckFirst:
    """Slack waits 3 s for an answer and the outbox can wait: background Slack work holds back while
    requests are being answered (and `quiet` seconds after, as a storm arrives in waves), so a storm of
    declarations is acknowledged before its channels are made. It never holds back longer than `max_pause`."""

    def __init__(self, max_pause: float = 1.0, quiet: float = 0.02) -> None:
        self.max_pause = max_pause
        self.quiet = quiet
        self._answering = 0
        self._open = asyncio.Event()
        self._open.set()
        self._reopen: asyncio.TimerHandle | None = None

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Mark one request as being answered until the block ends."""
        self._answering += 1
        self._open.clear()
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        try:
            yield
        finally:
            self._answering -= 1
            if not self._answering:
                self._reopen = asyncio.get_running_loop().call_later(self.quiet, self._open.set)

    @property
    def holding(self) -> bool:
        """True while requests are being answered (and for `quiet` seconds after)."""
        return not self._open.is_set()

    async def wait(self) -> None:
        """Let requests being answered go first, for at most `max_pause`."""
        if self.holding:
            with suppress(TimeoutError):
                async with asyncio.timeout(self.max_pause):  # no extra task per waiter, unlike wait_for
                    await self._open.wait()
