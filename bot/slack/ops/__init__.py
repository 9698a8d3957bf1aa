"""Outbox operations: each kind of Slack side effect, by name."""

from __future__ import annotations

from bot.slack.ops import alerts, declare, lifecycle, maintenance, reports, roles, statements, steps, timeline
from bot.slack.ops.base import Blocked, Operation, Outcome, SlackEnv

OPERATIONS: dict[str, Operation] = {
    **declare.OPERATIONS, **roles.OPERATIONS, **steps.OPERATIONS, **timeline.OPERATIONS,
    **reports.OPERATIONS,
    **statements.OPERATIONS,
    **alerts.OPERATIONS,
    **lifecycle.OPERATIONS,
    **maintenance.OPERATIONS,
}

__all__ = ["OPERATIONS", "Blocked", "Operation", "Outcome", "SlackEnv"]
