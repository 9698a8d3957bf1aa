"""Fixtures: a local Slack sandbox and the bot running against it on loopback, on SQLite and on PostgreSQL.

Every test that starts the bot (through `make_stack`, `stack`, or by asking for `database`) runs twice:
`[sqlite]` and `[postgresql]`. The PostgreSQL half needs a server: set YINGJI_TEST_POSTGRES_URL to
`postgresql+asyncpg://user@host:port/db` (`.ci/run` starts a throwaway one); each test then gets fresh
databases on that server, dropped afterwards. Without it, the PostgreSQL half is skipped and says so.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.db import create_database, drop_database, upgrade
from bot.models import Incident, TimelineEvent
from tests import monitoring
from yingji.local import LocalStack, sqlite_url

StackFactory = Callable[..., Awaitable[LocalStack]]

POSTGRES_ENV = "YINGJI_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")
SKIP_POSTGRES = (f"PostgreSQL half skipped: {POSTGRES_ENV} is not set "
                 "(set it to postgresql+asyncpg://user@host:port/db, or run .ci/run, which starts a server)")


def postgres_server() -> str | None:
    """The PostgreSQL server the tests may create databases on, if one was given."""
    return os.environ.get(POSTGRES_ENV) or None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that starts the bot runs on each database."""
    if "database" in metafunc.fixturenames:
        metafunc.parametrize("database", BACKENDS, indirect=True)


def pytest_report_header() -> list[str]:
    """Say up front which databases this run covers, and whether the monitoring tests can run."""
    databases = (f"databases: sqlite, postgresql ({postgres_server()})" if postgres_server()
                 else f"databases: sqlite; {SKIP_POSTGRES}")
    return [databases, *filter(None, [monitoring.status_line()])]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Repeat at the end what did not run, so nobody mistakes a green run for all of it."""
    if not postgres_server():
        terminalreporter.write_line(SKIP_POSTGRES, yellow=True)
    line = monitoring.status_line()
    if line:
        terminalreporter.write_line(line, yellow=True)


_names = itertools.count(1)


@dataclass
class Database:
    """The database backend of one test run, and a database per data directory (so restarts find their data)."""

    backend: str
    server: str | None = None
    template: str | None = None
    urls: dict[Path, str] = field(default_factory=dict)

    def url_for(self, data_dir: Path) -> str:
        """The database of a stack in `data_dir`: its SQLite file, or a fresh PostgreSQL database."""
        if self.backend == "sqlite":
            return sqlite_url(data_dir)
        if data_dir not in self.urls:
            assert self.server is not None
            name = f"yingji_{os.getpid()}_{next(_names)}"
            self.urls[data_dir] = create_database(self.server, name, template=self.template)
        return self.urls[data_dir]

    def empty(self, data_dir: Path) -> str:
        """A database with no tables at all, for migration tests."""
        if self.backend == "sqlite":
            return sqlite_url(data_dir)
        assert self.server is not None
        self.urls[data_dir] = create_database(self.server, f"yingji_{os.getpid()}_{next(_names)}")
        return self.urls[data_dir]

    def drop_all(self) -> None:
        """Drop every database this test created."""
        for url in self.urls.values():
            drop_database(url)
        self.urls.clear()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str | None]:
    """A database migrated once per run; each test's databases are copies of it (faster than migrating)."""
    server = postgres_server()
    if server is None:
        yield None
        return
    name = f"yingji_template_{os.getpid()}"
    url = create_database(server, name)
    upgrade(url)
    yield name
    drop_database(url)


@pytest.fixture
def database(request: pytest.FixtureRequest, postgres_template: str | None,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The database this test runs on (parametrized: sqlite, postgresql); stacks started in it use it."""
    backend = getattr(request, "param", "sqlite")
    if backend == "postgresql" and postgres_server() is None:
        pytest.skip(SKIP_POSTGRES)
    db = Database(backend, server=postgres_server(), template=postgres_template)
    monkeypatch.setattr(LocalStack, "database_for", db.url_for)
    try:
        yield db
    finally:
        db.drop_all()


@pytest.fixture
async def make_stack(tmp_path: Path, database: Database) -> AsyncIterator[StackFactory]:
    """Start stacks on demand (with options); all are stopped at the end of the test."""
    stacks: list[LocalStack] = []

    async def factory(**options: Any) -> LocalStack:
        stack = await LocalStack.start(tmp_path / f"stack{len(stacks)}", **options)
        stacks.append(stack)
        return stack

    yield factory
    for stack in stacks:
        await stack.stop()


@pytest.fixture
async def stack(make_stack: StackFactory) -> LocalStack:
    """The bot and the sandbox with the default settings."""
    return await make_stack()


async def incidents_in_db(stack: LocalStack) -> list[Incident]:
    """Every incident the bot stored."""
    async with stack.rt.sessions() as session:
        return list((await session.exec(select(Incident).order_by(Incident.id))).all())


async def timeline_kinds(stack: LocalStack, incident_id: int) -> list[str]:
    """The kinds of an incident's timeline events, in order."""
    async with stack.rt.sessions() as session:
        rows = await session.exec(
            select(TimelineEvent).where(TimelineEvent.incident_id == incident_id).order_by(TimelineEvent.id)
        )
        return [row.kind for row in rows.all()]


def fast_playbooks(directory: Path, due: dict[str, dict[str, float]], extra_steps: dict[str, int] | None = None) -> Path:
    """Copies of shipped playbooks with some steps due sooner (minutes), or padded with extra steps."""
    import yaml

    from bot.playbooks import SHIPPED_DIR

    directory.mkdir(parents=True, exist_ok=True)
    for slug in set(due) | set(extra_steps or {}):
        data = yaml.safe_load((SHIPPED_DIR / f"{slug}.yaml").read_text(encoding="utf-8"))
        for step in data["steps"]:
            if step["id"] in due.get(slug, {}):
                step["due_minutes"] = due[slug][step["id"]]
        for n in range((extra_steps or {}).get(slug, 0)):
            data["steps"].append({
                "id": f"extra-{n}", "phase": "handle", "owner": "tech", "due_minutes": 600 + n,
                "title": {"zh": f"附加检查 {n}", "en": f"Extra check {n}"},
            })
        (directory / f"{slug}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return directory


async def declare(stack: LocalStack, text: str = "declare sev2 payment-failure 支付宝回调超时", user: str = "zhang.wei") -> Incident:
    """Declare from #general and wait until the incident is ready; returns it."""
    await stack.actor.slash("/incident", text, user_id=stack.users[user], channel_id=stack.channels["general"])
    await stack.settle()
    return (await incidents_in_db(stack))[-1]


async def in_channel(stack: LocalStack, incident: Incident, text: str, user: str = "zhang.wei"):
    """Run `/incident <text>` inside the incident's channel, as `user`, and let the work settle."""
    reply = await stack.actor.slash("/incident", text, user_id=stack.users[user], channel_id=incident.channel_id)
    await stack.settle()
    return reply


async def wait_for(predicate: Callable[[], object], seconds: float = 12.0) -> bool:
    """Poll until `predicate()` is true (for timers that fire on their own), at most `seconds`."""
    import asyncio

    for _ in range(int(seconds / 0.1)):
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return False
