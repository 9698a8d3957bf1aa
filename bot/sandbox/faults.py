"""On-demand fault injection, so tests can prove the bot survives Slack's bad days."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("429", "5xx", "error", "timeout", "reset")


@dataclass
class Fault:
    """One planned failure for a method (or "*"), for `times` calls (None = until cleared)."""

    method: str
    kind: str
    times: int | None = 1
    retry_after: int = 1
    error: str = "internal_error"
    delay: float = 0.0


class Faults:
    """The list of planned faults; the server takes one per call before touching state."""

    def __init__(self) -> None:
        self.planned: list[Fault] = []

    def add(self, method: str, kind: str, times: int | None = 1, retry_after: int = 1,
            delay: float = 0.0, error: str = "internal_error") -> Fault:
        """Plan a fault; kind is one of 429, 5xx, error, timeout, reset."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
        fault = Fault(method, kind, times, max(1, int(retry_after)), error, float(delay))
        self.planned.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every planned fault."""
        self.planned.clear()

    def take(self, method: str) -> Fault | None:
        """The fault that hits this call (exact method before "*"), counting it down."""
        chosen: Fault | None = None
        for fault in self.planned:
            if fault.method == method:
                chosen = fault
                break
        if chosen is None:
            for fault in self.planned:
                if fault.method == "*":
                    chosen = fault
                    break
        if chosen is None:
            return None
        if chosen.times is not None:
            chosen.times -= 1
            if chosen.times <= 0:
                self.planned.remove(chosen)
        return chosen
