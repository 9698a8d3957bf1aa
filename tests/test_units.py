"""The pieces without Slack: names, settings, severities, timestamps and the schema."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import bot.models  # noqa: F401
from bot.config import ConfigError, load_settings
from bot.db import make_engine, upgrade
from bot.naming import channel_name, title_slug
from bot.severity import parse_severity

SHANGHAI = ZoneInfo("Asia/Shanghai")
LATE = datetime(2026, 11, 11, 17, 30, tzinfo=UTC)  # 01:30 on 12 November in Shanghai
ENV = {"SLACK_BOT_TOKEN": "xoxb-1-secretvalue", "SLACK_SIGNING_SECRET": "signing-secretvalue"}


def test_title_slug() -> None:
    assert title_slug("Alipay Callback TIMEOUT!! (华东)") == "alipay-callback-timeout-huadong"
    assert title_slug("双十一支付失败") == "shuangshi-yi-zhifu-shibai"
    assert title_slug("🔥！？") == ""
    assert title_slug("Café crème") == "cafe-creme"


def test_channel_names() -> None:
    assert channel_name("inc", 7, "双十一支付失败", LATE, SHANGHAI) == "inc-7-shuangshi-yi-zhifu-shibai"
    assert channel_name("inc", 7, "🔥！？", LATE, SHANGHAI) == "inc-7-20261112"
    assert channel_name("inc", 7, "Checkout down", LATE, SHANGHAI, private=True) == "inc-7-20261112"
    long = channel_name("inc", 12345, "word " * 100, LATE, SHANGHAI)
    assert len(long) <= 80 and long.startswith("inc-12345-word-word") and not long.endswith("-")
    assert channel_name("inc", 3, "Checkout down", LATE, SHANGHAI, attempt=2) == "inc-3-checkout-down-2"
    suffixed = channel_name("inc", 3, "x" * 200, LATE, SHANGHAI, attempt=12)
    assert len(suffixed) == 80 and suffixed.endswith("-12")


@pytest.mark.parametrize(("text", "expected"), [("sev1", "sev1"), ("SEV2", "sev2"), ("3", "sev3"), ("p2", "sev2"), ("P4", "sev4"), ("sev5", None), ("p5", None), ("p", None), ("", None)])
def test_parse_severity(text: str, expected: str | None) -> None:
    assert parse_severity(text) == expected


def test_settings_defaults() -> None:
    settings = load_settings(ENV)
    assert settings.database_url == "sqlite+aiosqlite:///data/yingji.db"
    assert settings.api_url == "https://slack.com/api/" and settings.port == 3000
    assert settings.file.channel_prefix == "inc" and settings.file.language == "zh"
    assert "secretvalue" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"PORT": "http"}, "PORT"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"SLACK_API_URL": "slack.example"}, "SLACK_API_URL"),
    ],
)
def test_bad_settings_name_the_setting_and_hide_secrets(env: dict[str, str], named: str) -> None:
    merged = {**ENV, **env} if env else {}
    with pytest.raises(ConfigError) as caught:
        load_settings(merged)
    assert named in str(caught.value)
    assert "secretvalue" not in str(caught.value) and "user-token" not in str(caught.value)


def test_socket_mode_needs_an_app_token() -> None:
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        load_settings(ENV, need_app_token=True)


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        ("timezone: Mars/Olympus\n", "timezone"),
        ("language: fr\n", "language"),
        ("channel_prefix: 'Bad Prefix'\n", "channel_prefix"),
        ("default_roles: {janitor: U1}\n", "default_roles.janitor"),
        ("annouce_channel: '#x'\n", "annouce_channel"),
        ("outlet_limits: {banerr: 10}\n", "banerr"),
        ("cadence_minutes: {sev9: 10}\n", "cadence_minutes"),
        ("outlet_webhooks: {banner: {url: 'ftp://x', secret_env: X}}\n", "outlet_webhooks.banner.url"),
        ("- just\n- a list\n", "mapping"),
        ("key: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_config_file_names_the_field(tmp_path: Path, yaml_text: str, named: str) -> None:
    path = tmp_path / "yingji.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as caught:
        load_settings({**ENV, "YINGJI_CONFIG": str(path)})
    assert named in str(caught.value) and str(path) in str(caught.value)


def test_config_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "yingji.yaml"
    path.write_text("language: en\ntimezone: Europe/Berlin\nchannel_prefix: sev\ncomms_approvers: [U1, U2]\n")
    file = load_settings({**ENV, "YINGJI_CONFIG": str(path)}).file
    assert (file.language, file.timezone, file.channel_prefix, file.comms_approvers) == ("en", "Europe/Berlin", "sev", ["U1", "U2"])


async def test_migrations_match_the_models(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    async with engine.connect() as connection:
        journal = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), SQLModel.metadata)
        )
    await engine.dispose()
    assert journal == "wal"
    assert diff == []


def test_every_operation_has_a_name_people_can_read() -> None:
    from bot.i18n import has
    from bot.slack.ops import OPERATIONS

    for kind in OPERATIONS:
        assert has(f"op.{kind}"), kind
