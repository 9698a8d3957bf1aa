"""Telling one person something privately: through the command's response_url when it is Slack's, else by DM."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.models import Incident
from bot.slack import response_url as response_urls

log = logging.getLogger(__name__)


async def respond(response_url: str, **message: Any) -> bool:
    """Post `message` (AsyncWebhookClient.send's arguments) to a response_url only if it is Slack's; True if taken.

    The payload names the URL, so it is checked here, where every post to one goes through: a refused URL is
    logged once per host and never contacted. Delivery failures are logged by status or error type only.
    """
    if not response_urls.check(response_url):
        return False
    try:
        response = await AsyncWebhookClient(response_url, timeout=10).send(**message)
    except Exception as exc:  # noqa: BLE001 — the caller decides what to do instead
        log.warning("response_url post failed: %s", type(exc).__name__)
        return False
    if response.status_code != 200:
        log.warning("response_url answered %s", response.status_code)
        return False
    return True


async def tell_person(
    client: AsyncWebClient, user_id: str, text: str, *, response_url: str | None = None
) -> bool:
    """Send `text` to one person; returns False (and logs) if Slack would not take it.

    The response_url is used only when it is Slack's (see `respond`); otherwise, or when it fails, a DM.
    """
    if response_url and await respond(response_url, text=text, response_type="ephemeral", replace_original=False):
        return True
    try:
        await client.chat_postMessage(channel=user_id, text=text)
        return True
    except Exception as exc:  # noqa: BLE001 — a message we cannot deliver must not kill the caller
        log.warning("could not tell %s: %s", user_id, type(exc).__name__)
        return False


async def tell_declarer(client: AsyncWebClient, incident: Incident, text: str) -> None:
    """Tell the declarer of `incident`, where they asked (nobody to tell when an alert declared it)."""
    if incident.declared_by != "yingji":
        await tell_person(client, incident.declared_by, text, response_url=incident.response_url)
