"""What the bot learns of its workspace at start-up: who it is and where it posts. One snapshot, which the
flows (Context), the Slack operations (SlackEnv) and declarations (Workspace) read, never copy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Deployment:
    """The bot's user id and the channels it posts to, as resolved at start-up (empty before)."""

    bot_user_id: str = ""
    announce_channel_id: str | None = None
    leadership_channel_id: str | None = None


Learned = Callable[[], Deployment]  # the snapshot as it is now: replaced whole at start-up, never edited


def not_started() -> Deployment:
    """Before start-up nothing is known."""
    return Deployment()
