"""One scheduler for many replicas: web replicas store timed jobs but never fire them; the worker fires
each reminder exactly once, across its own restarts; a second worker waits as a standby. And the load
proof: two `yingji serve` processes and one `yingji scheduler` on one PostgreSQL, under a storm."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from bench import replicas as harness
from bot.config import ConfigError, load_settings
from bot.db import create_database, drop_database, utcnow
from bot.models import Step
from tests.helpers import (
    SKIP_POSTGRES,
    StackFactory,
    declare,
    fast_playbooks,
    postgres_server,
    timeline_kinds,
    wait_for,
)
from yingji.local import LocalStack

DUE = {"payment-failure": {"identify-channel": 0.05, "contact-provider": 0.15}}  # 3 s and 9 s after declaring


def reminders(stack: LocalStack, channel_id: str | None) -> list[str]:
    """The step reminders posted in an incident channel."""
    return [str(m["text"]) for m in stack.sandbox.messages(channel_id or "") if ":alarm_clock:" in str(m.get("text"))]


async def first_steps(stack: LocalStack, incident_id: int | None) -> list[Step]:
    """The incident's first two checklist steps (the ones the fast playbook makes due within seconds)."""
    async with stack.rt.sessions() as session:
        rows = await session.exec(select(Step).where(Step.incident_id == incident_id).order_by(col(Step.number)))
        return list(rows.all())[:2]


@pytest.fixture
async def web(make_stack: StackFactory, tmp_path: Path) -> LocalStack:
    """A web replica with YINGJI_SCHEDULER=off, and playbook steps that fall due within seconds."""
    return await make_stack(scheduler=False, config={"playbooks_dir": str(fast_playbooks(tmp_path / "pb", DUE))})


class Workers:
    """Scheduler workers on the web replica's database and Slack, started and stopped by the test."""

    def __init__(self, web: LocalStack, tmp_path: Path) -> None:
        self.web = web
        self.tmp_path = tmp_path
        self.running: list[LocalStack] = []

    async def start(self, name: str = "worker") -> LocalStack:
        """Start a worker (YINGJI_SCHEDULER=on, the default); it leads unless another worker does."""
        worker = await LocalStack.start(self.tmp_path / name, sandbox=self.web.sandbox,
                                        database_url=self.web.rt.settings.database_url,
                                        config={"playbooks_dir": str(self.tmp_path / "pb")})
        self.running.append(worker)
        return worker

    async def stop(self, worker: LocalStack) -> None:
        """Stop a worker as a platform does (SIGTERM → stop), keeping the shared sandbox."""
        self.running.remove(worker)
        await worker.stop(keep_sandbox=True)


@pytest.fixture
async def workers(web: LocalStack, tmp_path: Path) -> AsyncIterator[Workers]:
    """Workers for the test to start; any still running at the end are stopped."""
    made = Workers(web, tmp_path)
    yield made
    for worker in list(made.running):
        await made.stop(worker)


async def test_web_replica_never_fires_and_the_worker_fires_each_reminder_once_across_restarts(
    web: LocalStack, workers: Workers
) -> None:
    incident = await declare(web)
    step1, step2 = await first_steps(web, incident.id)
    assert step1.due_at and step2.due_at
    await asyncio.sleep(max(0.0, (step1.due_at - utcnow()).total_seconds()) + 2)
    await web.settle()
    # Past its deadline, and the web replica has not fired it: the job waits in the store for the worker.
    assert not web.rt.scheduler.leading and reminders(web, incident.channel_id) == []
    assert "step_overdue" not in await timeline_kinds(web, incident.id)
    assert f"step:{step1.id}" in await web.rt.scheduler.job_ids()

    worker = await workers.start()
    assert worker.rt.scheduler.leading
    assert await wait_for(lambda: len(reminders(web, incident.channel_id)) >= 1)
    await worker.settle()
    await workers.stop(worker)
    # The worker died just as APScheduler dropped step 2's job, before the reminder was recorded.
    await web.rt.scheduler.cancel(f"step:{step2.id}")
    await asyncio.sleep(max(0.0, (step2.due_at - utcnow()).total_seconds()) + 1)
    assert len(reminders(web, incident.channel_id)) == 1  # nobody fires while the worker is down

    restarted = await workers.start()
    assert await wait_for(lambda: len(reminders(web, incident.channel_id)) >= 2)
    await restarted.settle()
    await asyncio.sleep(1.5)  # a poll later: nothing fires a second time
    await restarted.settle()
    posted = reminders(web, incident.channel_id)
    assert sorted(text.split("：")[0] for text in posted) == [":alarm_clock: 第 1 项已超时", ":alarm_clock: 第 2 项已超时"]
    assert (await timeline_kinds(web, incident.id)).count("step_overdue") == 2


