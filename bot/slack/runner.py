"""Runs the outbox: each incident's Slack operations in waves, retried, never twice."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox, timeline
from bot.i18n import t
from bot.metrics import OUTBOX_OPS
from bot.models import Incident, SlackOp
from bot.slack.errors import classify
from bot.slack.ops import OPERATIONS, Blocked, Outcome, SlackEnv
from bot.tasks import TaskSet

log = logging.getLogger(__name__)

DONE, FAILED, SKIPPED = "done", "failed", "skipped"


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

        self._again: set[int | None] = set()

    def kick(self, incident_id: int | None) -> None:
        """Start (or re-run) the drain for one incident, in the background."""
        if incident_id in self._draining:
            self._again.add(incident_id)
            return
        self._draining.add(incident_id)
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
        try:
            while True:
                self._again.discard(incident_id)
                async with self.sessions() as session:
                    ops = await outbox.open_ops(session, incident_id)
                if not ops:
                    if incident_id in self._again:
                        continue
                    break
                batch = [op for op in ops if op.wave == ops[0].wave]
                results = await asyncio.gather(*(self._run(op) for op in batch))
                failures += [(op, error) for op, (result, error) in zip(batch, results) if result == FAILED]
                if all(result == SKIPPED for result, _ in results):
                    break  # another process holds these operations
        finally:
            self._draining.discard(incident_id)
        if failures and incident_id is not None:
            await self._report(incident_id, failures)

    async def _run(self, op: SlackOp) -> tuple[str, str]:
        """Run one operation to its end: done, given up (with the error), or skipped (held elsewhere).

        Each attempt takes one of the runner's slots; waiting for a retry (a 429's Retry-After, or
        backoff) gives the slot back, so a rate-limited method never holds up the others.
        """
        while True:
            async with self._slots:
                result, error, wait = await self._attempt(op)
            if wait is None:
                return result, error
            await asyncio.sleep(wait)

    async def _attempt(self, op: SlackOp) -> tuple[str, str, float | None]:
        """One try; returns the result, its error, and how long to wait before the next try (None: no more)."""
        operation = OPERATIONS[op.kind]
        async with self.sessions() as session:
            claimed = await outbox.claim(session, op.id or 0, self.lease)
            await session.commit()
            if not claimed:
                return SKIPPED, "", None
            op = await session.get(SlackOp, op.id, populate_existing=True)  # type: ignore[assignment]
            incident = await session.get(Incident, op.incident_id) if op.incident_id else None
        try:
            if incident is None and op.incident_id is not None:
                raise Blocked("the incident no longer exists")
            outcome = await operation(self.env, incident, op)  # type: ignore[arg-type]
        except Blocked as exc:
            await self._settle(op, FAILED, str(exc))
            OUTBOX_OPS.labels(op.kind, FAILED).inc()
            return FAILED, str(exc), None
        except Exception as exc:  # noqa: BLE001 — classified below; nothing escapes unlogged
            failure = classify(exc)
            if failure.kind == "ratelimited":
                await self._settle(op, "retry", failure.error)
                if op.kind == "create_channel" and incident is not None:
                    await self._tell_delayed(incident, op, failure.retry_after)
                return "retry", failure.error, failure.retry_after
            if failure.kind == "transient" and op.attempts < self.max_attempts:
                log.info("op %s %s attempt %s: %s", op.id, op.kind, op.attempts, failure.error)
                await self._settle(op, "retry", failure.error)
                return "retry", failure.error, self.backoff * 2 ** (op.attempts - 1) * (1 + random.random() / 4)
            if failure.kind == "permanent" and failure.error.startswith(type(exc).__name__):
                log.exception("op %s %s failed with an unexpected error", op.id, op.kind)
            else:
                log.warning("op %s %s gave up: %s", op.id, op.kind, failure.error)
            await self._settle(op, FAILED, failure.error)
            OUTBOX_OPS.labels(op.kind, FAILED).inc()
            return FAILED, failure.error, None
        await self._complete(op, outcome)
        OUTBOX_OPS.labels(op.kind, DONE).inc()
        return DONE, "", None

    async def _tell_delayed(self, incident: Incident, op: SlackOp, seconds: float) -> None:
        """Once per declaration: Slack's limits delay the channel; say so instead of leaving people waiting."""
        if op.id in self._told_delay:
            return
        self._told_delay.add(op.id or 0)
        text = t("channel_delayed", incident.language, key=incident.key, seconds=f"{seconds:.0f}")
        self.tasks.spawn(self.env.tell(incident, text), name=f"tell-delay:{incident.id}")

    async def _settle(self, op: SlackOp, status: str, error: str) -> None:
        async with self.sessions() as session:
            row = await session.get(SlackOp, op.id)
            assert row is not None
            if status == FAILED:
                await outbox.fail(session, row, error)
            else:
                await outbox.release(session, row, error)
            await session.commit()

    async def _complete(self, op: SlackOp, outcome: Outcome) -> None:
        """Store what the operation changed, its timeline event, and that it is done: one transaction."""
        async with self.sessions() as session:
            if op.incident_id is not None and (outcome.updates or outcome.event):
                incident = await session.get(Incident, op.incident_id)
                assert incident is not None
                for name, value in outcome.updates.items():
                    setattr(incident, name, value)
                session.add(incident)
                if outcome.event:
                    timeline.record(
                        session, op.incident_id, outcome.event, text=outcome.text, data=outcome.data
                    )
            if outcome.apply is not None:
                await outcome.apply(session)
            row = await session.get(SlackOp, op.id)
            assert row is not None
            await outbox.finish(session, row)
            await session.commit()

    async def _report(self, incident_id: int, failures: list[tuple[SlackOp, str]]) -> None:
        """Tell the declarer plainly what Slack did not do, and how to finish it."""
        async with self.sessions() as session:
            incident = await session.get(Incident, incident_id)
        if incident is None:
            return
        lang = incident.language
        what = ", ".join(t(f"op_{op.kind}", lang) for op, _ in failures if op.kind != "tell_declarer_ready")
        text = t("slack_gave_up", lang, key=incident.key, what=what, error=failures[0][1])
        await self.env.tell(incident, text)
