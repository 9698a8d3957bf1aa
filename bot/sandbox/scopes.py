"""Which bot scope each Web API method needs, per Slack's reference, and the scopes the sandbox's bot token holds.

Slack's reference lists a method's bot scopes ("Required scopes", docs.slack.dev/reference/methods/<method>); for
the conversations.* methods "you'll need at least one of the channels:, groups:, im: or mpim: scopes corresponding
to the conversation type you're working with", so those are kept per type of conversation. A call whose token holds
none of the scopes it needs is answered `missing_scope`, with `needed` and `provided`, as Slack does.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import yaml

from bot.sandbox.params import Params
from bot.sandbox.state import SlackError, Workspace

MANIFEST = Path(__file__).resolve().parents[2] / "slack-manifest.yml"

AnyOf = tuple[str, ...]  # one of these scopes is enough


class Conversation(StrEnum):
    """Slack's types of conversation, named as conversations.list's `types` names them."""

    PUBLIC = "public_channel"
    PRIVATE = "private_channel"
    IM = "im"
    MPIM = "mpim"


def _per_type(public: AnyOf, private: AnyOf, im: AnyOf, mpim: AnyOf) -> dict[Conversation, AnyOf]:
    """The scopes of a conversations.* method for each type of conversation."""
    return {Conversation.PUBLIC: public, Conversation.PRIVATE: private, Conversation.IM: im, Conversation.MPIM: mpim}


_READ = _per_type(("channels:read",), ("groups:read",), ("im:read",), ("mpim:read",))
_HISTORY = _per_type(("channels:history",), ("groups:history",), ("im:history",), ("mpim:history",))
_MANAGE = _per_type(("channels:manage",), ("groups:write",), ("im:write",), ("mpim:write",))
_TOPIC = _per_type(("channels:manage", "channels:write.topic"), ("groups:write", "groups:write.topic"),
                   ("im:write", "im:write.topic"), ("mpim:write", "mpim:write.topic"))

# Methods whose scope depends on the conversation they act on.
PER_CONVERSATION: dict[str, dict[Conversation, AnyOf]] = {
    "conversations.create": _MANAGE,
    "conversations.archive": _MANAGE,
    "conversations.open": _MANAGE,
    "conversations.invite": _per_type(("channels:manage", "channels:write.invites"),
                                      ("groups:write", "groups:write.invites"), ("im:write",), ("mpim:write",)),
    "conversations.setTopic": _TOPIC,
    "conversations.setPurpose": _TOPIC,
    "conversations.info": _READ,
    "conversations.list": _READ,
    "conversations.members": _READ,
    "conversations.history": _HISTORY,
    "conversations.replies": _HISTORY,
}

# Methods that need the same scope wherever they act (an empty tuple: none at all).
FIXED: dict[str, AnyOf] = {
    "api.test": (),
    "auth.test": (),
    "apps.connections.open": (),  # app-level token (connections:write), never the bot's
    "chat.postMessage": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.delete": ("chat:write",),
    "chat.getPermalink": (),
    "conversations.join": ("channels:join",),
    "pins.add": ("pins:write",),
    "pins.list": ("pins:read",),
    "bookmarks.add": ("bookmarks:write",),
    "reactions.add": ("reactions:write",),
    "users.info": ("users:read",),
    "users.list": ("users:read",),
    "users.lookupByEmail": ("users:read.email",),
    "views.open": (),
    "views.push": (),
    "views.update": (),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
}

KNOWN = frozenset({s for anyof in FIXED.values() for s in anyof}
                  | {s for table in PER_CONVERSATION.values() for anyof in table.values() for s in anyof})


def manifest_scopes(path: Path = MANIFEST) -> frozenset[str]:
    """The bot scopes slack-manifest.yml asks for; outside a checkout (no manifest) every scope the sandbox knows."""
    if not path.exists():
        return KNOWN
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    return frozenset(manifest["oauth_config"]["scopes"]["bot"])


def _kind_of(sb: Workspace, ref: str | None) -> Conversation | None:
    """The type of the conversation a call names (a user id means the bot's DM with them); None if unknown."""
    if ref and ref.startswith(("U", "W")) and ref in sb.users:
        return Conversation.IM
    channel = sb.channels.get(ref or "") or sb.channel_by_name(ref or "")
    if channel is None:
        return None
    return Conversation.IM if channel.is_im else Conversation.PRIVATE if channel.is_private else Conversation.PUBLIC


def _conversations(sb: Workspace, method: str, p: Params) -> list[Conversation]:
    """The types of conversation a call acts on."""
    if method == "conversations.create":
        return [Conversation.PRIVATE if p.flag("is_private") else Conversation.PUBLIC]
    if method == "conversations.list":
        return [Conversation(t) for t in p.id_list("types") or ["public_channel"] if t in set(Conversation)]
    if method == "conversations.open" and not p.get("channel"):
        return [Conversation.IM if len(p.id_list("users")) <= 1 else Conversation.MPIM]
    kind = _kind_of(sb, p.get("channel"))
    return [kind] if kind else []


def needed(sb: Workspace, method: str, p: Params) -> list[AnyOf]:
    """The scopes a call needs: one of each group (none for a method or conversation the table does not know)."""
    if method in FIXED:
        return [FIXED[method]] if FIXED[method] else []
    table = PER_CONVERSATION.get(method, {})
    return [table[kind] for kind in _conversations(sb, method, p) if kind in table]


def check(sb: Workspace, method: str, p: Params, granted: frozenset[str]) -> None:
    """Refuse a call whose token lacks a scope it needs, naming the scope as Slack does."""
    for anyof in needed(sb, method, p):
        if not granted.intersection(anyof):
            raise SlackError("missing_scope", needed=",".join(anyof), provided=",".join(sorted(granted)))
