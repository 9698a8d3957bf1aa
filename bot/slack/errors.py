"""What a failed Slack call means for the caller: wait, try again, stop, or go on person by person."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.slack.error_codes import ErrorKind, kind_of

DEFAULT_RETRY_AFTER = 5.0  # seconds, when a rate limit comes without a readable Retry-After
MIN_RETRY_AFTER = 1.0  # never hammer: Slack's limits are per minute
MAX_RETRY_AFTER = 600.0  # a longer wait is likelier a broken header than Slack's intent; the call is retried anyway


@dataclass(frozen=True)
class Failure:
    """A classified failure: what to do (`kind`), the error to report, and how long to wait first."""

    kind: ErrorKind
    error: str
    retry_after: float = 0.0


def classify(exc: BaseException) -> Failure:
    """Sort an exception from a Slack call into what to do next; a code nobody knows is not worth retrying."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = getattr(response, "status_code", 200)
        error = slack_error(exc) or ""
        kind = kind_of(slack_method(exc), error) if error else None
        if status == 429 or kind is ErrorKind.RATELIMITED:
            return Failure(ErrorKind.RATELIMITED, error or "ratelimited", retry_after(response.headers))
        if status >= 500 or not error:
            return Failure(ErrorKind.TRANSIENT, error or f"HTTP {status}")
        return Failure(kind or ErrorKind.PERMANENT, error)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return Failure(ErrorKind.TRANSIENT, "timeout")
    if isinstance(exc, (aiohttp.ClientError, ConnectionError)):
        return Failure(ErrorKind.TRANSIENT, f"connection: {type(exc).__name__}")
    return Failure(ErrorKind.PERMANENT, f"{type(exc).__name__}: {exc}")


def retry_after(headers: Mapping[str, str | list[str]] | None, now: datetime | None = None) -> float:
    """Seconds to wait, from Retry-After as seconds or as an HTTP date; the default when it is missing or unreadable."""
    found = {name.lower(): value for name, value in (headers or {}).items()}.get("retry-after")
    text = str(found[0] if isinstance(found, list) and found else found or "").strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return DEFAULT_RETRY_AFTER
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return DEFAULT_RETRY_AFTER
    return min(max(seconds, MIN_RETRY_AFTER), MAX_RETRY_AFTER)


def slack_error(exc: BaseException) -> str | None:
    """The `error` string of a Slack API error, else None."""
    if isinstance(exc, SlackApiError) and isinstance(exc.response.data, dict):
        return str(exc.response.get("error", "")) or None
    return None


def slack_method(exc: SlackApiError) -> str | None:
    """The Web API method a failed call was to (chat.postMessage), read off the URL it went to."""
    url = str(getattr(exc.response, "api_url", "") or "")
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or None
