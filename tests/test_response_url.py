"""The bot posts to a payload's response_url only when it is Slack's (or the sandbox's, or allow-listed)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from aiohttp import web
from pydantic import ValidationError
from sqlmodel import select

from bot.config import DEFAULT_API_URL, ConfigError, FileConfig, load_settings
from bot.models import Step
from bot.sandbox.actor import ActorResponse, sign
from bot.sandbox.interactions import block_action_payload
from bot.slack import response_url
from bot.slack.checklist import DONE_ACTION
from bot.slack.notify import respond
from bot.slack.response_url import ResponseUrlPolicy
from tests.helpers import StackFactory, declare, in_channel
from yingji.local import LocalStack

SLACK = ResponseUrlPolicy.from_settings(DEFAULT_API_URL)
SECRET_PATH = "commands/T0SECRET/1234567890/zYxWvUtSrQpOnMlK"


# -- the decision ------------------------------------------------------------


@pytest.mark.parametrize("url", [
    f"https://hooks.slack.com/{SECRET_PATH}",
    "https://hooks.slack.com/actions/T0A1B2C3D/5566778899/AbCdEfGhIjKlMnOpQrStUvWx",
    "https://hooks.slack.com:443/actions/T0A1B2C3D/1/x",
    "HTTPS://Hooks.Slack.COM/commands/T0A1B2C3D/1/x",
    "https://hooks.slack.com/commands/T0/1/x?thread=1",
])
def test_slack_response_urls_are_allowed(url: str) -> None:
    assert SLACK.allows(url)


@pytest.mark.parametrize(("api_url", "allowed", "refused"), [
    ("https://slack.com/api/", "https://hooks.slack.com/commands/T/1/x", "https://hooks.slack-gov.com/commands/T/1/x"),
    ("https://slack-gov.com/api/", "https://hooks.slack-gov.com/commands/T/1/x", "https://hooks.slack.com/commands/T/1/x"),
    ("https://api.slack.com/", "https://hooks.slack.com/actions/T/1/x", "https://hooks.api.slack.com/actions/T/1/x"),
    ("https://www.slack.com/api/", "https://hooks.slack.com/actions/T/1/x", "https://hooks.www.slack.com/actions/T/1/x"),
])
def test_the_response_host_follows_slack_api_url(api_url: str, allowed: str, refused: str) -> None:
    policy = ResponseUrlPolicy.from_settings(api_url)
    assert policy.allows(allowed) and not policy.allows(refused)


def test_the_sandbox_answers_on_the_apis_own_host_and_port() -> None:
    policy = ResponseUrlPolicy.from_settings("http://127.0.0.1:43123/api/")
    assert policy.allows("http://127.0.0.1:43123/response/0123456789abcdef")  # Sandbox.new_response_url's shape
    assert not policy.allows("http://127.0.0.1:43124/response/0123456789abcdef")  # another port on the same machine
    assert not policy.allows("http://localhost:43123/response/0123456789abcdef")  # another spelling
    assert not policy.allows("https://hooks.slack.com/commands/T/1/x")  # not the workspace this bot talks to
    assert ResponseUrlPolicy.from_settings("http://[::1]:43123/api/").allows("http://[::1]:43123/response/ab")
    assert ResponseUrlPolicy.from_settings("http://localhost:8000/api/").allows("http://LOCALHOST:8000/response/ab")


def test_the_allow_list_adds_hosts_https_only_except_on_loopback() -> None:
    hosts = ["hooks.example.com", "relay.example.com:8443", "127.0.0.1:9000", "[::1]:9001"]
    real = ResponseUrlPolicy.from_settings(DEFAULT_API_URL, hosts)
    assert real.allows("https://hooks.example.com/commands/T/1/x")
    assert real.allows("https://hooks.example.com:443/commands/T/1/x")
    assert real.allows("https://relay.example.com:8443/x")
    assert real.allows("https://127.0.0.1:9000/x") and real.allows("https://[::1]:9001/x")
    assert real.allows("https://hooks.slack.com/commands/T/1/x")  # Slack's own stays allowed
    assert not real.allows("http://hooks.example.com/commands/T/1/x")
    assert not real.allows("https://relay.example.com/x")  # not the listed port
    assert not real.allows("http://127.0.0.1:9000/x")  # SLACK_API_URL is https
    sandboxed = ResponseUrlPolicy.from_settings("http://127.0.0.1:43123/api/", hosts)
    assert sandboxed.allows("http://127.0.0.1:9000/x") and sandboxed.allows("http://[::1]:9001/x")
    assert not sandboxed.allows("http://hooks.example.com/x")  # http only on loopback


HOSTILE = [
    pytest.param(f"http://hooks.slack.com/{SECRET_PATH}", id="plain-http"),
    pytest.param(f"https://hooks.slack.com@evil.example/{SECRET_PATH}", id="userinfo-host"),
    pytest.param("https://hooks.slack.com:x@evil.example/x", id="userinfo-password"),
    pytest.param("https://evil.example@hooks.slack.com/x", id="userinfo-before-slack"),
    pytest.param("https://@hooks.slack.com/x", id="empty-userinfo"),
    pytest.param("https://hooks.slack.com\\@evil.example/x", id="backslash-userinfo"),
    pytest.param("https://hooks.slack.com\\.evil.example/x", id="backslash-host"),
    pytest.param("https://evil.example#@hooks.slack.com/x", id="fragment-at"),
    pytest.param("https://evil.example?@hooks.slack.com/x", id="query-at"),
    pytest.param("https://hooks.slack.com:8443/x", id="other-port"),
    pytest.param("https://hooks.slack.com:/x", id="empty-port"),
    pytest.param("https://hooks.slack.com:99999/x", id="port-out-of-range"),
    pytest.param("https://hooks.slack.com:4x3/x", id="port-not-a-number"),
    pytest.param("https://hooks.slack.com./x", id="trailing-dot"),
    pytest.param("https://hooks.slack.com.evil.example/x", id="slack-as-prefix"),
    pytest.param("https://evil.hooks.slack.com/x", id="subdomain"),
    pytest.param("https://slack.com/api/chat.postMessage", id="api-host"),
    pytest.param("https://hooks%2eslack.com/x", id="percent-encoded-host"),
    pytest.param("https://hooks.slack.com%00.evil.example/x", id="nul"),
    pytest.param("https://h\u043e\u043eks.slack.com/x", id="cyrillic-o"),
    pytest.param("https://hooks.sla\nck.com/x", id="newline-in-host"),
    pytest.param("https://hooks.slack.com\t/x", id="tab"),
    pytest.param(" https://hooks.slack.com/x", id="leading-space"),
    pytest.param("https://[hooks.slack.com]/x", id="bracketed-name"),
    pytest.param("https://[::1/x", id="unbalanced-bracket"),
    pytest.param("http://169.254.169.254/latest/meta-data/", id="metadata-ip"),
    pytest.param("http://127.0.0.1:3000/slack/events", id="loopback"),
    pytest.param("https://[::1]/x", id="ipv6-loopback"),
    pytest.param("https://[::ffff:127.0.0.1]/x", id="ipv4-mapped"),
    pytest.param("https://2130706433/x", id="decimal-ip"),
    pytest.param("https://0x7f000001/x", id="hex-ip"),
    pytest.param("https://0177.0.0.1/x", id="octal-ip"),
    pytest.param("file:///etc/passwd", id="file"),
    pytest.param("gopher://hooks.slack.com/x", id="gopher"),
    pytest.param("ftp://hooks.slack.com/x", id="ftp"),
    pytest.param("ws://hooks.slack.com/x", id="websocket"),
    pytest.param("javascript:alert(1)", id="javascript"),
    pytest.param("data:text/plain,hi", id="data"),
    pytest.param("//hooks.slack.com/commands/T/1/x", id="scheme-relative"),
    pytest.param("hooks.slack.com/commands/T/1/x", id="no-scheme"),
    pytest.param("https:hooks.slack.com/x", id="no-slashes"),
    pytest.param("https:///hooks.slack.com/x", id="three-slashes"),
    pytest.param("", id="empty"),
    pytest.param(None, id="none"),
    pytest.param(42, id="number"),
    pytest.param({"url": "https://hooks.slack.com/x"}, id="object"),
    pytest.param(["https://hooks.slack.com/x"], id="list"),
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_response_urls_are_refused(url: object) -> None:
    assert not SLACK.allows(url)
    assert not ResponseUrlPolicy.from_settings("http://127.0.0.1:43123/api/", ["hooks.example.com"]).allows(url)


@pytest.fixture
def default_policy() -> Iterator[None]:
    """Tests that configure the process's policy leave the default behind them."""
    response_url.configure(DEFAULT_API_URL)
    yield
    response_url.configure(DEFAULT_API_URL)


