"""Incident channel names that Slack accepts: lowercase ASCII, at most 80 characters.

A title's Chinese becomes toneless pinyin, so people can find the channel by typing what they would say
(支付宝 API 超时 → zhifubao-api-chaoshi). Words come in title order: each Chinese word jieba's segmentation
finds (rjieba, the maintained binding of jieba-rs) is one word in pypinyin's reading, and each run of Latin
letters and digits is a word. Whatever has no ASCII spelling (other scripts, emoji, punctuation, full-width or not) only separates
words.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

import rjieba
from pypinyin import Style, lazy_pinyin

MAX_CHANNEL_NAME = 80
NOT_A_WORD = re.compile(r"[^a-z0-9]+")
HAN = re.compile("([\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+)")  # runs jieba segments


def ascii_words(text: str) -> list[str]:
    """Lowercase ASCII words of text, accents folded (Café → cafe), so a Latin title reads as typed."""
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return [word for word in NOT_A_WORD.split(folded.lower()) if word]


def chunk_words(chunk: str) -> list[str]:
    """One segment's words: a Chinese word as one pinyin word, anything else as its ASCII words."""
    syllables = lazy_pinyin(chunk, style=Style.NORMAL, errors="ignore")
    if syllables:
        return ascii_words("".join(syllables))
    return ascii_words(chunk)


def title_words(title: str) -> list[str]:
    """The title's words in title order, Chinese as pinyin; empty when nothing has an ASCII spelling."""
    normalized = unicodedata.normalize("NFKC", title)  # full-width ＡＰＩ → API, compatibility ideographs → Han
    words: list[str] = []
    for part in HAN.split(normalized):
        if HAN.fullmatch(part):
            words += [word for phrase in rjieba.cut(part) for word in chunk_words(phrase)]
        else:
            words += ascii_words(part)
    return words


def title_slug(title: str) -> str:
    """The title's words joined by hyphens, the part of the name people search by; empty when it has none."""
    return "-".join(title_words(title))


def fit(slug: str, room: int) -> str:
    """The slug cut to room characters at a word boundary (mid-word only when one word overflows alone)."""
    if len(slug) <= room:
        return slug
    cut = slug[:room]
    if slug[room] != "-" and "-" in cut:
        cut = cut.rsplit("-", 1)[0]
    return cut.strip("-")


def channel_name(
    prefix: str,
    number: int,
    title: str,
    declared_at: datetime,
    tz: ZoneInfo,
    *,
    private: bool = False,
    attempt: int = 1,
) -> str:
    """`<prefix>-<n>-<slug>[-<attempt>]`; the local date replaces the slug when the title has no word or must stay hidden."""
    slug = "" if private else title_slug(title)
    if not slug:
        slug = declared_at.astimezone(tz).strftime("%Y%m%d")
    head = f"{prefix}-{number}-"
    tail = f"-{attempt}" if attempt > 1 else ""
    return f"{head}{fit(slug, MAX_CHANNEL_NAME - len(head) - len(tail))}{tail}"
