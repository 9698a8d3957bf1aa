"""The status page as customers see it, in a real browser: Debian's Chromium, headless, driven by Playwright, at a
phone's size (390×844) and a desktop's, in both languages. What a customer reads is there, nothing private is,
the phone never scrolls sideways, and the banner script shows the banner on a shop's page. Screenshots are saved
under tests/screenshots/ (ignored by git) for people to look at.

Chromium comes from Debian (`.ci/run` installs it); with YINGJI_TEST_BROWSER=required a missing one fails these
tests instead of skipping them."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser

from tests.browser import DESKTOP, PHONE, SCREENSHOTS, opened, sideways
from tests.helpers import StackFactory, declare, draft_statement
from tests.test_status_page import page_config, press, publish, published_version
from yingji.local import LocalStack


@pytest.fixture
async def shop(make_stack: StackFactory, tmp_path: Path) -> LocalStack:
    return await make_stack(config=page_config(tmp_path))


async def test_a_customer_reads_the_published_statement_on_a_phone_and_a_desktop(shop: LocalStack,
                                                                                  browser: Browser) -> None:
    incident = await declare(shop, "declare sev2 payment-failure 支付宝回调超时ZQXSECRET")
    long = "部分用户付款后订单仍显示待支付" + "请勿重复付款" * 12
    await published_version(shop, incident, long, components=["payment"], component_state="major_outage")
    for size_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
        for lang in ("zh", "en"):
            async with opened(browser, f"{shop.server.url}/status?lang={lang}", size, scripts=False,
                              screenshot=f"status-{size_name}-{lang}") as page:
                text = await page.inner_text("body")
                assert "部分用户付款后订单仍显示待支付" in text, (size_name, lang)
                for secret in (incident.key or "", "ZQXSECRET", "支付宝回调超时", incident.channel_id or ""):
                    assert secret not in text and secret not in await page.content(), (size_name, lang, secret)
                state = await page.get_attribute('[data-component="payment"]', "data-state")
                assert state == "major_outage"
                assert await page.is_visible('[data-component="payment"]')
                scroll, client = await sideways(page)
                assert scroll <= client, f"{size_name} {lang}: scrolls sideways ({scroll} > {client})"


SHOP_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>shop</title></head>
<body><div id="banner"></div><h1>示例商城 · Example shop</h1>
<script src="{bot}/status/banner.js" data-target="banner"></script></body></html>"""


async def shop_page(browser: Browser, bot: str, lang: str) -> tuple[str, str | None]:
    """A shop's page, served from another origin on loopback, that includes the banner script: the banner's text
    and its link. (A page Playwright made up would be a public origin, which Chromium forbids to load from loopback.)"""

    async def page_of_the_shop(_: web.Request) -> web.Response:
        return web.Response(text=SHOP_PAGE.format(lang=lang, bot=bot), content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/", page_of_the_shop)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "localhost", 0)
    await site.start()
    port = runner.addresses[0][1]
    context = await browser.new_context(viewport=PHONE)
    try:
        page = await context.new_page()
        await page.goto(f"http://localhost:{port}/")
        await page.wait_for_load_state("load")
        SCREENSHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"shop-banner-{lang}.png"))
        link = await page.get_attribute("#banner a", "href") if await page.query_selector("#banner a") else None
        return await page.inner_text("#banner"), link
    finally:
        await context.close()
        await runner.cleanup()


async def test_the_banner_script_shows_the_banner_on_a_shop_page_and_nothing_when_all_is_well(
        shop: LocalStack, browser: Browser) -> None:
    bot = shop.server.url
    assert (await shop_page(browser, bot, "zh"))[0].strip() == ""  # all is well: nothing
    incident = await declare(shop)
    shown = await published_version(shop, incident, "部分用户付款后订单仍显示待支付", components=["payment"],
                                    component_state="partial_outage")
    text, link = await shop_page(browser, bot, "zh")
    assert shown.outlets["banner"]["text"] in text
    assert link == f"{bot}/status"
    text_en, _ = await shop_page(browser, bot, "en")
    assert shown.outlets["banner"]["text"] in text_en  # no English version published: the Chinese one, not nothing


async def test_markup_in_a_statement_is_text_in_the_browser(shop: LocalStack, browser: Browser) -> None:
    incident = await declare(shop)
    draft = await draft_statement(shop, incident, what_happened='<img src=x onerror="document.title=1">付款异常')
    await press(shop, draft, "statement_approve", "wang.fang", incident.channel_id)
    await publish(shop, draft, incident.channel_id, ["status_page", "banner"])
    async with opened(browser, f"{shop.server.url}/status?lang=zh", PHONE) as page:
        assert await page.query_selector("img[src=x]") is None
        assert "<img" in await page.inner_text("body")
        assert await page.title() != "1"
