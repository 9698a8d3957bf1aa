"""Per-method token buckets with Slack's tiers, so the bot's retry/backoff code meets real 429s."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}

# Slack's documented tier per method ("special" ones are mapped to the closest tier).
METHOD_TIERS: dict[str, int] = {
    "api.test": 4,
    "auth.test": 4,
    "apps.connections.open": 1,
    "conversations.create": 2,
    "conversations.invite": 3,
    "conversations.setTopic": 2,
    "conversations.setPurpose": 2,
    "conversations.info": 3,
    "conversations.join": 3,
    "conversations.list": 2,
    "conversations.members": 4,
    "conversations.archive": 2,
    "conversations.history": 3,
    "conversations.replies": 3,
    "conversations.open": 3,
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "chat.delete": 3,
    "chat.getPermalink": 4,
    "pins.add": 2,
    "pins.list": 2,
    "bookmarks.add": 2,
    "reactions.add": 3,
    "users.info": 4,
    "users.list": 2,
    "users.lookupByEmail": 3,
    "views.open": 4,
    "views.update": 4,
    "views.push": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}

# chat.postMessage is "special": about one message per second per channel, short bursts allowed.
POST_MESSAGE = "chat.postMessage"
POST_MESSAGE_PER_MINUTE = 60.0
POST_MESSAGE_BURST = 5.0


@dataclass
class Bucket:
    """A token bucket refilled continuously at `rate` tokens per second up to `capacity`."""

    capacity: float
    rate: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take one token; return 0 if allowed, else seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate if self.rate > 0 else 60.0


class RateLimiter:
    """Buckets keyed by (method, token[, channel]); answers how long to wait when exhausted."""

    def __init__(self) -> None:
        self.enabled = True
        self.speedup = 1.0  # > 1 runs every limit that many times faster (benchmarks that must finish in minutes)
        self.overrides: dict[str, tuple[float, float]] = {}
        self._buckets: dict[tuple[str, ...], Bucket] = {}

    def set_limit(self, method: str, per_minute: float, burst: float | None = None) -> None:
        """Override one method's limit (burst = bucket capacity, default per_minute)."""
        self.overrides[method] = (float(per_minute), float(burst if burst is not None else per_minute))
        self._buckets = {k: v for k, v in self._buckets.items() if k[0] != method}

    def reset(self) -> None:
        """Forget all spent tokens."""
        self._buckets.clear()

    def limit_for(self, method: str) -> tuple[float, float]:
        """(per_minute, capacity) for a method."""
        if method in self.overrides:
            per_minute, capacity = self.overrides[method]
        elif method == POST_MESSAGE:
            per_minute, capacity = POST_MESSAGE_PER_MINUTE, POST_MESSAGE_BURST
        else:
            per_minute = capacity = float(TIER_PER_MINUTE[METHOD_TIERS.get(method, 3)])
        return per_minute * self.speedup, capacity

    def check(self, method: str, token: str, channel: str | None = None) -> int:
        """0 if the call may proceed, else the Retry-After seconds (whole, at least 1)."""
        if not self.enabled:
            return 0
        key: tuple[str, ...] = (method, token, channel or "") if method == POST_MESSAGE else (method, token)
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            per_minute, capacity = self.limit_for(method)
            bucket = Bucket(capacity=capacity, rate=per_minute / 60.0, tokens=capacity, stamp=now)
            self._buckets[key] = bucket
        wait = bucket.take(now)
        return 0 if wait == 0 else max(1, math.ceil(wait))