def test_a_refusal_is_logged_once_per_host_without_the_url(default_policy: None,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.slack.response_url")
    assert response_url.check(f"https://hooks.slack.com/{SECRET_PATH}")
    assert not response_url.check(f"https://evil.example/{SECRET_PATH}")
    assert not response_url.check(f"https://hooks.slack.com@evil.example/{SECRET_PATH}?x=1")
    assert not response_url.check(f"http://10.0.0.7:8080/{SECRET_PATH}")
    assert not response_url.check(None)
    records = [r for r in caplog.records if r.name == "bot.slack.response_url"]
    assert [r.levelno for r in records] == [logging.WARNING] * 3
    assert "'evil.example'" in records[0].getMessage() and "'10.0.0.7:8080'" in records[1].getMessage()
    assert "T0SECRET" not in caplog.text and "zYxWvUtSrQpOnMlK" not in caplog.text


def test_response_url_hosts_in_yingji_yaml(tmp_path: Path) -> None:
    good = FileConfig.model_validate({"response_url_hosts": ["Hooks.Example.COM", "127.0.0.1:8080", "[::1]:9000",
                                                             "relay-1.example.com:443"]})
    assert good.response_url_hosts == ["hooks.example.com", "127.0.0.1:8080", "[::1]:9000", "relay-1.example.com:443"]
    assert FileConfig().response_url_hosts == []
    for bad in ("https://hooks.example.com", "hooks.example.com/commands", "user@hooks.example.com",
                "hooks.example.com.", "hooks.example.com:0", "hooks.example.com:70000", "hooks.example.com:",
                "[zz::1]:80", "::1", "", "*.example.com", "-bad.example.com", "hooks..example.com"):
        with pytest.raises(ValidationError):
            FileConfig.model_validate({"response_url_hosts": [bad]})
    path = tmp_path / "yingji.yaml"
    path.write_text(yaml.safe_dump({"response_url_hosts": ["http://evil.example/"]}), encoding="utf-8")
    with pytest.raises(ConfigError, match="response_url_hosts"):
        load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "YINGJI_CONFIG": str(path)})


