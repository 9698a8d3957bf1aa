"""Workspace state of the sandbox: users, channels, messages, views, files, triggers."""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "sandbox"
APP_ID = "A0SANDBOX"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
PERMALINK_BASE = "https://sandbox.slack.com"


class SlackError(Exception):
    """A Web API error answered as HTTP 200 `{"ok": false, "error": ...}`, like Slack does."""

    def __init__(self, error: str, messages: list[str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body Slack would answer with."""
        out: dict[str, Any] = {"ok": False, "error": self.error, **self.extra}
        if self.messages:
            out["response_metadata"] = {"messages": list(self.messages)}
        return out


class Guest(StrEnum):
    """Slack's two kinds of guest account."""

    MULTI = "multi"  # multi-channel guest: is_restricted
    SINGLE = "single"  # single-channel guest: is_restricted and is_ultra_restricted, in one channel at most


@dataclass
class User:
    """A workspace member, as users.info describes it."""

    id: str
    name: str
    real_name: str
    is_bot: bool = False
    deleted: bool = False  # deactivated
    tz: str = "Asia/Shanghai"
    email: str | None = None
    bot_id: str | None = None
    is_restricted: bool = False  # a guest: multi-channel, or (with is_ultra_restricted) single-channel
    is_ultra_restricted: bool = False

    def to_json(self) -> dict[str, Any]:
        """Render as Slack's user object."""
        offset = datetime.now(ZoneInfo(self.tz)).utcoffset()
        profile: dict[str, Any] = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.real_name,  # the name people chose to be called by, 张伟 (the handle is `name`)
            "display_name_normalized": self.real_name,
            "team": TEAM_ID,
        }
        if self.email:
            profile["email"] = self.email
        if self.bot_id:
            profile["bot_id"] = self.bot_id
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": self.deleted,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "is_admin": False,
            "is_restricted": self.is_restricted or self.is_ultra_restricted,
            "is_ultra_restricted": self.is_ultra_restricted,
            "tz": self.tz,
            "tz_label": self.tz,
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "profile": profile,
        }


@dataclass
class Channel:
    """A conversation: public/private channel or the bot's IM with one user (`is_im`)."""

    id: str
    name: str
    is_private: bool = False
    creator: str | None = None
    created: int = field(default_factory=lambda: int(time.time()))
    topic: str = ""
    purpose: str = ""
    members: set[str] = field(default_factory=set)
    archived: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    pins: list[str] = field(default_factory=list)
    bookmarks: list[dict[str, Any]] = field(default_factory=list)
    is_im: bool = False
    im_user: str | None = None

    def to_json(self, viewer: str = BOT_USER_ID) -> dict[str, Any]:
        """Render as Slack's conversation object, seen by `viewer`."""
        if self.is_im:
            return {"id": self.id, "created": self.created, "is_im": True, "is_org_shared": False,
                    "user": self.im_user, "is_user_deleted": False, "priority": 0}
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.archived,
            "is_general": False,
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_member": viewer in self.members,
            "created": self.created,
            "creator": self.creator or "",
            "unlinked": 0,
            "context_team_id": TEAM_ID,
            "topic": {"value": self.topic, "creator": self.creator or "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": self.creator or "", "last_set": 0},
            "num_members": len(self.members),
        }

    def find(self, ts: str) -> dict[str, Any] | None:
        """The message with this ts (top level or reply), if any."""
        for msg in self.messages:
            if msg["ts"] == ts:
                return msg
        return None


@dataclass
class Trigger:
    """A trigger_id handed to the bot: valid for a few seconds and usable once."""

    id: str
    created: float
    used: bool = False
    view_id: str | None = None


def _b36(n: int) -> str:
    """Base-36 uppercase digits, so ids look like Slack's."""
    digits = string.digits + string.ascii_uppercase
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


