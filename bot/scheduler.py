"""Timed work (overdue steps, cadence, clocks, digest) on APScheduler 3, with its job store in the bot's
own database.

Every process writes jobs to the store; only one process at a time fires them. A process that may fire
(`YINGJI_SCHEDULER=on`, the default, and `yingji scheduler`) becomes the leader by taking a lock the
database holds for it (a PostgreSQL advisory lock, or a lock file next to the SQLite file); until then,
and in web replicas with the scheduler off, the scheduler stays paused and only stores jobs. So a second
worker, or a replica started with the scheduler on by mistake, waits as a standby and never fires twice.

The scheduler runs in its own threads, never on the event loop: its job store uses a blocking driver,
and a blocking write on the loop could wait forever for a lock held by an async transaction that needs
the loop to finish. Due jobs are handed back to the loop to run.

Work that schedules jobs as part of a larger change (the outbox's operations) collects them with
`deferred()` and writes them with `write_jobs` in the transaction that records the change: fourteen
reminders cost one statement in a transaction that happens anyway, instead of a transaction each (and a
wake-up of the scheduler's thread each), and the change is never recorded without its jobs. The leader
sees them at its next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import pickle
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy import Table, delete, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db import is_postgres, make_sync_engine
from bot.models import SchedulerJob

log = logging.getLogger(__name__)

Handler = Callable[..., Coroutine[Any, Any, None]]  # an async function: `fire` runs it with run_coroutine_threadsafe

POLL_SECONDS = 1.0  # how soon the leader sees a job another process added, and a standby takes over
LOCK_KEY = 0x79696E676A69  # "yingji": the PostgreSQL advisory lock that makes one process the leader

JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}
JOBS: Table = SchedulerJob.__table__  # type: ignore[attr-defined]

JobRow = dict[str, Any]  # one row of the job store: id, next_run_time (UTC timestamp), job_state (pickled)
Changes = dict[str, JobRow | None]  # job id → its new row, or None to drop it

# Jobs are stored by reference to `fire` and a kind; the leading process says what each kind does.
_handlers: dict[str, tuple[asyncio.AbstractEventLoop, Handler]] = {}
_deferred: ContextVar[Changes | None] = ContextVar("yingji_deferred_jobs", default=None)


def fire(kind: str, *args: int) -> None:
    """What every stored job calls (in a scheduler thread): run the kind's handler on its event loop."""
    registered = _handlers.get(kind)
    if registered is None:
        log.error("no handler for scheduled job kind %s in this process", kind)
        return
    loop, handler = registered
    asyncio.run_coroutine_threadsafe(handler(*args), loop).result(timeout=120)


@contextlib.contextmanager
def deferred() -> Iterator[Changes]:
    """Collect the one-off jobs scheduled and cancelled inside (by any Scheduler) instead of writing each in a
    transaction of its own, so that write_jobs stores them with the change that asked for them."""
    changes: Changes = {}
    token = _deferred.set(changes)
    try:
        yield changes
    finally:
        _deferred.reset(token)


async def write_jobs(connection: AsyncConnection, changes: Mapping[str, JobRow | None]) -> None:
    """Apply collected job changes in the caller's transaction: an upsert for the scheduled, a delete for the cancelled."""
    if dropped := [job_id for job_id, row in changes.items() if row is None]:
        await connection.execute(delete(JOBS).where(JOBS.c.id.in_(dropped)))
    if rows := [row for row in changes.values() if row is not None]:
        insert = postgresql.insert(JOBS) if connection.dialect.name == "postgresql" else sqlite.insert(JOBS)
        # An upsert, not delete-then-insert: two replicas re-planning the same timer never collide on its id.
        await connection.execute(insert.on_conflict_do_update(
            index_elements=[JOBS.c.id],
            set_={"next_run_time": insert.excluded.next_run_time, "job_state": insert.excluded.job_state}), rows)


class _Background(BackgroundScheduler):
    """APScheduler's background scheduler, minus the last round its thread runs once it is shut down: a job due then
    would be handed to executors already stopped, and "removed" from a store it no longer looks in (an exception in
    its thread). Jobs written straight to the store (write_jobs) wait for the next poll, so one may be due then."""

    def _process_jobs(self) -> float | None:
        return None if self.state == STATE_STOPPED else super()._process_jobs()