# -- on the local stack ----------------------------------------------------------


@dataclass
class Elsewhere:
    """A server of the test's own on loopback: where a hostile response_url points."""

    port: int
    hits: list[tuple[str, str]] = field(default_factory=list)

    def url(self, path: str = SECRET_PATH) -> str:
        """A response_url aimed at this server."""
        return f"http://127.0.0.1:{self.port}/{path}"


@pytest.fixture
async def elsewhere() -> AsyncIterator[Elsewhere]:
    """Records every request that reaches it, whatever its method and path."""
    server = Elsewhere(port=0)

    async def record(request: web.Request) -> web.Response:
        server.hits.append((request.method, request.path))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server.port = runner.addresses[0][1]
    yield server
    await runner.cleanup()


async def _press(stack: LocalStack, user: str, action_id: str, value: str, channel_id: str, message_ts: str,
                 url: str) -> ActorResponse:
    """A correctly signed button press whose payload names `url` as its response_url."""
    sb = stack.sandbox
    payload = block_action_payload(sb, user, action_id, value, None, channel_id, message_ts, None, "button", None,
                                   sb.new_trigger_id(), url)
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(sb.signing_secret, ts, body)}
    return await stack.actor.raw(body, "application/x-www-form-urlencoded", headers)


async def _done_step_button(stack: LocalStack) -> tuple[str, str, str]:
    """Declare, complete step 1, and return (channel, checklist ts, step id) of its Done button."""
    incident = await declare(stack)
    await in_channel(stack, incident, "done 1")
    async with stack.rt.sessions() as session:
        step = (await session.exec(select(Step).where(Step.incident_id == incident.id, Step.number == 1))).one()
    assert step.done_by and step.message_ts and incident.channel_id
    return incident.channel_id, step.message_ts, str(step.id)


