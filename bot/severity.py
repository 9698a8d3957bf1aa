"""How people write and read our response levels and statuses (the words themselves: bot/vocabulary.py)."""

from __future__ import annotations

from bot.i18n import t
from bot.vocabulary import Severity


def parse_severity(text: str) -> Severity | None:
    """`sev2`, `SEV2` and `2` all mean sev2; anything else is not a severity."""
    value = text.strip().lower()
    value = f"sev{value}" if value.isdigit() else value
    return Severity(value) if Severity.known(value) else None


def severity_label(code: str, language: str) -> str:
    """`SEV2 重大` or `SEV2 major`, as people say it."""
    return f"{code.upper()} {t(f'severity.{code}', language)}"


def status_label(status: str, language: str) -> str:
    """The status in the incident's language."""
    return t(f"status.{status}", language)
