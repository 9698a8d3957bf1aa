"""Runs the outbox: each incident's Slack operations in waves, retried, never twice.

A wave costs one transaction when all goes well: the one that records the previous wave's outcomes (and the
jobs its operations scheduled, see bot/scheduler.py `deferred`) also claims the next wave in one conditional
update and reads the incident for it. An outcome that writes rows of its own is recorded as soon as it is in
(see _run_wave); retries, blocked operations and claims held elsewhere take transactions of their own.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox, scheduler, timeline
from bot.db import utcnow
from bot.i18n import t
from bot.metrics import OUTBOX_OPS
from bot.models import Incident, SlackOp
from bot.slack import gave_up
from bot.slack.errors import classify
from bot.slack.ops import OPERATIONS, Blocked, Outcome, SlackEnv
from bot.tasks import AckFirst, TaskSet
from bot.vocabulary import OpResult, OpStatus

log = logging.getLogger(__name__)

PAUSE = 0.05  # seconds past a lapsing lease before looking again

Held = tuple[SlackOp, Incident | None]  # an operation as this process claimed it, and its incident


@dataclass
class Wave:
    """An incident's next operations, claimed together: those this process holds, and the incident as it is now."""

    ops: list[SlackOp]
    held: dict[int, SlackOp]
    incident: Incident | None
    may_wait: bool

    def lapse(self) -> float:
        """Seconds until the first claim another process holds on these lapses (a moment, if none is held)."""
        leases = [op.lease_until for op in self.ops if op.status == OpStatus.RUNNING and op.lease_until is not None]
        return max((min(leases) - utcnow()).total_seconds(), 0.0) + PAUSE if leases else PAUSE


@dataclass
class Finished:
    """An operation Slack has done, waiting to be recorded with the rest of its wave."""

    op: SlackOp
    outcome: Outcome
    jobs: scheduler.Changes


@dataclass
class Ran:
    """How one operation ended in this drain."""

    result: OpResult
    error: str = ""
    finished: Finished | None = None


def next_batch(ops: list[SlackOp], deferred: set[int | None]) -> tuple[list[SlackOp], bool]:
    """The lowest wave of open operations (blocked ones last), and whether they may wait for later waves to unblock them."""
    if not ops:
        return [], False
    waiting = [op for op in ops if op.id not in deferred] or ops
    batch = [op for op in waiting if op.wave == waiting[0].wave]
    return batch, len(waiting) > len(batch) and batch[0].id not in deferred


