"""The public status page, as Slack users feed it and readers read it: statements declared, drafted, approved and
marked published through signed Slack requests, then GET /status, /status.json, /status/feed.atom and
/status/banner.js over HTTP. Only approved words published to the status page appear; a withdrawn version
disappears; a private incident shows nothing but its statement text; the crowd never reaches the database."""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from multidict import CIMultiDict
from sqlalchemy import event

from bot.db import utcnow
from bot.models import Maintenance, Statement
from bot.playbooks import SHIPPED_DIR
from tests.helpers import (
    StackFactory,
    declare,
    draft_statement,
    events,
    incidents_in_db,
    statement_config,
    statements_in_db,
)
from yingji.local import LocalStack

ATOM = "{http://www.w3.org/2005/Atom}"
COMPONENTS = [{"id": "checkout", "name": {"zh": "下单", "en": "Checkout"}},
              {"id": "payment", "name": {"zh": "支付", "en": "Payment"}}]
ROUTES = ("/status", "/status.json", "/status/feed.atom", "/status/banner.js")
GUARDED = {  # every other way into the app, and what keeps an outsider from learning anything through it
    ("POST", "/slack/events"): "Slack's signature",
    ("POST", "/hooks/alertmanager"): "the hook's token",
    ("POST", "/hooks/alert"): "the hook's token",
    ("GET", "/healthz"): "says only whether the bot is up",
    ("GET", "/metrics"): "counts only, checked by tests/test_confidentiality.py",
}


