"""Outbox operations: each kind of Slack side effect, by name."""

from __future__ import annotations

from bot.slack.ops import alerts, declare, lifecycle, maintenance, reports, roles, statements, steps, timeline
from bot.slack.ops.base import Blocked, Operation, Outcome, SlackEnv
from bot.vocabulary import OpOwner

OPERATIONS: dict[str, Operation] = {
    **declare.OPERATIONS, **roles.OPERATIONS, **steps.OPERATIONS, **timeline.OPERATIONS,
    **reports.OPERATIONS,
    **statements.OPERATIONS,
    **alerts.OPERATIONS,
    **lifecycle.OPERATIONS,
    **maintenance.OPERATIONS,
}

# Whose each operation is: who is told when Slack refuses it for good (tests/test_slack_errors_maintenance.py fails
# by name for a kind with no owner here). A module's operations are its incidents' unless named otherwise.
OWNERS: dict[str, OpOwner] = {
    **{kind: OpOwner.INCIDENT for module in (declare, roles, steps, timeline, reports, statements, alerts, lifecycle)
       for kind in module.OPERATIONS},
    **{kind: OpOwner.WINDOW for kind in maintenance.OPERATIONS},
    "post_digest": OpOwner.WORKSPACE,  # the leadership digest: the deployment's schedule asked for it, no person did
}

__all__ = ["OPERATIONS", "OWNERS", "Blocked", "Operation", "Outcome", "SlackEnv"]
