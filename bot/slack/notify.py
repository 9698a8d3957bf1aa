"""Telling one person something privately: through the command's response_url, else by DM."""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.models import Incident

log = logging.getLogger(__name__)


async def tell_person(
    client: AsyncWebClient, user_id: str, text: str, *, response_url: str | None = None
) -> bool:
    """Send `text` to one person; returns False (and logs) if Slack would not take it."""
    try:
        if response_url:
            response = await AsyncWebhookClient(response_url, timeout=10).send(
                text=text, response_type="ephemeral", replace_original=False
            )
            if response.status_code == 200:
                return True
            log.warning("response_url answered %s; falling back to a DM", response.status_code)
        await client.chat_postMessage(channel=user_id, text=text)
        return True
    except Exception as exc:  # noqa: BLE001 — a message we cannot deliver must not kill the caller
        log.warning("could not tell %s: %s", user_id, type(exc).__name__)
        return False


async def tell_declarer(client: AsyncWebClient, incident: Incident, text: str) -> None:
    """Tell the declarer of `incident`, where they asked (nobody to tell when an alert declared it)."""
    if incident.declared_by != "yingji":
        await tell_person(client, incident.declared_by, text, response_url=incident.response_url)