class Workspace:
    """Everything the sandbox remembers; server handlers and tests read and change it."""

    def __init__(self) -> None:
        self.team_id = TEAM_ID
        self.team_domain = TEAM_DOMAIN
        self.app_id = APP_ID
        self.bot_user_id = BOT_USER_ID
        self.bot_id = BOT_ID
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.responses: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, Trigger] = {}
        self.trigger_ttl = 3.0
        self._counters: dict[str, int] = {}
        self._last_ts_us = 0
        self.users[BOT_USER_ID] = User(BOT_USER_ID, "yingji", "yingji", is_bot=True, bot_id=BOT_ID)

    # -- ids and timestamps -------------------------------------------------

    def new_id(self, prefix: str) -> str:
        """A unique Slack-looking id such as C07000001A."""
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        return f"{prefix}07{_b36(n).rjust(8, '0')}"

    def new_ts(self) -> str:
        """A message ts from the wall clock, strictly increasing."""
        now_us = int(time.time() * 1_000_000)
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def new_trigger_id(self, view_id: str | None = None) -> str:
        """A fresh trigger_id as Slack puts in interactive payloads."""
        tid = f"{int(time.time())}.{secrets.randbelow(10**12):012d}.{secrets.token_hex(16)}"
        self.triggers[tid] = Trigger(tid, time.monotonic(), view_id=view_id)
        return tid

    def exchange_trigger(self, trigger_id: str | None) -> Trigger:
        """Use a trigger_id once, failing the way Slack does."""
        trig = self.triggers.get(trigger_id or "")
        if trig is None:
            raise SlackError("invalid_trigger_id")
        if trig.used:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() - trig.created > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        trig.used = True
        return trig

    # -- seeding -------------------------------------------------------------

    def add_user(self, name: str, real_name: str | None = None, is_bot: bool = False,
                 deleted: bool = False, tz: str = "Asia/Shanghai", email: str | None = None,
                 guest: Guest | None = None) -> str:
        """Seed a workspace member (a guest account if `guest` says which kind) and return its id."""
        uid = self.new_id("U")
        self.users[uid] = User(uid, name, real_name or name, is_bot=is_bot, deleted=deleted, tz=tz,
                               email=email, bot_id=self.new_id("B") if is_bot else None,
                               is_restricted=guest is not None, is_ultra_restricted=guest is Guest.SINGLE)
        return uid

    def add_channel(self, name: str, is_private: bool = False, members: Any = (),
                    creator: str | None = None) -> str:
        """Seed a channel (members may include the bot) and return its id."""
        cid = self.new_id("C")
        creator = creator or (next(iter(members), None) if members else None)
        self.channels[cid] = Channel(cid, name, is_private=is_private, creator=creator, members=set(members))
        return cid

    # -- lookups used by tests ----------------------------------------------

    def channel_by_name(self, name: str) -> Channel | None:
        """The non-IM channel with this name (leading # ignored), if any."""
        name = name.lstrip("#")
        for ch in self.channels.values():
            if not ch.is_im and ch.name == name:
                return ch
        return None

    def messages(self, channel_id: str) -> list[dict[str, Any]]:
        """Top-level messages of a channel, oldest first."""
        ch = self.channels[channel_id]
        return [m for m in ch.messages if m.get("thread_ts") in (None, m["ts"])]

    def replies(self, channel_id: str, thread_ts: str) -> list[dict[str, Any]]:
        """Replies in a thread (parent excluded), oldest first."""
        ch = self.channels[channel_id]
        return [m for m in ch.messages if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]

    def im_with(self, user_id: str) -> Channel:
        """The bot's IM with a user, opened if needed."""
        for ch in self.channels.values():
            if ch.is_im and ch.im_user == user_id:
                return ch
        cid = self.new_id("D")
        ch = Channel(cid, cid, is_private=True, creator=self.bot_user_id, is_im=True, im_user=user_id,
                     members={self.bot_user_id, user_id})
        self.channels[cid] = ch
        return ch

    def dms(self, user_id: str) -> list[dict[str, Any]]:
        """Messages (top level) in the IM between the bot and a user."""
        for ch in self.channels.values():
            if ch.is_im and ch.im_user == user_id:
                return self.messages(ch.id)
        return []

    def permalink(self, channel_id: str, ts: str, thread_ts: str | None = None) -> str:
        """A Slack-shaped permalink to a message."""
        link = f"{PERMALINK_BASE}/archives/{channel_id}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel_id}"
        return link

    # -- helpers for handlers ------------------------------------------------

    def resolve_channel(self, ref: str | None) -> Channel:
        """Find a channel by id, #name, or user id (meaning the IM); else channel_not_found."""
        if not ref:
            raise SlackError("channel_not_found")
        if ref in self.channels:
            ch = self.channels[ref]
        elif ref.startswith(("U", "W")) and ref in self.users:
            ch = self.im_with(ref)
        else:
            found = self.channel_by_name(ref)
            if found is None:
                raise SlackError("channel_not_found")
            ch = found
        if ch.is_private and not ch.is_im and self.bot_user_id not in ch.members:
            raise SlackError("channel_not_found")  # Slack hides private channels the bot is not in
        return ch

    def user(self, user_id: str | None) -> User:
        """A user by id, or user_not_found."""
        if not user_id or user_id not in self.users:
            raise SlackError("user_not_found")
        return self.users[user_id]

    def bot_message(self, text: str, blocks: list[dict[str, Any]] | None) -> dict[str, Any]:
        """A new message dict authored by the bot, shaped like Slack's."""
        msg: dict[str, Any] = {
            "type": "message",
            "ts": self.new_ts(),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": text,
            "blocks": blocks or [],
        }
        return msg

    def random_block_id(self) -> str:
        """A short random block_id, as Slack assigns when the sender gives none."""
        alphabet = string.ascii_letters + string.digits
        return "".join(secrets.choice(alphabet) for _ in range(5))
