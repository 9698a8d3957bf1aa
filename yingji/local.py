"""A whole local stack on loopback: the Slack sandbox, the bot, and an actor playing the people."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import yaml

from bot.config import load_settings
from bot.db import upgrade
from bot.runtime import Runtime
from bot.sandbox.actor import SlackActor
from bot.sandbox.server import Sandbox
from yingji.app import Server, start

SIGNING_SECRET = "local-signing-secret"
BOT_TOKEN = "xoxb-local-sandbox"
APP_TOKEN = "xapp-local-sandbox"

PEOPLE = {
    "zhang.wei": "张伟",
    "li.na": "李娜",
    "wang.fang": "王芳",
    "chen.jie": "陈杰",
    "liu.yang": "刘洋",
    "guest": "Guest",
}
CHANNELS = ("general", "incidents", "leadership")


def sqlite_url(data_dir: Path) -> str:
    """The stack's own SQLite file in its data directory (the default database)."""
    return f"sqlite+aiosqlite:///{data_dir / 'yingji.db'}"


def _seed(sb: Sandbox) -> tuple[dict[str, str], dict[str, str]]:
    """People and channels of the demo workspace; a restarted bot finds them already there."""
    known = {user.name: user.id for user in sb.users.values()}
    users = {name: known.get(name) or sb.add_user(name, real_name=real) for name, real in PEOPLE.items()}
    channels = {}
    for name in CHANNELS:
        existing = sb.channel_by_name(name)
        channels[name] = existing.id if existing else sb.add_channel(name, members=list(users.values()))
    return users, channels


@dataclass
class LocalStack:
    """Everything a test, the demo or a benchmark needs, started and stopped together."""

    sandbox: Sandbox
    server: Server
    actor: SlackActor
    users: dict[str, str]
    channels: dict[str, str]
    data_dir: Path
    alert_token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    # Which database a stack in a data directory uses unless given one; the test suite swaps this to
    # run the same tests on PostgreSQL (one database per directory, so a restarted stack finds its data).
    database_for: ClassVar[Callable[[Path], str]] = sqlite_url

    @property
    def rt(self) -> Runtime:
        """The bot's runtime."""
        return self.server.rt

    @classmethod
    async def start(
        cls,
        data_dir: Path,
        *,
        socket_mode: bool = False,
        config: dict[str, Any] | Callable[[dict[str, str]], dict[str, Any]] | None = None,
        rate_limits: bool = True,
        database_url: str | None = None,
        outbox_backoff: float = 0.05,
        outbox_lease: timedelta = timedelta(seconds=2),
        sandbox: Sandbox | None = None,
        alert_token: str | None = "local-alert-token",
        scheduler: bool = True,
        port: int = 0,
    ) -> LocalStack:
        """Start a sandbox (unless given one), seed people and channels, start the bot against it.

        `config` is yingji.yaml as a dict, or a function of the seeded people's ids returning it;
        `scheduler=False` starts a web replica that stores timed jobs but never fires them; `port` 0 takes a free one.
        """
        data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 — once, before anything runs
        sb = sandbox or Sandbox(
            signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, app_token=APP_TOKEN, rate_limits=rate_limits
        )
        if sandbox is None:
            await sb.start()
        users, channels = _seed(sb)
        if callable(config):
            config = config(users)
        settings_file = data_dir / "yingji.yaml"
        settings_file.write_text(
            yaml.safe_dump({"announce_channel": "#incidents", "leadership_channel": "#leadership", **(config or {})},
                           allow_unicode=True),
            encoding="utf-8",
        )
        url = database_url or LocalStack.database_for(data_dir)
        settings = load_settings({
            "SLACK_BOT_TOKEN": sb.bot_token,
            "SLACK_SIGNING_SECRET": sb.signing_secret,
            "SLACK_APP_TOKEN": sb.app_token,
            "SLACK_API_URL": sb.api_url,
            "DATABASE_URL": url,
            "YINGJI_CONFIG": str(settings_file),
            "YINGJI_SCHEDULER": "on" if scheduler else "off",
            **({"ALERT_WEBHOOK_TOKEN": alert_token} if alert_token else {}),
        }, need_app_token=socket_mode)
        await asyncio.to_thread(upgrade, url)
        server = await start(Runtime(settings, outbox_backoff=outbox_backoff, outbox_lease=outbox_lease), host="127.0.0.1", port=port,
                             socket_mode=socket_mode)
        actor = SlackActor(sb, request_url=f"{server.url}/slack/events", signing_secret=sb.signing_secret,
                           mode="socket" if socket_mode else "http")
        return cls(sandbox=sb, server=server, actor=actor, users=users, channels=channels, data_dir=data_dir,
                   alert_token=alert_token)

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until the bot has finished all background work."""
        await self.rt.tasks.wait_idle(timeout)

    async def stop(self, *, keep_sandbox: bool = False) -> None:
        """Stop the actor, the bot and (unless kept for a restart) the sandbox."""
        await self.actor.close()
        await self.server.stop()
        if not keep_sandbox:
            await self.sandbox.stop()
