"""Severity levels and statuses from the national emergency plans (分级负责)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Severity:
    """One level: its code, its names and how often the public hears from us."""

    code: str
    zh: str
    en: str
    cadence_minutes: int | None


SEVERITIES: dict[str, Severity] = {
    "sev1": Severity("sev1", "特别重大", "critical", 15),
    "sev2": Severity("sev2", "重大", "major", 30),
    "sev3": Severity("sev3", "较大", "significant", 60),
    "sev4": Severity("sev4", "一般", "minor", None),
}

STATUSES = ("investigating", "identified", "monitoring", "resolved", "closed")
ACTIVE_STATUSES = ("investigating", "identified", "monitoring")

STATUS_NAMES = {
    "investigating": {"zh": "调查中", "en": "Investigating"},
    "identified": {"zh": "已定位", "en": "Identified"},
    "monitoring": {"zh": "观察中", "en": "Monitoring"},
    "resolved": {"zh": "已解决", "en": "Resolved"},
    "closed": {"zh": "已关闭", "en": "Closed"},
}


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
    level = SEVERITIES[code]
    return f"{code.upper()} {level.zh if language == 'zh' else level.en}"


def status_label(status: str, language: str) -> str:
    """The status in the incident's language."""
    return STATUS_NAMES[status][language]
