"""Sending an approved outlet text to a deployment's webhook, signed so the receiver can trust it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

SIGNATURE_HEADER = "X-Yingji-Signature"
TIMESTAMP_HEADER = "X-Yingji-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + HMAC-SHA256(secret, "<timestamp>.<body>") — the timestamp stops replays of old bodies."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class Delivery:
    """How a delivery ended: the HTTP status of the last try (0: no answer), tries, and an error if any."""

    ok: bool
    status: int
    attempts: int
    error: str = ""


async def deliver(
    url: str, secret: str, payload: dict[str, Any], *, attempts: int = 4, backoff: float = 0.5, timeout: float = 10.0
) -> Delivery:
    """POST the payload; retry on 5xx, 429 and network errors with backoff; a 4xx is final."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    status, error = 0, ""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        for attempt in range(1, attempts + 1):
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(secret, timestamp, body),
                "User-Agent": "yingji",
            }
            try:
                async with http.post(url, data=body, headers=headers) as response:
                    status, error = response.status, ""
                    if 200 <= status < 300:
                        return Delivery(True, status, attempt)
                    if status < 500 and status != 429:
                        return Delivery(False, status, attempt, f"HTTP {status}")
                    error = f"HTTP {status}"
            except (TimeoutError, aiohttp.ClientError) as exc:
                status, error = 0, type(exc).__name__
            if attempt < attempts:
                await asyncio.sleep(backoff * 2 ** (attempt - 1))
    return Delivery(False, status, attempts, error)
