"""Channel names from titles: Chinese as pinyin, Slack's rules kept, private titles hidden, collisions suffixed."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypinyin import Style, lazy_pinyin

from bot.naming import MAX_CHANNEL_NAME, channel_name, title_slug
from tests.helpers import declare, incidents_in_db
from yingji.local import LocalStack

SHANGHAI = ZoneInfo("Asia/Shanghai")
LATE = datetime(2026, 11, 11, 17, 30, tzinfo=UTC)  # 01:30 on 12 November in Shanghai
SLACK_NAME = re.compile(r"^[a-z0-9_-]{1,80}$")


def name(title: str, number: int = 42, *, private: bool = False, attempt: int = 1) -> str:
    """The channel name of an incident declared at LATE, 01:30 on the next day in Shanghai."""
    return channel_name("inc", number, title, LATE, SHANGHAI, private=private, attempt=attempt)


def assert_slack_accepts(channel: str) -> None:
    """What Slack's conversations.create demands, plus no empty word or dangling hyphen."""
    assert SLACK_NAME.match(channel), channel
    assert len(channel) <= MAX_CHANNEL_NAME, channel
    assert "--" not in channel and not channel.endswith("-"), channel


@pytest.mark.parametrize(("title", "expected"), [
    ("支付宝回调超时", "inc-42-zhifubao-huidiao-chaoshi"),
    ("数据库主从延迟导致订单重复", "inc-42-shujuku-zhucong-yanchi-daozhi-dingdan-chongfu"),  # pypinyin's phrases
    ("重庆银行重复扣款", "inc-42-chongqing-yinhang-chongfu-koukuan"),  # 重 and 行 read as in their phrases
    ("绿色通道", "inc-42-lvsetongdao"),  # ü spelt v, as pypinyin's NORMAL style does
    ("〇号机房", "inc-42-ling-hao-jifang"),
])
def test_chinese_becomes_pinyin(title: str, expected: str) -> None:
    assert name(title) == expected


@pytest.mark.parametrize(("title", "expected"), [
    ("支付宝 API 超时", "inc-7-zhifubao-api-chaoshi"),
    ("支付宝API超时", "inc-7-zhifubao-api-chaoshi"),  # a change of script separates words without a space
    ("Alipay callback timeout 支付宝回调超时", "inc-7-alipay-callback-timeout-zhifubao-huidiao-chaoshi"),
    ("首页白屏 homepage blank", "inc-7-shouye-baiping-homepage-blank"),
    ("k8s 集群 OOM", "inc-7-k8s-jiqun-oom"),
    ("双11支付失败", "inc-7-shuang-11-zhifu-shibai"),
])
def test_mixed_titles_keep_both_scripts_in_title_order(title: str, expected: str) -> None:
    assert name(title, number=7) == expected


@pytest.mark.parametrize(("title", "expected"), [
    ("Checkout 500 errors after deploy", "checkout-500-errors-after-deploy"),
    ("Alipay Callback TIMEOUT!!", "alipay-callback-timeout"),
    ("Café crème brûlée", "cafe-creme-brulee"),  # accents folded, not dropped as separators
    ("snake_case/and.dots", "snake-case-and-dots"),
    ("  --leading and trailing--  ", "leading-and-trailing"),
])
def test_latin_titles_as_before(title: str, expected: str) -> None:
    assert title_slug(title) == expected


@pytest.mark.parametrize(("title", "expected"), [
    ("🔥支付宝😀回调", "zhifubao-huidiao"),
    ("🔥Checkout🔥down🔥", "checkout-down"),  # an emoji separates words; it is not glued over
    ("ＡＰＩ超时（华东）", "api-chaoshi-huadong"),  # full-width letters read as ASCII, brackets separate
    ("双11支付失败，用户投诉！", "shuang-11-zhifu-shibai-yonghu-tousu"),
    ("【紧急】支付——失败……", "jinji-zhifu-shibai"),
    ("サーバー障害", "zhanghai"),  # kana has no pinyin; the kanji are read as Chinese
    ("Сбой оплаты payment", "payment"),
    ("①号机房断电", "1-hao-jifang-duandian"),
])
def test_what_pinyin_cannot_spell_only_separates(title: str, expected: str) -> None:
    assert title_slug(title) == expected


@pytest.mark.parametrize("title", ["", "   ", "🔥🔥🔥", "！？。，、——……", "Сбой оплаты", "サーバー", "😀 ✅ ⚠️", "\u200b\u200d"])
def test_a_title_nothing_can_spell_falls_back_to_the_local_date(title: str) -> None:
    assert title_slug(title) == ""
    assert name(title) == "inc-42-20261112"  # Shanghai's date, not UTC's 20261111
    assert name(title, attempt=3) == "inc-42-20261112-3"


def _syllables(title: str) -> set[str]:
    """Every pinyin syllable and Latin word of a title, as a leak would show them."""
    latin = set(re.findall(r"[a-z]+", title.lower()))
    return latin | {s for s in lazy_pinyin(title, style=Style.NORMAL, errors="ignore") if s}


@pytest.mark.parametrize("title", [
    "客户数据泄露", "支付宝 API 超时", "Customer PII exported by contractor 承包商导出客户信息", "重庆银行重复扣款"])
def test_a_private_title_leaks_nothing(title: str) -> None:
    for attempt in (1, 2, 17):
        hidden = name(title, private=True, attempt=attempt)
        assert hidden == "inc-42-20261112" + (f"-{attempt}" if attempt > 1 else "")
        leaked = [s for s in _syllables(title) if s in hidden]
        assert leaked == [], f"{hidden} shows {leaked} of {title!r}"


