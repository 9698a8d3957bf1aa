"""Runs the outbox: each incident's Slack operations in waves, retried, never twice."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox, timeline
from bot.db import utcnow
from bot.i18n import t
from bot.metrics import OUTBOX_OPS
from bot.models import Incident, SlackOp
from bot.slack.errors import classify
from bot.slack.notify import tell_person
from bot.slack.ops import OPERATIONS, Blocked, Outcome, SlackEnv
from bot.tasks import AckFirst, TaskSet

log = logging.getLogger(__name__)

DONE, FAILED, SKIPPED, BLOCKED = "done", "failed", "skipped", "blocked"


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
            while True:
                self._again.discard(incident_id)
                await self._gate.wait()
                async with self.sessions() as session:
                    ops = await outbox.open_ops(session, incident_id)
                if not ops:
                    if incident_id in self._again:
                        continue
                    break
                waiting = [op for op in ops if op.id not in deferred] or ops
                batch = [op for op in waiting if op.wave == waiting[0].wave]
                may_wait = len(waiting) > len(batch) and batch[0].id not in deferred
                results = await asyncio.gather(*(self._run(op, may_wait) for op in batch))
                deferred |= {op.id for op, (result, _) in zip(batch, results, strict=True) if result == BLOCKED}
                failures += [(op, error) for op, (result, error) in zip(batch, results, strict=True) if result == FAILED]
                if all(result == SKIPPED for result, _ in results):
                    held = await self._held(incident_id)
                    if held is None:
                        if incident_id in self._again:
                            continue  # kicked while the batch was skipped: new work was queued meanwhile
                        break
                    # Another process holds them: if it died, only its lease expiring frees them, and
                    # nobody else would come back for them; look again then.
                    await asyncio.sleep(held)
        finally:
            self._draining.discard(incident_id)
        if failures and incident_id is not None:
            await self._report(incident_id, failures)

    async def _held(self, incident_id: int | None) -> float | None:
        """Seconds until the first claim held on the incident's open operations lapses (None: nothing is held)."""
        async with self.sessions() as session:
            leases = [op.lease_until for op in await outbox.open_ops(session, incident_id)
                      if op.status == outbox.RUNNING and op.lease_until is not None]
        if not leases:
            return None
        return max((min(leases) - utcnow()).total_seconds(), 0.0) + 0.05

    async def _run(self, op: SlackOp, may_wait: bool = False) -> tuple[str, str]:
        """Run one operation to its end: done, given up (with the error), skipped (held elsewhere), or
        blocked (needs another operation's result; only when `may_wait`, else that gives up).

        Each attempt takes one of the runner's slots; waiting for a retry (a 429's Retry-After, or
        backoff) gives the slot back, so a rate-limited method never holds up the others.
        """
        while True:
            await self._gate.wait()
            async with self._slots:
                result, error, wait = await self._attempt(op, may_wait)
            if wait is None:
                return result, error
            await asyncio.sleep(wait)

    async def _attempt(self, op: SlackOp, may_wait: bool = False) -> tuple[str, str, float | None]:
        """One try; returns the result, its error, and how long to wait before the next try (None: no more)."""
        operation = OPERATIONS.get(op.kind)
        if operation is None:  # queued by an older version whose operation is gone: say so, never crash the drain
            log.warning("op %s: no operation %s in this version", op.id, op.kind)
            await self._settle(op, FAILED, f"unknown operation {op.kind}")
            return FAILED, f"unknown operation {op.kind}", None
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
            if may_wait:
                await self._settle(op, "retry", str(exc))
                return BLOCKED, str(exc), None
            await self._settle(op, FAILED, str(exc))
            OUTBOX_OPS.labels(op.kind, FAILED).inc()
            return FAILED, str(exc), None
        except Exception as exc:  # classified below; nothing escapes unlogged
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
        """Tell the declarer plainly what Slack did not do, and how to finish it; and whoever asked for one
        of those operations (a role handed over by someone else), who would otherwise wait for it in vain."""
        async with self.sessions() as session:
            incident = await session.get(Incident, incident_id)
        if incident is None:
            return
        await self.env.tell(incident, _gave_up(incident, failures))
        askers: dict[str, list[tuple[SlackOp, str]]] = {}
        for op, error in failures:
            by = op.args.get("by")
            if by and by not in (incident.declared_by, timeline.BOT_ACTOR):
                askers.setdefault(str(by), []).append((op, error))
        for user, theirs in askers.items():
            url = next((op.args["response_url"] for op, _ in theirs if op.args.get("response_url")), None)
            await tell_person(self.env.client, user, _gave_up(incident, theirs), response_url=url)


def _gave_up(incident: Incident, failures: list[tuple[SlackOp, str]]) -> str:
    """What Slack did not do, the error, and `/incident repair` to finish it."""
    lang = incident.language
    what = ", ".join(t(f"op_{op.kind}", lang) for op, _ in failures if op.kind != "tell_declarer_ready")
    return t("slack_gave_up", lang, key=incident.key, what=what, error=failures[0][1])