async def test_a_hostile_response_url_is_never_contacted_and_the_person_is_told_by_dm(
        stack: LocalStack, elsewhere: Elsewhere, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.slack.response_url")
    sb, user = stack.sandbox, stack.users["zhang.wei"]
    channel, ts, step = await _done_step_button(stack)
    dms, responses = len(sb.dms(user)), len(sb.responses)
    userinfo_trick = f"http://127.0.0.1:{sb.port}@127.0.0.1:{elsewhere.port}/{SECRET_PATH}"  # the sandbox's, at first sight
    for url in (elsewhere.url(), userinfo_trick):
        pressed = await _press(stack, user, DONE_ACTION, step, channel, ts, url)  # the step is done: told privately
        assert pressed.status == 200
        await stack.settle()
    assert elsewhere.hits == []
    assert len(sb.dms(user)) == dms + 2 and len(sb.responses) == responses  # by DM, both times
    refusals = [r for r in caplog.records if r.name == "bot.slack.response_url"]
    assert len(refusals) == 1 and refusals[0].levelno == logging.WARNING
    assert f"127.0.0.1:{elsewhere.port}" in refusals[0].getMessage()
    assert "T0SECRET" not in caplog.text and "zYxWvUtSrQpOnMlK" not in caplog.text
    # The sandbox's own response_url, as Slack would send it, is still used.
    await stack.actor.block_action(user, DONE_ACTION, value=step, channel_id=channel, message_ts=ts)
    await stack.settle()
    assert len(sb.responses) == responses + 1 and len(sb.dms(user)) == dms + 2


async def test_an_allow_listed_host_is_used(make_stack: StackFactory, elsewhere: Elsewhere) -> None:
    stack = await make_stack(config={"response_url_hosts": [f"127.0.0.1:{elsewhere.port}"]})
    user = stack.users["zhang.wei"]
    channel, ts, step = await _done_step_button(stack)
    dms = len(stack.sandbox.dms(user))
    assert (await _press(stack, user, DONE_ACTION, step, channel, ts, elsewhere.url())).status == 200
    await stack.settle()
    assert elsewhere.hits == [("POST", "/" + SECRET_PATH)]
    assert len(stack.sandbox.dms(user)) == dms


async def test_respond_posts_only_to_slacks_response_urls(stack: LocalStack, elsewhere: Elsewhere) -> None:
    sb, user, channel = stack.sandbox, stack.users["zhang.wei"], stack.channels["general"]
    assert await respond(sb.new_response_url(channel, user), text="page 2", response_type="ephemeral")
    assert [r["text"] for r in sb.responses] == ["page 2"]
    assert not await respond(elsewhere.url(), text="page 3", response_type="ephemeral", replace_original=True)
    assert not await respond(f"{sb.base_url}/response/no-such-id", text="page 4")  # Slack's host, but refused there
    assert elsewhere.hits == [] and [r["text"] for r in sb.responses] == ["page 2"]
