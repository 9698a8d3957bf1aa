"""Fixtures: a local Slack sandbox and the bot running against it on loopback, on SQLite and on PostgreSQL.

Every test that starts the bot (through `make_stack`, `stack`, or by asking for `database`) runs twice:
`[sqlite]` and `[postgresql]`. The PostgreSQL half needs a server: set YINGJI_TEST_POSTGRES_URL to
`postgresql+asyncpg://user@host:port/db` (`.ci/run` starts a throwaway one); each test then gets fresh
databases on that server, dropped afterwards. Without it, the PostgreSQL half is skipped and says so.

`browser` is Debian's Chromium, headless (tests/browser.py), for the status page's browser tests.

Only fixtures and hooks live here; the helpers tests share are in tests/helpers.py.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from bot.db import create_database, drop_database, upgrade
from tests import monitoring
from tests.browser import launched, missing
from tests.helpers import BACKENDS, SKIP_POSTGRES, Database, StackFactory, postgres_server
from yingji.local import LocalStack


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



@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, for the status page as customers see it (tests/browser.py); no chromium: skipped."""
    if (why := missing()) is not None:
        pytest.skip(why)
    async with launched() as launched_browser:
        yield launched_browser


@pytest.fixture
async def browser_if_any() -> AsyncIterator[Browser | None]:
    """The same Chromium, or None when there is none: a test that is more than its browser part runs the rest and
    skips at its end (tests/browser.py's `missing` says why, or fails when the browser is required)."""
    if missing() is not None:
        yield None
        return
    async with launched() as launched_browser:
        yield launched_browser
