"""On-demand fault injection, so tests can prove the bot survives Slack's bad days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

KINDS = ("429", "5xx", "error", "timeout", "reset")

# A 429's Retry-After: seconds (Slack sends whole ones), an HTTP date, any text at all, or None for no header.
RetryAfter = int | float | datetime | str | None


@dataclass
class Fault:
    """One planned failure for a method (or "*"), for `times` calls (None = until cleared); with `channel`, only
    for calls naming that channel (or user, for a DM), so a test can refuse one message and let the rest through."""

    method: str
    kind: str
    times: int | None = 1
    retry_after: RetryAfter = 1
    error: str = "internal_error"
    delay: float = 0.0
    channel: str | None = None

    def headers(self) -> dict[str, str]:
        """The Retry-After header of a 429, written as given (none when retry_after is None)."""
        if self.retry_after is None:
            return {}
        if isinstance(self.retry_after, datetime):
            return {"Retry-After": format_datetime(self.retry_after, usegmt=True)}
        return {"Retry-After": str(self.retry_after)}


class Faults:
    """The list of planned faults; the server takes one per call before touching state."""

    def __init__(self) -> None:
        self.planned: list[Fault] = []

    def add(self, method: str, kind: str, times: int | None = 1, retry_after: RetryAfter = 1,
            delay: float = 0.0, error: str = "internal_error", channel: str | None = None) -> Fault:
        """Plan a fault; kind is one of 429, 5xx, error, timeout, reset. A whole-number retry_after is at least 1."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
        if isinstance(retry_after, int):
            retry_after = max(1, retry_after)
        fault = Fault(method, kind, times, retry_after, error, float(delay), channel)
        self.planned.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every planned fault."""
        self.planned.clear()

    def take(self, method: str, channel: str | None = None) -> Fault | None:
        """The fault that hits this call (exact method before "*"), counting it down."""
        chosen: Fault | None = None
        for fault in self.planned:
            if fault.method == method and fault.channel in (None, channel):
                chosen = fault
                break
        if chosen is None:
            for fault in self.planned:
                if fault.method == "*" and fault.channel in (None, channel):
                    chosen = fault
                    break
        if chosen is None:
            return None
        if chosen.times is not None:
            chosen.times -= 1
            if chosen.times <= 0:
                self.planned.remove(chosen)
        return chosen