class OutboxRunner:
    """Drains the outbox per incident; a kick after commit starts the work, a restart resumes it."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        env: SlackEnv,
        tasks: TaskSet,
        *,
        max_attempts: int = 5,
        backoff: float = 0.5,
        lease: timedelta = outbox.LEASE,
        concurrency: int = 16,
        gate: AckFirst | None = None,
    ) -> None:
        self.sessions = sessions
        self.env = env
        self.tasks = tasks
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.lease = lease
        self._draining: set[int | None] = set()
        # Bounds how many operations run at once, so a storm of declarations queues its Slack work
        # behind the acks instead of crowding the database connection they need.
        self._slots = asyncio.Semaphore(concurrency)
        self._told_delay: set[int] = set()
        self._gate = gate or AckFirst(max_pause=0)
        self._again: set[int | None] = set()
        self._behind_acks: list[int | None] = []
        self._teller = gave_up.Teller(env, sessions)

    def kick(self, incident_id: int | None) -> None:
        """Start (or re-run) the drain for one incident, in the background."""
        if incident_id in self._draining:
            self._again.add(incident_id)
            return
        self._draining.add(incident_id)
        if self._gate.holding:  # one task waits for the acks on behalf of every incident kicked meanwhile
            self._behind_acks.append(incident_id)
            if len(self._behind_acks) == 1:
                self.tasks.spawn(self._after_acks(), name="outbox:after-acks")
            return
        self.tasks.spawn(self._drain(incident_id), name=f"outbox:{incident_id}")

    async def _after_acks(self) -> None:
        """Start the drains held back while requests were being answered."""
        await self._gate.wait()
        behind, self._behind_acks = self._behind_acks, []
        for incident_id in behind:
            self.tasks.spawn(self._drain(incident_id), name=f"outbox:{incident_id}")

    async def resume(self) -> int:
        """Finish the Slack work a previous process left undone; returns how many incidents."""
        async with self.sessions() as session:
            pending = await outbox.incidents_with_open_ops(session)
        for incident_id in pending:
            self.kick(incident_id)
        return len(pending)

    async def _drain(self, incident_id: int | None) -> None:
        failures: list[tuple[SlackOp, str]] = []
        # Blocked operations wait for the later waves that may unblock them (a repair re-runs the channel's
        # creation after the notes that need it); once only they are left, they get one last try.
        deferred: set[int | None] = set()
        try:
            wave = await self._next(incident_id, deferred)
            while True:
                if not wave.ops:
                    if incident_id not in self._again:
                        break
                    wave = await self._next(incident_id, deferred)  # kicked meanwhile: new work was queued
                    continue
                if not wave.held:
                    # Another process holds them: if it died, only its lease lapsing frees them, and
                    # nobody else would come back for them; look again then.
                    await asyncio.sleep(wave.lapse())
                    wave = await self._next(incident_id, deferred)
                    continue
                runs, last = await self._run_wave(wave)
                deferred |= {op.id for op, ran in runs if ran.result == OpResult.BLOCKED}
                failures += [(op, ran.error) for op, ran in runs if ran.result == OpResult.FAILED]
                self._again.discard(incident_id)  # before the next claim reads what is queued
                wave = await self._complete(incident_id, last, deferred)
        finally:
            self._draining.discard(incident_id)
        if failures:
            await self._teller.tell(failures)

    async def _next(self, incident_id: int | None, deferred: set[int | None]) -> Wave:
        """Claim the incident's next wave in a transaction of its own (once the acks are out)."""
        self._again.discard(incident_id)
        await self._gate.wait()
        async with self.sessions() as session:
            wave = await self._claim(session, incident_id, deferred)
            await session.commit()
        return wave

    async def _claim(self, session: AsyncSession, incident_id: int | None, deferred: set[int | None]) -> Wave:
        """Read the open operations, claim the next wave of them, and read the incident they need."""
        batch, may_wait = next_batch(await outbox.open_ops(session, incident_id), deferred)
        held = await outbox.claim_many(session, [op.id or 0 for op in batch], self.lease)
        incident = None
        if held and incident_id is not None:
            incident = await session.get(Incident, incident_id, populate_existing=True)
        return Wave(batch, {op.id or 0: op for op in held}, incident, may_wait)

    async def _run_wave(self, wave: Wave) -> tuple[list[tuple[SlackOp, Ran]], list[Finished]]:
        """Run the wave's operations side by side; returns how each ended, and the outcomes left for the transaction
        that claims the next wave. An outcome that writes rows of its own (a checklist message's ts) is recorded the
        moment it is in, with whatever finished before it: flows read those rows to decide what to queue (a redraw
        of that message), and must never find them missing once the message is up. The others wait for the wave."""
        tasks = {asyncio.ensure_future(self._run(op, wave)): op for op in wave.ops}
        pending: set[asyncio.Future[Ran]] = set(tasks)
        waiting: list[Finished] = []
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                finished = [ran.finished for ran in (task.result() for task in done) if ran.finished]
                waiting += finished
                if pending and any(item.outcome.apply is not None for item in finished):
                    await self._record(waiting)
                    waiting = []
        finally:
            # Stopped (the drain cancelled) or failed mid-wave: its operations end with it, their claims lapse and
            # the next drain or start does them. Cancelling the wait alone would leave them running after stop(),
            # calling Slack and writing through a disposed engine beside the process that restarts.
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        return [(op, task.result()) for task, op in tasks.items()], waiting

    async def _run(self, op: SlackOp, wave: Wave) -> Ran:
        """Run one operation of the wave to its end: done (its outcome to be recorded), given up (with the error),
        skipped (held elsewhere), or blocked (needs another operation's result; only when the wave may wait, else
        that gives up).

        Each attempt takes one of the runner's slots; waiting for a retry (a 429's Retry-After, or
        backoff) gives the slot back, so a rate-limited method never holds up the others.
        """
        claimed = wave.held.get(op.id or 0)
        if claimed is None:
            return Ran(OpResult.SKIPPED)
        held: Held | None = (claimed, wave.incident)
        while True:
            await self._gate.wait()
            async with self._slots:
                ran, wait = await self._attempt(op, wave.may_wait, held)
            if wait is None:
                return ran
            held = None  # a retry claims the operation again
            await asyncio.sleep(wait)

    async def _attempt(self, op: SlackOp, may_wait: bool, held: Held | None) -> tuple[Ran, float | None]:
        """One try under the wave's claim (`held`) or a claim of its own; returns how it ended and how long to wait
        before the next try (None: no more)."""
        taken = await (self._keep(held) if held is not None else self._claim_one(op))
        if taken is None:
            return Ran(OpResult.SKIPPED), None
        op, incident = taken
        operation = OPERATIONS.get(op.kind)
        if operation is None:  # queued by an older version whose operation is gone: say so, never crash the drain
            log.warning("op %s: no operation %s in this version", op.id, op.kind)
            return await self._give_up(op, f"unknown operation {op.kind}"), None
        try:
            if incident is None and op.incident_id is not None:
                raise Blocked("the incident no longer exists")
            with scheduler.deferred() as jobs:
                outcome = await operation(self.env, incident, op)  # type: ignore[arg-type]
        except Blocked as exc:
            if may_wait:
                await self._release(op, str(exc))
                return Ran(OpResult.BLOCKED, str(exc)), None
            return await self._give_up(op, str(exc)), None
        except Exception as exc:  # noqa: BLE001 — classified and logged in _failed; nothing escapes unlogged
            return await self._failed(op, incident, exc)
        return Ran(OpResult.DONE, finished=Finished(op, outcome, jobs)), None

    async def _failed(self, op: SlackOp, incident: Incident | None, exc: Exception) -> tuple[Ran, float | None]:
        """Put a failed attempt back for a retry (after Retry-After, or backoff), or give up on it."""
        failure = classify(exc)
        if failure.kind == "ratelimited":
            await self._release(op, failure.error)
            if op.kind == "create_channel" and incident is not None:
                await self._tell_delayed(incident, op, failure.retry_after)
            return Ran(OpResult.RETRY, failure.error), failure.retry_after
        if failure.kind == "transient" and op.attempts < self.max_attempts:
            log.info("op %s %s attempt %s: %s", op.id, op.kind, op.attempts, failure.error)
            await self._release(op, failure.error)
            return Ran(OpResult.RETRY, failure.error), self.backoff * 2 ** (op.attempts - 1) * (1 + random.random() / 4)
        if failure.kind == "permanent" and failure.error.startswith(type(exc).__name__):
            log.exception("op %s %s failed with an unexpected error", op.id, op.kind, exc_info=exc)
        else:
            log.warning("op %s %s gave up: %s", op.id, op.kind, failure.error)
        return await self._give_up(op, failure.error), None

    async def _keep(self, held: Held) -> Held | None:
        """The wave's claim, while at least half its lease is left (a wave may wait for slots and acks); renewed
        otherwise, unless another process took the operation meanwhile."""
        op = held[0]
        if op.lease_until is not None and op.lease_until - utcnow() >= self.lease / 2:
            return held
        async with self.sessions() as session:
            kept = await outbox.renew(session, op, self.lease)
            await session.commit()
        return held if kept else None

    async def _claim_one(self, op: SlackOp) -> Held | None:
        """Claim one operation for a retry, with its incident, in one transaction (None: held elsewhere)."""
        async with self.sessions() as session:
            taken = await outbox.claim_many(session, [op.id or 0], self.lease)
            incident = await session.get(Incident, op.incident_id) if taken and op.incident_id is not None else None
            await session.commit()
        return (taken[0], incident) if taken else None

    async def _tell_delayed(self, incident: Incident, op: SlackOp, seconds: float) -> None:
        """Once per declaration: Slack's limits delay the channel; say so instead of leaving people waiting."""
        if op.id in self._told_delay:
            return
        self._told_delay.add(op.id or 0)
        text = t("declare.channel_delayed", incident.language, key=incident.key, seconds=f"{seconds:.0f}")
        self.tasks.spawn(self.env.tell(incident, text), name=f"tell-delay:{incident.id}")

    async def _release(self, op: SlackOp, error: str) -> None:
        """Give the attempt back to the queue: for a retry, or blocked for now."""
        async with self.sessions() as session:
            row = await session.get(SlackOp, op.id)
            assert row is not None
            await outbox.release(session, row, error)
            await session.commit()

    async def _give_up(self, op: SlackOp, error: str) -> Ran:
        """Stop trying `op`, recording the refusal with its owner in the same transaction, to be told after the drain;
        skipped when this process no longer holds the claim (the process that took it over decides and tells)."""
        async with self.sessions() as session:
            if not await outbox.fail(session, op, error):
                return Ran(OpResult.SKIPPED)
            await gave_up.record(session, op, error)
            await session.commit()
        OUTBOX_OPS.labels(op.kind, OpResult.FAILED).inc()
        return Ran(OpResult.FAILED, error)

    async def _complete(self, incident_id: int | None, finished: list[Finished], deferred: set[int | None]) -> Wave:
        """Record the wave's last outcomes and claim the next wave: one transaction."""
        wave = await self._record(finished, lambda session: self._claim(session, incident_id, deferred))
        return wave or await self._next(incident_id, deferred)

    async def _record(self, finished: list[Finished],
                      then: Callable[[AsyncSession], Awaitable[Wave]] | None = None) -> Wave | None:
        """Record outcomes in one transaction, and `then` (the next claim) in it. Should that fail, each outcome is
        recorded alone, so one that cannot be stored keeps no other from being stored; the first failure is raised
        once all were tried, as a lone operation's would be (and the claim is left to the caller)."""
        try:
            async with self.sessions() as session:
                recorded = [item for item in finished if await self._store(session, item)]
                wave = await then(session) if then is not None else None
                await session.commit()
        except Exception:
            if len(finished) < 2:
                raise
            log.exception("op %s: recording %s outcomes together failed; recording each alone",
                          finished[0].op.id, len(finished))
            await self._record_each(finished)
            return None
        for item in recorded:
            OUTBOX_OPS.labels(item.op.kind, OpResult.DONE).inc()
        return wave

    async def _record_each(self, finished: list[Finished]) -> None:
        """Each outcome in a transaction of its own (see _record)."""
        first: Exception | None = None
        for item in finished:
            try:
                await self._record([item])
            except Exception as exc:  # noqa: BLE001 — raised below, once the others are stored
                first = first or exc
        if first is not None:
            raise first

    async def _store(self, session: AsyncSession, item: Finished) -> bool:
        """Store what one operation changed, its timeline event, its jobs, and that it is done; False (nothing stored)
        if its lease lapsed and another process took it over, which records it instead."""
        op, outcome = item.op, item.outcome
        if not await outbox.finish(session, op):
            return False
        if op.incident_id is not None and outcome.updates:
            incident = await session.get(Incident, op.incident_id)
            assert incident is not None
            for name, value in outcome.updates.items():
                setattr(incident, name, value)
            session.add(incident)
        if op.incident_id is not None and outcome.event:
            timeline.record(session, op.incident_id, outcome.event, text=outcome.text, data=outcome.data)
        with scheduler.deferred() as jobs:  # what the outcome schedules goes into this transaction too
            if outcome.apply is not None:
                await outcome.apply(session)
        await scheduler.write_jobs(await session.connection(), {**item.jobs, **jobs})
        return True
