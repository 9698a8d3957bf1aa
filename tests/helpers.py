"""What the tests share, in one place: the database a test runs on, driving a stack as people would, reading what
the bot stored, monitoring's requests, statements drafted through the form, and playbooks whose steps fall due sooner.

Import helpers from here (conftest.py holds only fixtures and hooks, and test modules import nothing from each
other). bench/replicas.py uses `fast_playbooks` too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import yaml
from sqlmodel import select

from bot.db import create_database, drop_database, utcnow
from bot.models import Incident, Statement, TimelineEvent
from bot.playbooks import SHIPPED_DIR
from yingji.local import LocalStack, sqlite_url

StackFactory = Callable[..., Awaitable[LocalStack]]

# -- the database a test runs on ----------------------------------------------------------------------------------

POSTGRES_ENV = "YINGJI_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")
SKIP_POSTGRES = (f"PostgreSQL half skipped: {POSTGRES_ENV} is not set "
                 "(set it to postgresql+asyncpg://user@host:port/db, or run .ci/run, which starts a server)")


def postgres_server() -> str | None:
    """The PostgreSQL server the tests may create databases on, if one was given."""
    return os.environ.get(POSTGRES_ENV) or None


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


# -- what the bot stored ------------------------------------------------------------------------------------------


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


async def events(stack: LocalStack, incident_id: int, kind: str) -> list[TimelineEvent]:
    """An incident's timeline events of one kind."""
    async with stack.rt.sessions() as session:
        rows = await session.exec(select(TimelineEvent).where(
            TimelineEvent.incident_id == incident_id, TimelineEvent.kind == kind).order_by(TimelineEvent.id))
        return list(rows.all())


# -- people using the bot -----------------------------------------------------------------------------------------


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
    for _ in range(int(seconds / 0.1)):
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return False


def slash_body(stack: LocalStack, text: str, user: str) -> bytes:
    """A `/incident <text>` from #general as Slack posts it (form-encoded), to send and sign by hand."""
    sb = stack.sandbox
    return urlencode({
        "token": "x", "team_id": sb.team_id, "team_domain": "sandbox", "channel_id": stack.channels["general"],
        "channel_name": "general", "user_id": user, "user_name": "zhang.wei", "command": "/incident",
        "text": text, "api_app_id": sb.app_id, "is_enterprise_install": "false",
        "response_url": sb.new_response_url(stack.channels["general"], user), "trigger_id": sb.new_trigger_id(),
    }).encode()


# -- monitoring ---------------------------------------------------------------------------------------------------

GROUP = '{}:{alertname="CheckoutErrors"}'


def am_alert(status: str = "firing", *, fp: str = "a1", starts: str = "2024-05-01T02:00:00Z",
             labels: dict[str, str] | None = None, summary: str | None = "Checkout 5xx above 5%") -> dict[str, Any]:
    """One alert as Alertmanager writes it."""
    return {
        "status": status,
        "labels": {"alertname": "CheckoutErrors", "service": "checkout", **(labels or {})},
        "annotations": {"summary": summary} if summary else {},
        "startsAt": starts,
        "endsAt": "2024-05-01T02:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
        "fingerprint": fp,
    }


