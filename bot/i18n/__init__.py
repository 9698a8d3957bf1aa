"""Every word a person reads from the bot, kept in one keyed catalog per language (zh.yaml, en.yaml) so the two
languages cannot drift apart and a third is one more file; each message is written for a person, not a log."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Formatter
from typing import Any

import yaml

from bot.vocabulary import Language

HERE = Path(__file__).parent
FALLBACK = Language.EN


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """`{"op": {"invite": "…"}}` → `{"op.invite": "…"}`."""
    flat: dict[str, str] = {}
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{key}."))
        else:
            flat[key] = str(value)
    return flat


@cache
def catalog(language: str) -> dict[str, str]:
    """The messages of one language, by dotted key."""
    return _flatten(yaml.safe_load((HERE / f"{language}.yaml").read_text(encoding="utf-8")) or {})


def has(key: str) -> bool:
    """Whether the catalogs hold a message `key` (for codes only some of which have words, like Slack's errors)."""
    return key in catalog(FALLBACK)


def t(key: str, language: str, /, **values: Any) -> str:
    """The message `key` in `language` (English for a language we do not speak), with values filled in."""
    messages = catalog(language if Language.known(language) else FALLBACK)
    return messages[key].format(**values)


def fields(message: str) -> set[str]:
    """The names a message fills in (`{key}`, `{channel}`…)."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in Formatter().parse(message) if name}

