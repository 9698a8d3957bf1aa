"""How people write and read our response levels and statuses (the words themselves: bot/vocabulary.py)."""

from __future__ import annotations

from bot.i18n import t
from bot.vocabulary import Severity


def parse_severity(text: str) -> Severity | None:
    """`p2`, `P2`, `sev2`, `SEV2` and `2` all mean sev2; anything else is not a severity."""
    value = text.strip().lower()
    if value[:1] == "p" and value[1:].isascii() and value[1:].isdigit():
        value = value[1:]
    value = f"sev{value}" if value.isascii() and value.isdigit() else value
    return Severity(value) if Severity.known(value) else None


def level_code(code: str) -> str:
    """`P2` for sev2: how people call our levels (not the legal grades' names)."""
    return f"P{code.removeprefix('sev')}"


def severity_label(code: str, language: str) -> str:
    """`P2 二级响应` or `P2 high`, as people say it."""
    return f"{level_code(code)} {t(f'severity.{code}', language)}"


def criteria(code: str, language: str) -> str:
    """What puts an incident at this level (the default e-commerce criteria, in GMV, failure rate, duration,
    customers and records affected)."""
    return t(f"levels.criteria.{code}", language)


def status_label(status: str, language: str) -> str:
    """The status in the incident's language."""
    return t(f"status.{status}", language)