async def test_a_second_worker_waits_as_a_standby_and_takes_over(web: LocalStack, workers: Workers) -> None:
    leader = await workers.start()
    standby = await workers.start("standby")
    assert leader.rt.scheduler.leading and not standby.rt.scheduler.leading
    incident = await declare(web)
    assert await wait_for(lambda: len(reminders(web, incident.channel_id)) >= 1)
    await workers.stop(leader)
    assert await wait_for(lambda: standby.rt.scheduler.leading, 5)
    assert await wait_for(lambda: len(reminders(web, incident.channel_id)) >= 2)
    await standby.settle()
    await asyncio.sleep(1.5)  # a poll later: nothing fires a second time
    await standby.settle()
    assert len(reminders(web, incident.channel_id)) == 2
    assert (await timeline_kinds(web, incident.id)).count("step_overdue") == 2


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """An empty database on the test PostgreSQL server (the load proof runs on PostgreSQL only)."""
    server = postgres_server()
    if server is None:
        pytest.skip(SKIP_POSTGRES)
    url = create_database(server, f"yingji_replicas_{os.getpid()}")
    try:
        yield url
    finally:
        drop_database(url)


async def test_two_replicas_and_one_scheduler_under_a_storm(empty_postgres: str, tmp_path: Path) -> None:
    deployment = await harness.start_deployment(tmp_path, empty_postgres)
    try:
        answers = await harness.storm(deployment, harness.DECLARATIONS)
        await harness.wait_until(lambda: harness.all_answered(deployment, answers), 120)
        await harness.wait_until(lambda: harness.all_settled(deployment), 300)
        told = harness.recorded_keys(deployment, answers)  # read once all settled: a late second answer counts
        state = await harness.read_state(deployment)
    finally:
        await harness.stop_deployment(deployment)
    count = harness.DECLARATIONS
    assert all(a.status == 200 for a in answers)
    assert {a.replica for a in answers} == {0, 1}
    assert len(answers) == count + count // 2  # every other declaration also retried to the other replica
    assert len(told) == count and all(len(keys) == 1 for keys in told.values())  # each told its key once
    assert len({keys[0] for keys in told.values()}) == count  # each declaration recorded once, on one replica
    assert (state.incidents, state.keys, state.channel_ids, state.channels, state.ready) == (count,) * 5
    steps = len(harness.STEP_DUE_MINUTES)
    assert (state.reminders, state.overdue, state.overdue_per_step) == (count * steps, count * steps, 1)
    assert state.open_ops == 0
    for n in range(2):  # the replicas stored jobs but never fired one; the worker did
        assert "scheduler off in this process" in deployment.log(f"web-{n}")
        assert "fires the scheduled jobs" not in deployment.log(f"web-{n}")
    assert "this process fires the scheduled jobs" in deployment.log("worker")


def test_the_scheduler_setting_is_on_unless_turned_off() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    assert load_settings(env).scheduler is True
    assert load_settings({**env, "YINGJI_SCHEDULER": "off"}).scheduler is False
    assert load_settings({**env, "YINGJI_SCHEDULER": " On "}).scheduler is True
    with pytest.raises(ConfigError, match="YINGJI_SCHEDULER: expected on or off"):
        load_settings({**env, "YINGJI_SCHEDULER": "sometimes"})
