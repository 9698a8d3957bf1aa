"""Severity levels and statuses from the national emergency plans (分级负责)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import t


@dataclass(frozen=True)
class Severity:
    """One level: its code and how often the public hears from us (its names are `severity.<code>` in the catalogs)."""

    code: str
    cadence_minutes: int | None


SEVERITIES: dict[str, Severity] = {
    "sev1": Severity("sev1", 15),
    "sev2": Severity("sev2", 30),
    "sev3": Severity("sev3", 60),
    "sev4": Severity("sev4", None),
}

STATUSES = ("investigating", "identified", "monitoring", "resolved", "closed")
ACTIVE_STATUSES = ("investigating", "identified", "monitoring")


def parse_severity(text: str) -> str | None:
    """`sev2`, `SEV2` and `2` all mean sev2; anything else is not a severity."""
    value = text.strip().lower()
    if value in SEVERITIES:
        return value
    if value in {"1", "2", "3", "4"}:
        return f"sev{value}"
    return None


def severity_label(code: str, language: str) -> str:
    """`SEV2 重大` or `SEV2 major`, as people say it."""
    return f"{SEVERITIES[code].code.upper()} {t(f'severity.{code}', language)}"


def status_label(status: str, language: str) -> str:
    """The status in the incident's language."""
    return t(f"status.{status}", language)
