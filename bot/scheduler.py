"""Timed work (overdue steps) on APScheduler 3, with its job store in the bot's own database.

The scheduler runs in its own threads, never on the event loop: its job store uses a blocking
driver, and a blocking write on the loop could wait forever for a lock held by an async
transaction that needs the loop to finish. Due jobs are handed back to the loop to run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from bot.db import make_sync_engine

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[None]]

# Jobs are stored by reference to `fire` and a kind; the running process says what each kind does.
_handlers: dict[str, tuple[asyncio.AbstractEventLoop, Handler]] = {}


def fire(kind: str, *args: int) -> None:
    """What every stored job calls (in a scheduler thread): run the kind's handler on its event loop."""
    registered = _handlers.get(kind)
    if registered is None:
        log.error("no handler for scheduled job kind %s in this process", kind)
        return
    loop, handler = registered
    asyncio.run_coroutine_threadsafe(handler(*args), loop).result(timeout=120)


class Scheduler:
    """APScheduler with a persistent job store: scheduled reminders survive restarts."""

    def __init__(self, database_url: str) -> None:
        self._scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=make_sync_engine(database_url))},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone="UTC",
        )
        self._kinds: dict[str, Handler] = {}

    def register(self, kind: str, handler: Handler) -> None:
        """Say what a kind of job does in this process."""
        self._kinds[kind] = handler

    def start(self) -> None:
        """Start firing jobs (also those that fell due while no process ran), on the current loop."""
        loop = asyncio.get_running_loop()
        for kind, handler in self._kinds.items():
            _handlers[kind] = (loop, handler)
        self._scheduler.start()

    def shutdown(self) -> None:
        """Stop without running pending jobs; they stay in the store for the next start."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    async def at(self, job_id: str, when: datetime, kind: str, *args: int) -> None:
        """Run `kind(*args)` at `when` (once); scheduling the same id again replaces it."""
        await asyncio.to_thread(
            self._scheduler.add_job, fire, "date", run_date=when, args=[kind, *args],
            id=job_id, replace_existing=True,
        )

    async def daily(self, job_id: str, hour: int, minute: int, tz: str, kind: str) -> None:
        """Run `kind()` every day at hour:minute in `tz`."""
        await asyncio.to_thread(
            self._scheduler.add_job, fire, "cron", hour=hour, minute=minute, timezone=tz, args=[kind],
            id=job_id, replace_existing=True,
        )

    async def cancel(self, job_id: str) -> None:
        """Drop a job if it has not fired yet."""
        try:
            await asyncio.to_thread(self._scheduler.remove_job, job_id)
        except JobLookupError:
            pass

    async def next_run(self, job_id: str) -> datetime | None:
        """When a job will fire next, or None if there is no such job."""
        job = await asyncio.to_thread(self._scheduler.get_job, job_id)
        return job.next_run_time if job else None

    async def job_ids(self) -> list[str]:
        """Ids of the jobs waiting in the store."""
        jobs = await asyncio.to_thread(self._scheduler.get_jobs)
        return [job.id for job in jobs]
