"""Fixtures for the sandbox's own tests: a running sandbox and a real slack_sdk client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import Sandbox
from bot.sandbox.scopes import KNOWN

SECRET = "test-signing-secret"


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    """A started sandbox, stopped after the test; its token holds every scope, since these tests call every method."""
    sandbox = Sandbox(signing_secret=SECRET, bot_scopes=KNOWN)
    await sandbox.start()
    try:
        yield sandbox
    finally:
        await sandbox.stop()


@pytest.fixture
def client(sb: Sandbox) -> AsyncWebClient:
    """slack_sdk's real async client, talking to the sandbox with the bot token."""
    return AsyncWebClient(token=sb.bot_token, base_url=sb.api_url)