def am_payload(*alerts: dict[str, Any], status: str | None = None, group: str = GROUP) -> dict[str, Any]:
    """An Alertmanager v4 notification around the given alerts."""
    alerts = alerts or (am_alert(),)
    return {
        "version": "4",
        "groupKey": group,
        "truncatedAlerts": 0,
        "status": status or ("firing" if any(a["status"] == "firing" for a in alerts) else "resolved"),
        "receiver": "yingji",
        "groupLabels": {"alertname": "CheckoutErrors"},
        "commonLabels": {"alertname": "CheckoutErrors"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


async def post(stack: LocalStack, path: str, body: Any, *, token: str | None = "default",
               http: aiohttp.ClientSession | None = None) -> tuple[int, dict[str, Any]]:
    """POST to a hook as a monitoring system would; returns status and JSON body."""
    headers = {"Content-Type": "application/json"}
    token = stack.alert_token if token == "default" else token
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    own = http is None
    http = http or aiohttp.ClientSession()
    try:
        async with http.post(f"{stack.server.url}{path}", data=data, headers=headers) as resp:
            return resp.status, await resp.json()
    finally:
        if own:
            await http.close()


# -- statements ---------------------------------------------------------------------------------------------------


def statement_config(users: dict[str, str]) -> dict[str, Any]:
    """yingji.yaml for statements: a brand, wang.fang approves for comms and li.na for legal."""
    return {"brand": "示例商城", "comms_approvers": [users["wang.fang"]], "legal_approvers": [users["li.na"]]}


def team_time_in(stack: LocalStack, seconds: float) -> str:
    """The time `seconds` from now in the team's zone, as people type it into the form."""
    return (utcnow() + timedelta(seconds=seconds)).astimezone(stack.rt.settings.tz).strftime("%Y-%m-%d %H:%M:%S")


def statement_form(stack: LocalStack, stage: str = "investigating", lang: str = "zh", *, seconds: float = 1800,
                   **facts: str) -> dict[str, dict[str, Any]]:
    """The statement form's values, filled in (the next update `seconds` from now); `facts` override the defaults."""
    filled = {
        "what_happened": "部分用户用支付宝付款后订单仍显示待支付",
        "affected": "今天 08:30 以后用支付宝下单的部分用户",
        "doing": "已切换备用通道，并逐笔核对已扣款订单",
        "customer_action": "请勿重复付款；已扣款的订单核对后会自动更新",
        "compensation": "",
        "data": "unknown",
        "data_detail": "",
        **facts,
    }
    harms = filled.pop("data_harms", [])
    values: dict[str, dict[str, Any]] = {name: {"value": value} for name, value in filled.items()}
    values["data_harms"] = {"value": list(harms)}  # ticked boxes (the sandbox makes them selected_options)
    values["stage"] = {"value": stage}
    values["language"] = {"value": lang}
    values["next_update"] = {"value": "" if stage == "resolved" else team_time_in(stack, seconds)}
    return values


async def draft_statement(stack: LocalStack, incident, user: str = "zhang.wei", text: str = "statement",
                          **kwargs) -> Statement:
    """Open the form with the command, submit it, and return the new version."""
    reply = await in_channel(stack, incident, text, user=user)
    assert reply.status == 200
    view_id = [k for k, v in stack.sandbox.views.items() if v.get("callback_id") == "statement_form"][-1]
    submitted = await stack.actor.submit_view(view_id, stack.users[user], values=statement_form(stack, **kwargs))
    assert submitted.status == 200 and not (submitted.json or {}).get("errors"), submitted.body
    await stack.settle()
    return (await statements_in_db(stack))[-1]


async def statements_in_db(stack: LocalStack) -> list[Statement]:
    """Every statement version the bot stored."""
    async with stack.rt.sessions() as session:
        return list((await session.exec(select(Statement).order_by(Statement.id))).all())


# -- playbooks ----------------------------------------------------------------------------------------------------


def fast_playbooks(directory: Path, due: dict[str, dict[str, float]], extra_steps: dict[str, int] | None = None, *,
                   only_due: bool = False, clocks: bool = True) -> Path:
    """Copies of shipped playbooks with some steps due sooner (`due`: slug → step id → minutes), or padded with
    extra steps; `only_due` keeps only the steps named in `due`, `clocks=False` drops the regulatory clocks."""
    directory.mkdir(parents=True, exist_ok=True)
    for slug in set(due) | set(extra_steps or {}):
        data = yaml.safe_load((SHIPPED_DIR / f"{slug}.yaml").read_text(encoding="utf-8"))
        soon = due.get(slug, {})
        if only_due:
            data["steps"] = [step for step in data["steps"] if step["id"] in soon]
        for step in data["steps"]:
            if step["id"] in soon:
                step["due_minutes"] = soon[step["id"]]
        for n in range((extra_steps or {}).get(slug, 0)):
            data["steps"].append({
                "id": f"extra-{n}", "phase": "handle", "owner": "tech", "due_minutes": 600 + n,
                "title": {"zh": f"附加检查 {n}", "en": f"Extra check {n}"},
            })
        if not clocks:
            data.pop("clocks", None)
        (directory / f"{slug}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return directory