def test_a_private_drill_leaks_nothing_either() -> None:
    hidden = channel_name("inc-drill", 3, "客户数据泄露演练", LATE, SHANGHAI, private=True)
    assert hidden == "inc-drill-3-20261112"


def _body(channel: str, number: int = 42, attempt: int = 1) -> str:
    """The slug part of a name, without its prefix, number and attempt suffix."""
    channel = channel.removeprefix(f"inc-{number}-")
    return channel.removesuffix(f"-{attempt}") if attempt > 1 else channel


def assert_whole_words(channel: str, full: str, number: int = 42, attempt: int = 1) -> None:
    """The name holds as many of the slug's leading words as fit, or the start of a first word too long to fit."""
    body = _body(channel, number, attempt)
    if len(full) + len(channel) - len(body) <= MAX_CHANNEL_NAME:
        assert body == full
        return
    first = full.split("-")[0]
    if len(first) + len(channel) - len(body) > MAX_CHANNEL_NAME:
        assert body == first[:len(body)] and len(channel) == MAX_CHANNEL_NAME
        return
    assert full.startswith(body + "-"), f"{body!r} is not whole words of {full!r}"
    next_word = full[len(body) + 1:].split("-")[0]
    assert len(channel) + 1 + len(next_word) > MAX_CHANNEL_NAME, f"{next_word!r} would have fit after {body!r}"


@pytest.mark.parametrize("title", [
    "支付宝回调超时" * 20,
    "数据库主从延迟导致订单重复，" * 10,
    "Checkout 支付宝 timeout 超时 " * 15,
    "word " * 100,
    "a" * 30 + " 支付 " + "b" * 60,
])
@pytest.mark.parametrize("attempt", [1, 2, 12, 49])
def test_a_long_title_is_cut_on_a_word_boundary(title: str, attempt: int) -> None:
    channel = name(title, number=12345, attempt=attempt)
    assert_slack_accepts(channel)
    assert len(title_slug(title)) > MAX_CHANNEL_NAME  # so there was something to cut
    assert_whole_words(channel, title_slug(title), 12345, attempt)


def test_the_cut_keeps_a_word_that_ends_exactly_at_the_limit() -> None:
    room = MAX_CHANNEL_NAME - len("inc-1-")
    assert name("a" * room + " b", number=1) == "inc-1-" + "a" * room
    assert name("a" * (room - 1) + " bc", number=1) == "inc-1-" + "a" * (room - 1)  # no dangling hyphen
    assert name("支付" + "a" * room, number=1) == "inc-1-zhifu"  # the long word goes whole, not in half


def test_one_word_longer_than_the_room_is_cut_inside_it() -> None:
    assert name("x" * 200, number=3, attempt=12) == "inc-3-" + "x" * (MAX_CHANNEL_NAME - len("inc-3-") - 3) + "-12"


def test_collisions_take_distinct_suffixes() -> None:
    names = [name("支付宝回调超时" * 10, attempt=attempt) for attempt in range(1, 50)]
    assert len(set(names)) == 49
    for channel in names:
        assert_slack_accepts(channel)
    assert name("支付宝 API 超时", attempt=2) == "inc-42-zhifubao-api-chaoshi-2"


@settings(max_examples=300, deadline=None)
@given(title=st.text(max_size=300), number=st.integers(1, 10**9), attempt=st.integers(1, 49),
       private=st.booleans())
def test_any_title_makes_a_name_slack_accepts(title: str, number: int, attempt: int, private: bool) -> None:
    channel = channel_name("inc-drill", number, title, LATE, SHANGHAI, private=private, attempt=attempt)
    assert_slack_accepts(channel)
    assert channel.startswith(f"inc-drill-{number}-")
    assert channel.endswith(f"-{attempt}") or attempt == 1


@settings(max_examples=200, deadline=None)
@given(title=st.text(alphabet=st.characters(categories=["Lo", "Po", "So", "Zs", "Nd"]), max_size=120))
def test_han_heavy_titles_keep_whole_words(title: str) -> None:
    channel = name(title)
    assert_slack_accepts(channel)
    assert_whole_words(channel, title_slug(title) or "20261112")


async def test_a_chinese_title_collides_and_is_suffixed_in_slack(stack: LocalStack) -> None:
    sb = stack.sandbox
    sb.add_channel("inc-1-zhifubao-huidiao-chaoshi")  # someone took the name incident 1 will want
    first = await declare(stack, "declare sev2 payment-failure 支付宝回调超时")
    second = await declare(stack, "declare sev2 payment-failure 🔥！？")
    third = await declare(stack, "declare sev2 payment-failure 支付宝 API 超时")
    names = [sb.channels[i.channel_id or ""].name for i in (first, second, third)]
    day = f"{second.declared_at.astimezone(stack.rt.settings.tz):%Y%m%d}"
    assert names == ["inc-1-zhifubao-huidiao-chaoshi-2", f"inc-2-{day}", "inc-3-zhifubao-api-chaoshi"]
    assert [i.channel_name for i in await incidents_in_db(stack)] == names


async def test_a_private_chinese_incident_is_named_by_its_date_only(stack: LocalStack) -> None:
    title = "客户数据泄露 Customer PII"
    incident = await declare(stack, f"declare sev1 data-breach {title}")
    channel = stack.sandbox.channels[incident.channel_id or ""]
    assert incident.private and channel.is_private
    assert channel.name == f"inc-1-{incident.declared_at.astimezone(stack.rt.settings.tz):%Y%m%d}"
    assert [s for s in _syllables(title) if s in channel.name] == []