def own_playbooks(directory: Path) -> Path:
    """payment-failure as a deployment gives it: the status-page components it usually touches."""
    directory.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load((SHIPPED_DIR / "payment-failure.yaml").read_text(encoding="utf-8"))
    data["components"] = ["payment", "checkout"]
    (directory / "payment-failure.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return directory


@pytest.fixture
async def shop(make_stack: StackFactory, tmp_path: Path) -> LocalStack:
    return await make_stack(config=page_config(tmp_path))


def page_config(tmp_path: Path, **page: Any):
    playbooks = own_playbooks(tmp_path / "own-playbooks")

    def config(users: dict[str, str]) -> dict[str, Any]:
        return {**statement_config(users), "playbooks_dir": str(playbooks), "brand": "示例商城",
                "status_page": {"components": COMPONENTS, "refresh_seconds": 60, **page}}

    return config


async def get(stack: LocalStack, path: str, **headers: str) -> tuple[int, CIMultiDict[str], str]:
    """One GET as a reader's browser sends it: status, headers (any case), body."""
    async with aiohttp.ClientSession() as http, http.get(f"{stack.server.url}{path}", headers=headers) as response:
        return response.status, response.headers.copy(), await response.text()


async def press(stack: LocalStack, statement: Statement, action: str, user: str, channel: str) -> Any:
    reply = await stack.actor.block_action(stack.users[user], action, value=str(statement.id), channel_id=channel,
                                           message_ts=statement.message_ts)
    await stack.settle()
    return reply


async def publish(stack: LocalStack, statement: Statement, channel: str, outlets: list[str], user: str = "wang.fang") -> None:
    """Mark published: the button, then the form with these outlets ticked."""
    await press(stack, statement, "statement_publish", user, channel)
    view_id = [k for k, v in stack.sandbox.views.items() if v.get("callback_id") == "statement_publish_form"][-1]
    submitted = await stack.actor.submit_view(view_id, stack.users[user], values={"outlets": {"value": outlets}})
    assert submitted.status == 200 and not (submitted.json or {}).get("errors"), submitted.body
    await stack.settle()


async def published_version(stack: LocalStack, incident, what: str, *, outlets: tuple[str, ...] = ("status_page",),
                            **facts: Any) -> Statement:
    """Draft (by the commander), approve (by the comms approver) and mark published on these outlets."""
    draft = await draft_statement(stack, incident, what_happened=what, **facts)
    await press(stack, draft, "statement_approve", "wang.fang", incident.channel_id)
    if outlets:
        await publish(stack, draft, incident.channel_id, list(outlets))
    return (await statements_in_db(stack))[-1]


async def test_only_approved_words_published_to_the_page_appear(shop: LocalStack) -> None:
    incident = await declare(shop)
    draft = await draft_statement(shop, incident, what_happened="草稿里的话还没批准")
    approved = await draft_statement(shop, incident, what_happened="批准了但没发布到状态页")
    await press(shop, approved, "statement_approve", "wang.fang", incident.channel_id)
    await publish(shop, approved, incident.channel_id, ["banner"])
    for path in ROUTES:
        status, _, body = await get(shop, path)
        assert status == 200
        assert "草稿里的话" not in body and "批准了但没发布" not in body, path
    assert draft.status == "draft"
    shown = await published_version(shop, incident, "部分用户付款后订单仍显示待支付", components=["checkout"],
                                    component_state="major_outage")
    status, headers, page = await get(shop, "/status?lang=zh")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "部分用户付款后订单仍显示待支付" in page and "批准了但没发布" not in page
    assert 'data-component="checkout" data-state="major_outage"' in page
    assert 'data-component="payment" data-state="operational"' in page
    assert 'class="overall" data-state="major_outage"' in page
    body = json.loads((await get(shop, "/status.json"))[2])
    assert body["overall"]["state"] == "major_outage"
    assert [c["state"] for c in body["components"]] == ["major_outage", "operational"]
    [ongoing] = body["incidents"]
    assert ongoing["latest"]["zh"]["headline"] == "部分用户付款后订单仍显示待支付"
    assert ongoing["latest"]["zh"]["banner"] == shown.outlets["banner"]["text"]
    assert "en" not in ongoing["latest"]
    assert body["banner"]["zh"]["text"] == shown.outlets["banner"]["text"]


def feed_entries(body: str, lang: str = "zh") -> list[ET.Element]:
    """The Atom feed parsed, its required elements checked (RFC 4287: id, title, updated, author), its entries."""
    root = ET.fromstring(body.encode())
    assert root.tag == f"{ATOM}feed" and root.get("{http://www.w3.org/XML/1998/namespace}lang") == lang
    for name in ("id", "title", "updated"):
        assert (root.find(f"{ATOM}{name}").text or "").strip(), name
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        for name in ("id", "title", "updated", "content"):
            assert (entry.find(f"{ATOM}{name}").text or "").strip(), name
    return entries


async def test_a_newer_version_replaces_the_text_and_a_withdrawn_one_disappears(shop: LocalStack) -> None:
    sb = shop.sandbox
    incident = await declare(shop)
    v1 = await published_version(shop, incident, "第一版：部分用户付款后订单显示待支付", components=["checkout"],
                                 component_state="major_outage")
    v2 = await published_version(shop, incident, "第二版：已定位到支付回调网关", stage="identified",
                                 components=["checkout", "payment"], component_state="degraded")
    page = (await get(shop, "/status?lang=zh"))[2]
    assert page.index("第二版") < page.index("此前的更新") < page.index("第一版")  # the newest on top, the old beneath
    assert 'data-component="checkout" data-state="degraded"' in page and 'data-component="payment" data-state="degraded"' in page
    english = (await get(shop, "/status?lang=en"))[2]
    assert "第二版" in english and '<span class="tag" lang="zh">Chinese</span>' in english  # no English version yet
    v3 = await published_version(shop, incident, "Third: the payment callback gateway is being fixed", lang="en",
                                 stage="identified", components=["checkout", "payment"], component_state="degraded")
    english = (await get(shop, "/status?lang=en"))[2]
    assert "Third: the payment callback gateway" in english and "第二版" not in english
    assert "第二版" in (await get(shop, "/status?lang=zh"))[2]  # each reader their own language
    entries = feed_entries((await get(shop, "/status/feed.atom?lang=zh"))[2])
    assert [e.find(f"{ATOM}content").text.split("。")[0] for e in entries[1:]] == ["第二版：已定位到支付回调网关",
                                                                                  "第一版：部分用户付款后订单显示待支付"]
    assert entries[0].get("{http://www.w3.org/XML/1998/namespace}lang") == "en" and len(entries) == 3

    await press(shop, v2, "statement_withdraw", "liu.yang", incident.channel_id)  # in the channel, but not comms
    assert (await statements_in_db(shop))[1].withdrawn_at is None
    assert any("可以从状态页撤下口径" in str(r.get("text")) for r in sb.responses)
    await press(shop, v2, "statement_withdraw", "wang.fang", incident.channel_id)
    again = await press(shop, v2, "statement_withdraw", "wang.fang", incident.channel_id)
    assert again.status == 200
    assert len(await events(shop, incident.id, "statement_withdrawn")) == 1  # pressing twice withdraws once
    withdrawn = (await statements_in_db(shop))[1]
    assert withdrawn.withdrawn_by == shop.users["wang.fang"] and withdrawn.withdrawn_at is not None
    message = next(m for m in sb.messages(incident.channel_id) if m["ts"] == v2.message_ts)
    assert "statement_withdraw" not in json.dumps(message["blocks"]) and "从状态页撤下" in json.dumps(message["blocks"], ensure_ascii=False)
    for path in ROUTES:
        assert "第二版" not in (await get(shop, path))[2], path
    page = (await get(shop, "/status?lang=zh"))[2]
    assert "第一版" in page and "此前的更新" not in page  # v1 is the one shown again
    assert len(feed_entries((await get(shop, "/status/feed.atom"))[2])) == 2
    assert v1.id and v3.id

    await published_version(shop, incident, "已全部恢复", stage="resolved")
    page = (await get(shop, "/status?lang=zh"))[2]
    assert 'class="overall" data-state="operational" data-incident="false"' in page
    history = page[page.index('id="history"'):]
    assert "已全部恢复" in history and 'data-stage="resolved"' in history
    assert json.loads((await get(shop, "/status.json"))[2])["incidents"] == []
    today = utcnow().astimezone(shop.rt.settings.tz).date().isoformat()
    assert f'data-day="{today}" data-state="major_outage"' in page  # the strip keeps the day's worst state


async def test_auto_publish_puts_the_approved_version_on_the_page(make_stack: StackFactory, tmp_path: Path) -> None:
    stack = await make_stack(config=page_config(tmp_path, auto_publish=True))
    incident = await declare(stack)
    version = await published_version(stack, incident, "批准即发布的口径", outlets=())
    assert version.published_to == ["status_page"]
    [published] = await events(stack, incident.id, "statement_published")
    assert published.actor == stack.users["wang.fang"] and published.data["auto"] is True
    assert published.at.tzinfo is not None
    assert "批准即发布的口径" in (await get(stack, "/status"))[2]


async def test_a_private_incident_shows_only_its_statement_text(shop: LocalStack) -> None:
    u = shop.users
    incident = await declare(shop, "declare sev1 data-breach 会员手机号外泄ZQXSECRET")
    assert incident.private
    for approver in ("wang.fang", "li.na"):  # a private incident: only people inside it may act
        await shop.actor.join(incident.channel_id, u[approver])
    draft = await draft_statement(shop, incident, what_happened="部分会员的账户信息存在风险", data="unknown")
    await press(shop, draft, "statement_approve", "wang.fang", incident.channel_id)
    await press(shop, draft, "statement_approve", "li.na", incident.channel_id)
    await publish(shop, draft, incident.channel_id, ["status_page", "banner"])
    playbook = shop.rt.playbooks["data-breach"]
    secrets = [incident.key, "ZQXSECRET", "会员手机号外泄", incident.channel_id, incident.channel_name, "data-breach",
               playbook.name.zh, playbook.name.en, f"INC-{incident.id}", *u.values(), "张伟", "王芳", "李娜"]
    for path in (*ROUTES, "/status?lang=en"):
        _, _, body = await get(shop, path)
        assert "部分会员的账户信息存在风险" in body or path == "/status/banner.js", path
        for secret in secrets:
            assert secret not in body, (path, secret)
    assert "部分会员的账户信息存在风险" in json.loads((await get(shop, "/status.json"))[2])["incidents"][0]["latest"]["zh"]["text"]


async def test_drills_appear_only_when_shown_and_marked(make_stack: StackFactory, tmp_path: Path) -> None:
    for show in (False, True):
        stack = await make_stack(config=page_config(tmp_path / str(show), show_drills=show))
        await stack.actor.slash("/incident", "drill payment-failure", user_id=stack.users["zhang.wei"],
                                channel_id=stack.channels["general"])
        await stack.settle()
        drill = (await incidents_in_db(stack))[-1]
        assert drill.drill
        await published_version(stack, drill, "演练中的口径文字", components=["checkout"], component_state="major_outage")
        page, body = (await get(stack, "/status"))[2], json.loads((await get(stack, "/status.json"))[2])
        assert ("演练中的口径文字" in page) is show
        assert len(body["incidents"]) == int(show) and body["banner"]["zh"] is None  # a drill never reaches a shop
        assert body["overall"]["state"] == "operational"  # nor colours a component
        assert 'data-component="checkout" data-state="operational"' in page
        if show:
            assert 'data-drill="true"' in page and '<span class="tag drill">演练</span>' in page
            assert body["incidents"][0]["drill"] is True
            [entry] = feed_entries((await get(stack, "/status/feed.atom"))[2])
            assert entry.find(f"{ATOM}title").text.startswith("【演练】")


async def test_readers_get_cache_headers_304_cors_and_their_language(shop: LocalStack) -> None:
    incident = await declare(shop)
    await published_version(shop, incident, "部分用户付款后订单仍显示待支付")
    for path in ROUTES:
        status, headers, _ = await get(shop, path)
        assert status == 200 and headers["Cache-Control"] == "public, max-age=30", path
        assert headers["ETag"].startswith('"') and headers["Last-Modified"].endswith("GMT"), path
        assert headers["Access-Control-Allow-Origin"] == "*", path
        again = await get(shop, path, **{"If-None-Match": headers["ETag"]})
        assert again[0] == 304 and again[2] == "" and again[1]["ETag"] == headers["ETag"], path
        assert (await get(shop, path, **{"If-None-Match": f'W/{headers["ETag"]}, "other"'}))[0] == 304, path
        assert (await get(shop, path, **{"If-Modified-Since": headers["Last-Modified"]}))[0] == 304, path
        assert (await get(shop, path, **{"If-Modified-Since": "Thu, 01 Jan 2004 00:00:00 GMT"}))[0] == 200, path
        assert (await get(shop, path, **{"If-None-Match": '"stale"'}))[0] == 200, path
    async with aiohttp.ClientSession() as http:
        async with http.options(f"{shop.server.url}/status.json", headers={
                "Origin": "https://shop.example", "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "if-none-match"}) as preflight:
            assert preflight.status == 204 and preflight.headers["Access-Control-Allow-Origin"] == "*"
            assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
            assert "If-None-Match" in preflight.headers["Access-Control-Allow-Headers"]
        async with http.head(f"{shop.server.url}/status.json") as head:
            assert head.status == 200 and head.headers["Access-Control-Allow-Origin"] == "*" and await head.read() == b""
            assert head.headers["Content-Type"] == "application/json"
    assert (await get(shop, "/status/feed.atom"))[1]["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert (await get(shop, "/status/banner.js"))[1]["Content-Type"] == "text/javascript; charset=utf-8"
    page_headers = (await get(shop, "/status"))[1]
    assert "default-src 'none'" in page_headers["Content-Security-Policy"]
    for asked, accept, lang in (("en", "zh-CN,zh;q=0.9", "en"), ("zh", "en", "zh-CN"), (None, "en-US,en;q=0.9,zh;q=0.5", "en"),
                                (None, "fr, zh-TW;q=0.8, en;q=0.7", "zh-CN"), (None, None, "zh-CN"), ("xx", "en", "en")):
        path = f"/status?lang={asked}" if asked else "/status"
        _, headers, body = await get(shop, path, **({"Accept-Language": accept} if accept else {}))
        assert f'<html lang="{lang}">' in body, (asked, accept)
        assert ("Accept-Language" in headers["Vary"]) is (asked not in ("en", "zh")), (asked, accept)  # negotiated
    assert (await get(shop, "/status", **{"Accept-Language": "en"}))[2] != (await get(shop, "/status"))[2]


async def raw(stack: LocalStack, path: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    """One GET whose body is kept as sent (no decompression)."""
    async with aiohttp.ClientSession(auto_decompress=False) as http, \
            http.get(f"{stack.server.url}{path}", headers=headers) as response:
        return response.status, response.headers.copy(), await response.read()


async def test_a_reader_who_takes_gzip_gets_a_third_of_the_bytes(shop: LocalStack) -> None:
    incident = await declare(shop)
    await published_version(shop, incident, "部分用户付款后订单仍显示待支付")
    for path in ROUTES:
        _, plain_headers, plain = await raw(shop, path, **{"Accept-Encoding": "identity"})
        status, headers, body = await raw(shop, path, **{"Accept-Encoding": "gzip, deflate, br"})
        assert status == 200 and "Content-Encoding" not in plain_headers, path
        assert "Accept-Encoding" in headers["Vary"] and "Accept-Encoding" in plain_headers["Vary"], path
        if headers.get("Content-Encoding") != "gzip":
            assert body == plain and len(plain) < 1000, path  # too small to shrink: sent as it is
            continue
        assert gzip.decompress(body) == plain and headers["ETag"] != plain_headers["ETag"], path
        assert (await raw(shop, path, **{"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]}))[0] == 304
        assert (await raw(shop, path, **{"Accept-Encoding": "identity", "If-None-Match": headers["ETag"]}))[0] == 200
    page = (await raw(shop, "/status", **{"Accept-Encoding": "gzip"}))[2]
    assert len(page) * 3 < len(gzip.decompress(page))
    for refused in ("gzip;q=0", "identity", "br", "*;q=1, gzip;q=0", ""):
        assert "Content-Encoding" not in (await raw(shop, "/status", **{"Accept-Encoding": refused}))[1], refused
    for taken in ("*", "GZIP;q=0.5", "x-gzip"):
        assert (await raw(shop, "/status", **{"Accept-Encoding": taken}))[1]["Content-Encoding"] == "gzip", taken


async def test_every_public_route_is_one_these_tests_walk(shop: LocalStack) -> None:
    """A new route anyone may call fails here until the tests above (private text, cache headers, 304, CORS, no
    database) walk it too, or it is guarded."""
    routes = {(r.method, r.resource.canonical) for r in shop.server.runner.app.router.routes()
              if r.method != "HEAD" and r.resource is not None}  # aiohttp adds HEAD beside each GET
    assert routes - GUARDED.keys() == {(method, path) for path in ROUTES for method in ("GET", "OPTIONS")}
    assert GUARDED.keys() <= routes  # no stale row


async def test_a_crowd_of_readers_never_reaches_the_database(shop: LocalStack) -> None:
    incident = await declare(shop)
    await published_version(shop, incident, "部分用户付款后订单仍显示待支付")
    statements: list[str] = []
    rt = shop.rt
    engines = {id(e.sync_engine): e.sync_engine for e in (rt.engine, rt.read_engine)}.values()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        async with aiohttp.ClientSession() as http:
            for n in range(100):
                path = ROUTES[n % 4] + ("?lang=en" if n % 8 < 4 else "")
                async with http.get(f"{shop.server.url}{path}") as response:
                    assert response.status == 200 and await response.read()
        assert statements == []  # every answer came from memory
        rt.status_page.changed()  # ... and the listener does see the board's own reads
        await shop.settle()
        assert statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


async def add_window(stack: LocalStack, starts: timedelta, ends: timedelta, components: list[str], zh: str,
                     en: str = "") -> None:
    """A maintenance window approved by the other helper's flow, written straight to its table."""
    now = utcnow()
    async with stack.rt.sessions() as session:
        session.add(Maintenance(starts_at=now + starts, ends_at=now + ends, components=components,
                                text={"zh": zh, **({"en": en} if en else {})}, status="approved",
                                drafted_by=stack.users["zhang.wei"], approved_by=stack.users["wang.fang"],
                                approved_at=now))
        await session.commit()


async def test_maintenance_shows_scheduled_active_and_past(shop: LocalStack) -> None:
    await add_window(shop, timedelta(minutes=-30), timedelta(minutes=30), ["checkout"], "下单服务数据库升级", "Checkout database upgrade")
    await add_window(shop, timedelta(days=2), timedelta(days=2, hours=1), ["payment"], "支付通道例行维护")
    await add_window(shop, timedelta(days=-1, hours=-1), timedelta(days=-1), ["payment"], "昨天的维护已完成")
    async with shop.rt.sessions() as session:
        session.add(Maintenance(starts_at=utcnow() - timedelta(minutes=5), ends_at=utcnow() + timedelta(hours=1),
                                text={"zh": "草稿中的维护"}, drafted_by=shop.users["zhang.wei"]))  # not approved
        await session.commit()
    shop.rt.status_page.changed()
    await shop.settle()
    page = (await get(shop, "/status?lang=zh"))[2]
    active = page[page.index('data-phase="active"'):]
    assert "下单服务数据库升级" in active[:active.index("</article>")]
    scheduled = page[page.index('data-phase="scheduled"'):]
    assert "支付通道例行维护" in scheduled[:scheduled.index("</article>")]
    assert "昨天的维护已完成" in page[page.index('id="history"'):] and "草稿中的维护" not in page
    assert 'data-component="checkout" data-state="maintenance"' in page
    assert 'data-component="payment" data-state="operational"' in page
    assert 'class="overall" data-state="maintenance"' in page
    yesterday = (utcnow() - timedelta(days=1)).astimezone(shop.rt.settings.tz).date().isoformat()
    assert f'data-day="{yesterday}" data-state="maintenance"' in page or yesterday not in page  # ended near midnight
    body = json.loads((await get(shop, "/status.json"))[2])
    assert [w["text"]["zh"] for w in body["maintenance"]["active"]] == ["下单服务数据库升级"]
    assert [w["text"]["zh"] for w in body["maintenance"]["upcoming"]] == ["支付通道例行维护"]
    assert body["banner"]["en"] == {"text": "Checkout database upgrade", "language": "en"}
    assert "Checkout database upgrade" in (await get(shop, "/status?lang=en"))[2]


async def test_another_replicas_change_and_the_clock_show_without_a_local_call(make_stack: StackFactory,
                                                                               tmp_path: Path) -> None:
    stack = await make_stack(config=page_config(tmp_path, refresh_seconds=0.2))
    incident = await declare(stack)
    version = await published_version(stack, incident, "另一台副本发布的口径", outlets=())
    async with stack.rt.sessions() as session:  # what another replica's flow writes, this board never told
        from bot.statements import service

        row = await session.get(Statement, version.id)
        await service.mark_published(session, row, by=stack.users["wang.fang"], outlets=["status_page"])
        await session.commit()
    before = stack.rt.status_page.rebuilds
    assert await wait_until(lambda: stack.rt.status_page.rebuilds > before)
    assert "另一台副本发布的口径" in (await get(stack, "/status"))[2]
    await add_window(stack, timedelta(seconds=1.5), timedelta(minutes=10), ["checkout"], "马上开始的维护")
    assert await wait_until(lambda: b'data-phase="scheduled"' in stack.rt.status_page.response("page", "zh").body)
    assert await wait_until(lambda: b'data-phase="active"' in stack.rt.status_page.response("page", "zh").body)


async def wait_until(predicate: Any, seconds: float = 10) -> bool:
    from tests.helpers import wait_for

    return await wait_for(predicate, seconds)


async def test_the_form_asks_for_components_and_never_assumes_their_state(shop: LocalStack) -> None:
    incident = await declare(shop)
    await shop.actor.slash("/incident", "statement", user_id=shop.users["zhang.wei"], channel_id=incident.channel_id)
    await shop.settle()
    view_id, view = [(k, v) for k, v in shop.sandbox.views.items() if v.get("callback_id") == "statement_form"][-1]
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert [o["value"] for o in blocks["components"]["element"]["initial_options"]] == ["checkout", "payment"]
    assert "initial_option" not in blocks["component_state"]["element"]  # the playbook names components, not a state
    assert [o["value"] for o in blocks["component_state"]["element"]["options"]] == ["operational", "degraded",
                                                                                     "partial_outage", "major_outage"]
    from tests.helpers import statement_form

    values = statement_form(shop) | {"components": {"value": ["checkout"]}}
    refused = await shop.actor.submit_view(view_id, shop.users["zhang.wei"], values=values)
    assert refused.json["response_action"] == "errors" and "请为勾选的服务选择状态" in refused.json["errors"]["component_state"]
    values["components"] = {"value": ["checkout", "warehouse"]}
    refused = await shop.actor.submit_view(view_id, shop.users["zhang.wei"], values=values)
    assert "warehouse" in refused.json["errors"]["components"]
    assert await statements_in_db(shop) == []
    values |= {"components": {"value": ["payment"]}, "component_state": {"value": "partial_outage"}}
    accepted = await shop.actor.submit_view(view_id, shop.users["zhang.wei"], values=values)
    assert not (accepted.json or {}).get("errors"), accepted.body
    await shop.settle()
    [draft] = await statements_in_db(shop)
    assert draft.facts["components"] == {"payment": "partial_outage"}
    await press(shop, draft, "statement_edit", "zhang.wei", incident.channel_id)
    edit = [v for v in shop.sandbox.views.values() if v.get("callback_id") == "statement_form"][-1]
    blocks = {b["block_id"]: b for b in edit["blocks"]}
    assert [o["value"] for o in blocks["components"]["element"]["initial_options"]] == ["payment"]
    assert blocks["component_state"]["element"]["initial_option"]["value"] == "partial_outage"  # a person chose it
