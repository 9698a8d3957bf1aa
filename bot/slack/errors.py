"""What a failed Slack call means for the caller: wait, try again, or stop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError

# Errors that say the request was wrong or the target is gone: retrying cannot help.
PERMANENT = {
    "channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "msg_too_long",
    "user_not_found", "user_is_deleted", "cant_invite_self", "invalid_name_specials",
    "invalid_name_maxlength", "invalid_name_required", "too_long", "invalid_auth", "not_authed",
    "account_inactive", "token_revoked", "missing_scope", "message_not_found", "cant_update_message",
    "restricted_action", "user_not_in_channel", "invalid_arguments", "no_text",
    "method_not_supported_for_channel_type", "unknown_method",
}


@dataclass(frozen=True)
class Failure:
    """A classified failure: `kind` is ratelimited, transient or permanent."""

    kind: str
    error: str
    retry_after: float = 0.0


def classify(exc: BaseException) -> Failure:
    """Sort an exception from a Slack call into what to do next."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = getattr(response, "status_code", 200)
        error = str(response.get("error", "")) if isinstance(response.data, dict) else ""
        if status == 429 or error == "ratelimited":
            headers = {k.lower(): v for k, v in (response.headers or {}).items()}
            value = headers.get("retry-after", "1")
            retry_after = float(value[0] if isinstance(value, list) else value)
            return Failure("ratelimited", "ratelimited", max(retry_after, 1.0))
        if status >= 500 or not error:
            return Failure("transient", f"HTTP {status}")
        return Failure("permanent" if error in PERMANENT else "transient", error)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return Failure("transient", "timeout")
    if isinstance(exc, (aiohttp.ClientError, ConnectionError)):
        return Failure("transient", f"connection: {type(exc).__name__}")
    return Failure("permanent", f"{type(exc).__name__}: {exc}")


def slack_error(exc: BaseException) -> str | None:
    """The `error` string of a Slack API error, else None."""
    if isinstance(exc, SlackApiError) and isinstance(exc.response.data, dict):
        return str(exc.response.get("error", "")) or None
    return None
