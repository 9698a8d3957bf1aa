"""Looking up channels by name, which Slack's API only allows by paging through the list."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient


async def find_by_name(client: AsyncWebClient, name: str, *, archived: bool = False) -> dict[str, Any] | None:
    """The channel called `name` that the bot can see, or None."""
    cursor = None
    while True:
        page = await client.conversations_list(
            types="public_channel,private_channel", exclude_archived=not archived, limit=1000, cursor=cursor
        )
        for channel in page.get("channels") or []:
            if channel.get("name") == name:
                return dict(channel)
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
