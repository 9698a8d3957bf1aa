"""Outlet limits: how long each outlet's parts may be, in characters as a reader counts them, and one outlet's
rendered text measure_outlet against them so the draft can flag (never cut) what does not fit."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.i18n import t
from bot.vocabulary import Language, Outlet

# Limits in characters a reader counts (see `measure`); `push` is the push body, `email` the email body.
DEFAULT_LIMITS: dict[str, int] = {
    Outlet.BANNER: 60,
    "push_title": 20,
    Outlet.PUSH: 100,
    Outlet.SOCIAL: 140,
    "email_subject": 50,
    Outlet.EMAIL: 5000,
    Outlet.SCRIPT: 3000,
    Outlet.STATUS_PAGE: 600,  # a phone screen or two of the status page
}
# English needs about twice the characters of Chinese to say the same thing, so it gets its own defaults.
LANG_LIMITS: dict[str, dict[str, int]] = {
    Language.ZH: DEFAULT_LIMITS,
    Language.EN: {
        Outlet.BANNER: 120,
        "push_title": 40,
        Outlet.PUSH: 180,
        Outlet.SOCIAL: 280,
        "email_subject": 80,
        Outlet.EMAIL: 5000,
        Outlet.SCRIPT: 5000,
        Outlet.STATUS_PAGE: 1200,
    },
}

# Each outlet's parts: (part name, template block, limit key); the first part listed is the outlet's main one.
_PARTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    Outlet.BANNER: (("text", "banner", "banner"),),
    Outlet.PUSH: (("body", "push_body", "push"), ("title", "push_title", "push_title")),
    Outlet.SOCIAL: (("text", "social", "social"),),
    Outlet.EMAIL: (("body", "email_body", "email"), ("subject", "email_subject", "email_subject")),
    Outlet.SCRIPT: (("text", "script", "script"),),
    Outlet.STATUS_PAGE: (("text", "status_page", "status_page"),),
}
_ZWJ = "\u200d"


@dataclass(frozen=True)
class OutletText:
    """One outlet's text, with its parts measure_outlet against their limits so the draft can flag what does not fit."""

    name: str
    text: str
    length: int
    limit: int
    parts: dict[str, str]
    part_limits: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def over(self) -> bool:
        """True when any part is longer than its limit; such an outlet is flagged, never cut."""
        if self.length > self.limit:
            return True
        return any(measure(self.parts[p]) > lim for p, lim in self.part_limits.items() if p in self.parts)


def measure(text: str) -> int:
    """Characters as a reader counts them: a Chinese character is one, combining marks and emoji joiners add none."""
    count = 0
    after_joiner = False
    open_flag = False
    for char in unicodedata.normalize("NFC", text):
        if char == _ZWJ:
            after_joiner = True
            continue
        if unicodedata.category(char) in ("Mn", "Me", "Cf") or 0x1F3FB <= ord(char) <= 0x1F3FF:
            continue
        if after_joiner:
            after_joiner = False
            continue
        if 0x1F1E6 <= ord(char) <= 0x1F1FF:
            open_flag = not open_flag
            if not open_flag:
                continue
        else:
            open_flag = False
        count += 1
    return count


def merged_limits(lang: str, limits: Mapping[str, int] | None) -> dict[str, int]:
    """The language's default limits with a deployment's overrides applied; unknown keys are refused."""
    merged = dict(LANG_LIMITS.get(lang, DEFAULT_LIMITS))
    for key, value in (limits or {}).items():
        if key not in DEFAULT_LIMITS:
            raise ValueError(f"unknown outlet limit {key!r}; known: {', '.join(DEFAULT_LIMITS)}")
        if int(value) <= 0:
            raise ValueError(f"outlet limit {key!r} must be positive, got {value!r}")
        merged[key] = int(value)
    return merged


def _overflow(lang: str, limit_key: str, length: int, limit: int) -> str:
    """A human-readable overflow note in the statement's language."""
    label = t(f"statement.part.{limit_key}", lang)
    return t("statement.over_limit", lang, label=label, length=length, limit=limit, over=length - limit)


def measure_outlet(name: str, blocks: dict[str, str], limits: dict[str, int], lang: str) -> OutletText:
    """Assemble one outlet from its rendered blocks and measure every part."""
    spec = _PARTS[name]
    parts = {part: blocks[block] for part, block, _ in spec}
    part_limits = {part: limits[key] for part, _, key in spec}
    problems = []
    for part, _, key in reversed(spec):  # title/subject first, as a reader meets them
        length = measure(parts[part])
        if length > part_limits[part]:
            problems.append(_overflow(lang, key, length, part_limits[part]))
    if name == Outlet.PUSH:
        text = f"{parts['title']}\n{parts['body']}"
    elif name == Outlet.EMAIL:
        text = f"{parts['subject']}\n\n{parts['body']}"
    else:
        text = parts["text"]
    main_part, _, main_key = spec[0]
    return OutletText(
        name=name,
        text=text,
        length=measure(parts[main_part]),
        limit=limits[main_key],
        parts=parts,
        part_limits=part_limits,
        problems=problems,
    )