class LeaderLock(Protocol):
    """A lock at most one process holds; whoever holds it fires the jobs."""

    def try_acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock on a connection of its own: held while that connection lives."""

    def __init__(self, engine: Engine, key: int = LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        """Take the lock if no other process holds it (never waits)."""
        try:
            if self._connection is None:
                self._connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = self._connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}).scalar()
        except Exception as exc:  # noqa: BLE001 — the database is away; try again at the next poll
            log.warning("scheduler lock: %s", exc)
            self._close()
            return False
        return bool(got)

    def still_held(self) -> bool:
        """Whether the connection that holds the lock is still alive (a lost connection lost the lock)."""
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 — any failure means the lock may have passed to another process
            self._close()
            return False
        return True

    def release(self) -> None:
        """Give the lock back (closing its connection would too)."""
        if self._connection is not None:
            with contextlib.suppress(Exception):  # closing the connection below releases it anyway
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        self._close()

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # noqa: BLE001 — already broken
                pass
            self._connection = None


class FileLock:
    """An exclusive lock on a file next to the SQLite database (SQLite serves processes on one host)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[bytes] | None = None

    def try_acquire(self) -> bool:
        """Take the lock if no other process holds it (never waits)."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self._path, "ab")  # noqa: SIM115 — kept open while the lock is held
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def still_held(self) -> bool:
        """A file lock lasts as long as the process keeps the file open."""
        return self._file is not None

    def release(self) -> None:
        """Give the lock back."""
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def leader_lock(database_url: str, engine: Engine) -> LeaderLock:
    """The lock that makes one process the scheduler for this database."""
    if is_postgres(database_url):
        return AdvisoryLock(engine)
    database = make_url(database_url).database or "yingji.db"
    return FileLock(Path(f"{database}.scheduler.lock"))


def quiet_apscheduler() -> None:
    """APScheduler logs every job added, run and finished at INFO: thousands of lines in a storm, saying nothing an
    on-call engineer needs. Its warnings (a missed run) and errors (a job that raised) still come through."""
    logger = logging.getLogger("apscheduler")
    if logger.level == logging.NOTSET:  # an operator who set it on purpose keeps their level
        logger.setLevel(logging.WARNING)


class Scheduler:
    """APScheduler with a persistent job store: scheduled reminders survive restarts; one process fires them."""

    def __init__(self, database_url: str, *, poll: float = POLL_SECONDS) -> None:
        quiet_apscheduler()
        self._engine = make_sync_engine(database_url)
        self._scheduler = _Background(
            jobstores={"default": SQLAlchemyJobStore(engine=self._engine)},
            job_defaults=JOB_DEFAULTS,
            timezone="UTC",
        )
        self._lock = leader_lock(database_url, self._engine)
        self._poll = poll
        self._kinds: dict[str, Handler] = {}
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None
        self._on_lead: Callable[[], Awaitable[None]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.leading = False
        self.fires = False

    def register(self, kind: str, handler: Handler) -> None:
        """Say what a kind of job does in this process."""
        self._kinds[kind] = handler

    async def start(self, *, fire_jobs: bool = True, on_lead: Callable[[], Awaitable[None]] | None = None) -> None:
        """Open the job store; with `fire_jobs`, also fire due jobs (those that fell due while no process ran,
        too) as soon as this process leads. `on_lead` runs on the loop each time this process becomes the leader."""
        self._loop = asyncio.get_running_loop()
        self._on_lead = on_lead
        self.fires = fire_jobs
        await asyncio.to_thread(self._scheduler.start, paused=True)
        if not fire_jobs:
            log.info("scheduler off in this process: jobs are stored for the worker, never fired here")
            return
        if await asyncio.to_thread(self._lock.try_acquire):
            await self._lead()
        else:
            log.info("another process fires the scheduled jobs; this one waits as a standby")
        self._watch = threading.Thread(target=self._watch_loop, name="scheduler-leader", daemon=True)
        self._watch.start()

    async def _lead(self) -> None:
        """This process holds the lock: take over the handlers, catch up, and fire."""
        assert self._loop is not None
        for kind, handler in self._kinds.items():
            _handlers[kind] = (self._loop, handler)
        self.leading = True
        if self._on_lead is not None:
            await self._on_lead()
        self._scheduler.resume()
        log.info("this process fires the scheduled jobs")

    def _watch_loop(self) -> None:
        """Leader: wake the scheduler each poll (jobs added by other processes), and check the lock is held.
        Standby: try to take the lock each poll."""
        while not self._stop.wait(self._poll):
            if self.leading:
                if self._lock.still_held():
                    self._scheduler.wakeup()
                    continue
                log.warning("lost the scheduler lock (database connection gone): pausing")
                self._scheduler.pause()
                self.leading = False
            elif self._lock.try_acquire() and self._loop is not None and not self._stop.is_set():
                try:
                    asyncio.run_coroutine_threadsafe(self._lead(), self._loop).result(timeout=120)
                except Exception:  # give the lock back and try again later
                    log.exception("could not take over the scheduler")
                    self._lock.release()
                    self.leading = False

    def shutdown(self) -> None:
        """Stop without running pending jobs; they stay in the store for the next start (blocking)."""
        self._stop.set()
        if self._watch is not None:
            self._watch.join()
            self._watch = None
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self.leading:
            self.leading = False
            self._lock.release()
        self._engine.dispose()

    async def at(self, job_id: str, when: datetime, kind: str, *args: int) -> None:
        """Run `kind(*args)` at `when` (once); scheduling the same id again replaces it. Inside `deferred()` the job
        is only collected."""
        if (changes := _deferred.get()) is not None:
            changes[job_id] = self.job_row(job_id, when, kind, *args)
            return
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

    def job_row(self, job_id: str, when: datetime, kind: str, *args: int) -> JobRow:
        """The job store's row for `at`'s job, as APScheduler's add_job would write it."""
        trigger = DateTrigger(run_date=when, timezone=self._scheduler.timezone)
        job = Job(self._scheduler, id=job_id, func=fire, trigger=trigger, executor="default", args=(kind, *args),
                  kwargs={}, next_run_time=trigger.run_date, **JOB_DEFAULTS)
        return {"id": job_id, "next_run_time": datetime_to_utc_timestamp(job.next_run_time),
                "job_state": pickle.dumps(job.__getstate__(), pickle.HIGHEST_PROTOCOL)}

    async def cancel(self, job_id: str) -> None:
        """Drop a job if it has not fired yet (inside `deferred()`, only collected)."""
        if (changes := _deferred.get()) is not None:
            changes[job_id] = None
            return
        with contextlib.suppress(JobLookupError):
            await asyncio.to_thread(self._scheduler.remove_job, job_id)

    async def next_run(self, job_id: str) -> datetime | None:
        """When a job will fire next, or None if there is no such job."""
        job = await asyncio.to_thread(self._scheduler.get_job, job_id)
        return job.next_run_time if job else None

    async def job_ids(self) -> list[str]:
        """Ids of the jobs waiting in the store."""
        jobs = await asyncio.to_thread(self._scheduler.get_jobs)
        return [job.id for job in jobs]
