"""Group commit: under a burst, one transaction records everyone's request, so no ack waits behind 200 commits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from bot.tasks import TaskSet

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

WriteBatch = Callable[[Sequence[T]], Awaitable[list[R]]]


class GroupCommit(Generic[T, R]):
    """Queues writes and runs them in batches: the first caller is written at once, and whoever
    arrives while that transaction runs joins the next one (no timer, so a lone request never waits).

    `write` records a whole batch in one transaction and returns one result per item. If a batch
    fails, each of its items is retried alone, so one bad request never fails the others.
    """

    def __init__(self, write: WriteBatch[T, R], tasks: TaskSet, *, max_batch: int = 250) -> None:
        self._write = write
        self._tasks = tasks
        self._max_batch = max_batch
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._writing = False

    async def submit(self, item: T) -> R:
        """Record `item` (durably, when this returns) and give back its result."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if not self._writing:
            self._writing = True
            self._tasks.spawn(self._drain(), name="group-commit")
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                await self._write_batch(batch)
        finally:
            self._writing = False
            leftover, self._queue = self._queue, []  # non-empty only when cancelled at shutdown
            for _, future in leftover:
                _settle(future, exc=RuntimeError("shutting down before the write"))

    async def _write_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._write([item for item, _ in batch])
        except Exception as exc:  # noqa: BLE001 — handed to each caller, or retried one by one
            if len(batch) == 1:
                _settle(batch[0][1], exc=exc)
                return
            log.info("a batch of %s writes failed (%s); writing each alone", len(batch), type(exc).__name__)
            for one in batch:
                await self._write_batch([one])
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)


def _settle(future: asyncio.Future[R], *, result: R | None = None, exc: BaseException | None = None) -> None:
    """Hand the outcome to a caller that is still waiting (one that gave up is skipped)."""
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)  # type: ignore[arg-type]
