"""What must never leak, and to whom: the private words, the tokens, the outsiders, and how to spot them in any text."""

from __future__ import annotations

from collections.abc import Callable

# -- what must never leak ------------------------------------------------------------------------

# Each private fact starts with an ASCII token found nowhere else (it survives JSON's \u escapes,
# URL encoding and channel-name slugs); its Chinese tail is looked for too.
SECRETS: dict[str, str] = {
    "title": "ZQXJTITLE4471 会员手机号批量导出",
    "summary": "ZQXJSUMMARY9203 合作方接口越权读取收货地址",
    "severity reason": "ZQXJREASON5518 涉及人数超过一万",
    "status note": "ZQXJSTATUS6640 定位到旧版导出接口",
    "note": "ZQXJNOTE3382 攻击者出口地址已封禁",
    "action item": "ZQXJACTION1207 轮换合作方访问密钥",
    "pinned message": "ZQXJPINNED8854 导出日志截图在工单里",
    "statement": "ZQXJSTATEMENT2719 部分会员的收货信息可能被访问",
    "resolution": "ZQXJRESOLVED0416 导出接口已下线",
    "drill title": "ZQXJDRILL7732 撞库演练",
    "alert title": "ZQXJALERT5093 异常批量导出告警",
    "alert summary": "ZQXJALERTSUM6128 单个令牌一分钟导出两万行",
}
PUBLIC_TITLE = "PUBLICVISIBLE 首页白屏"  # a public incident's title: outsiders do see this one

BOT_TOKEN = "xoxb-confid-bot-3f9a1c77e2d5"
APP_TOKEN = "xapp-confid-app-8b2d44f1a06c"
SIGNING_SECRET = "confid-signing-c41e9d0b5718"
ALERT_TOKEN = "confid-alert-6d2f0a93b1e4"
TOKENS: dict[str, str] = {
    "bot token": BOT_TOKEN, "app token": APP_TOKEN, "signing secret": SIGNING_SECRET, "alert token": ALERT_TOKEN,
}

OUTSIDERS = ("guest", "liu.yang")  # in #general, #incidents and #leadership; never in a private incident


def needles(secret: str) -> list[str]:
    """The distinctive parts of a secret: its leading token and its tail."""
    head, _, tail = secret.partition(" ")
    return [part for part in (head, tail) if part]


def token_needles(token: str) -> list[str]:
    """A token and its random tail, so a cut-off token is caught too."""
    return [token, token.rsplit("-", 1)[-1]]


def leaks(text: str, secrets: dict[str, str], split: Callable[[str], list[str]] = needles) -> list[str]:
    """Which secrets (by name) show up in `text`, ignoring case (channel names are lowercased)."""
    folded = text.casefold()
    return [name for name, secret in secrets.items() if any(part.casefold() in folded for part in split(secret))]
