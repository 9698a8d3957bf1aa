"""Logging that keeps incidents' words out of the logs, even when an operator turns on DEBUG.

At DEBUG, slack_sdk logs every Web API request's arguments and every response body (a private
incident's title, notes and statement drafts among them), slack_bolt logs every ack body and every
Socket Mode envelope, and aiosqlite / asyncpg log each statement with its parameters. Logs are read
by people outside the incidents, so these libraries log at INFO at most, the way SQLAlchemy quiets
its own logger: an operator who really wants their bodies sets that logger's level explicitly.
"""

from __future__ import annotations

import logging

# Libraries whose DEBUG records carry message text or SQL parameters.
CONTENT_LOGGERS = ("slack_sdk", "slack_bolt", "aiosqlite", "asyncpg")


def quiet_content_loggers() -> None:
    """Raise the content-carrying libraries to INFO unless someone chose their level on purpose."""
    for name in CONTENT_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)


def bolt_logger() -> logging.Logger:
    """The logger to give bolt's App (and through it the Socket Mode client).

    Without one, bolt copies the root logger's level onto each of its loggers, so a root at DEBUG
    would log every ack body and envelope; given this one, bolt copies its level (INFO unless set).
    """
    quiet_content_loggers()
    return logging.getLogger("slack_bolt")
