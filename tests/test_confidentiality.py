"""Private incidents stay private and secrets stay secret: a sweep of everything an outsider can read.

One run, with every log record of every logger captured at DEBUG, plays three private incidents —
one declared through the form's private option, a drill of the (private) breach playbook, one opened
by an alert for that playbook — and a public one, with every path that could carry their words out:
the announce and leadership channels (sev1 notice, escalation, digest), escalation DMs,
`/incident list`, summaries, timelines, roles, steps and statements asked by outsiders from shared
channels, a forged timeline button, `/metrics`, `yingji report`, `yingji drills`. Slack then has a
bad day (invalid_auth, not_in_channel, 5xx, dropped connections), forged, stale and unsigned
requests arrive, and the bot restarts in Socket Mode with an operator's explicit DEBUG on
slack_sdk and slack_bolt. The tables below say, path by path, how to read what outsiders see (no
secret word may be there), what members see (the same words must be there, so the sweep can fail),
and where a token or the signing secret could surface (never).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.confidentiality_run import DEFAULT, OPTED_IN, Run, play
from tests.confidentiality_secrets import SECRETS, TOKENS, leaks, token_needles


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One run for the whole module (on its own event loop); every check below reads what it left."""
    return asyncio.run(play(tmp_path_factory.mktemp("confidentiality")))


# -- how to read each path -----------------------------------------------------------------------

Reader = Callable[[Run], str]


def dump(value: Any) -> str:
    """Everything a person could read in Slack objects (text, blocks, files, metadata), as one string."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _messages(run: Run, channel_id: str) -> str:
    """Every message, thread reply and pin of a channel, and the files shared there with their contents."""
    channel = run.sb.channels[channel_id]
    parts = [dump(channel.messages)]
    for message in channel.messages:
        for shared in message.get("files") or []:
            stored = run.sb.files.get(shared.get("id", ""), {})
            parts.append(dump({k: v for k, v in stored.items() if k != "bytes"}))
            parts.append(bytes(stored.get("bytes") or b"").decode("utf-8", "replace"))
    return "\n".join(parts)


def _shared(name: str) -> Reader:
    """A shared channel, as its members (the outsiders among them) read it."""

    def read(run: Run) -> str:
        channel = run.sb.channels[run.channels[name]]
        assert run.outsider_ids <= channel.members, f"the outsiders should be in #{name}"
        return _messages(run, channel.id)

    return read


def _other_channels_of_outsiders(run: Run) -> str:
    """Any other channel an outsider was brought into (an incident channel would be a leak in itself)."""
    seeded = set(run.channels.values())
    return "\n".join(_messages(run, c.id) for c in run.sb.channels.values()
                     if not c.is_im and c.id not in seeded and c.members & run.outsider_ids)


def _directory(run: Run) -> str:
    """What anyone sees of channels without joining them: public names, topics, purposes, bookmarks."""
    return dump([[c.name, c.topic, c.purpose, c.bookmarks] for c in run.sb.channels.values()
                 if not c.is_private and not c.is_im])


def _dms_to_outsiders(run: Run) -> str:
    """Direct messages from the bot to outsiders (the escalation notice among them)."""
    return "\n".join(_messages(run, c.id) for c in run.sb.channels.values() if c.is_im and c.im_user in run.outsider_ids)


def _ephemerals_to_outsiders(run: Run) -> str:
    """Command replies and chat.postEphemeral messages shown only to outsiders."""
    return dump([e for e in run.sb.ephemerals if e.get("user") in run.outsider_ids])


def _responses_to_outsiders(run: Run) -> str:
    """Everything posted to the response_urls of outsiders' commands and clicks."""
    return dump([r for r in run.sb.responses if r.get("user") in run.outsider_ids])


def _everything_people_see(run: Run) -> str:
    """Every channel, DM, thread, file, reply, response_url post and form, members' and outsiders' alike."""
    channels = "\n".join(_messages(run, channel_id) for channel_id in run.sb.channels)
    return "\n".join([channels, dump(run.sb.ephemerals), dump(run.sb.responses), dump(run.sb.views)])


def _output(name: str) -> Reader:
    """A captured output (CLI, /metrics, a member's reply), read as its reader would."""
    return lambda run: run.outputs[name]


def _private_channel(key: str) -> Reader:
    """A private incident's channel, as its members read it."""
    return lambda run: _messages(run, run.private_channels[key])


def _logs(phase: str | None) -> Reader:
    """The log records of one phase of the run, as the log's readers see them."""
    return lambda run: run.logs.text(phase)


def _http_answers(run: Run) -> str:
    """What the bot answered to requests it refused (the sender reads these)."""
    return "\n".join(run.http_answers)


def _outputs(run: Run) -> str:
    """Every captured output together."""
    return "\n".join(run.outputs.values())


# -- outsiders never see a private word ----------------------------------------------------------

# (path, how to read what outsiders see there, words proving the reading found the path's content)
OUTSIDER_PATHS: list[tuple[str, Reader, tuple[str, ...]]] = [
    ("#general, where the incidents were declared", _shared("general"), ()),
    ("#incidents, the announcements", _shared("incidents"), ("INC-1", "INC-2", "INC-3", "PUBLICVISIBLE")),
    ("#leadership: sev1 notice, escalation, digest", _shared("leadership"),
     (":arrow_double_up: 事件升级为 INC-1", ":rotating_light: INC-1", "每日应急摘要", "PUBLICVISIBLE")),
    ("other channels an outsider is in", _other_channels_of_outsiders, ()),
    ("public channel names, topics and bookmarks", _directory, ("incidents",)),
    ("escalation and other DMs to outsiders", _dms_to_outsiders, ("INC-1",)),
    ("replies to outsiders' list / summary / timeline / roles / steps / statement", _ephemerals_to_outsiders,
     ("找不到事件 INC-1", "找不到事件 INC-3", "PUBLICVISIBLE")),
    ("response_url posts to outsiders", _responses_to_outsiders, ("invalid_auth",)),
    ("/metrics", _output("/metrics"), ('yingji_incidents{severity="sev1",window="30d"}',)),
    ("yingji report", _output("yingji report"), ("By severity", "payment-failure")),
    ("yingji drills", _output("yingji drills"), ("INC-2", "data-breach")),
    ("logs, every logger at DEBUG from the root", _logs(DEFAULT), ("DEBUG", "invalid_auth", "not_in_channel")),
    ("the bot's HTTP answers to refused requests", _http_answers, ("401",)),
]


@pytest.mark.parametrize("path, read, proof", OUTSIDER_PATHS, ids=[p[0] for p in OUTSIDER_PATHS])
def test_outsiders_never_see_private_words(run: Run, path: str, read: Reader, proof: tuple[str, ...]) -> None:
    seen = read(run)
    missing = [word for word in proof if word not in seen]
    assert not missing, f"{path}: the sweep did not find what this path should show ({missing})"
    found = leaks(seen, SECRETS)
    assert not found, f"{path} shows a private incident's {', '.join(found)} to people outside it"


# -- members do see them (so the sweep above can fail) -------------------------------------------

MEMBER_PATHS: list[tuple[str, Reader, tuple[str, ...]]] = [
    ("INC-1's private channel", _private_channel("INC-1"),
     ("title", "summary", "note", "status note", "pinned message", "statement", "resolution")),
    ("INC-2's private channel", _private_channel("INC-2"), ("drill title",)),
    ("INC-3's private channel", _private_channel("INC-3"), ("alert title", "alert summary")),
    ("a member's summary INC-1 from #general", _output("member: summary INC-1 from #general"), ("title", "note")),
    ("a member's timeline INC-1 from #general", _output("member: timeline INC-1 from #general"),
     ("severity reason", "note", "status note", "pinned message")),
    ("a member's list from #general", _output("member: list from #general"), ("title",)),
    ("a member's summary INC-1 over Socket Mode", _output("member: summary INC-1 over Socket Mode"), ("title", "resolution")),
    ("yingji export INC-1 md", _output("yingji export md"), ("title", "summary", "note", "action item", "resolution")),
    ("yingji export INC-1 json", _output("yingji export json"), ("title", "summary", "note", "status note")),
    ("yingji export INC-1 csv", _output("yingji export csv"), ("note", "status note", "pinned message")),
    ("logs with slack_sdk and slack_bolt explicitly at DEBUG", _logs(OPTED_IN), ("title",)),
]


@pytest.mark.parametrize("path, read, expected", MEMBER_PATHS, ids=[p[0] for p in MEMBER_PATHS])
def test_members_do_see_them(run: Run, path: str, read: Reader, expected: tuple[str, ...]) -> None:
    found = set(leaks(read(run), SECRETS))
    missing = [name for name in expected if name not in found]
    assert not missing, f"{path} should show the incident's {', '.join(missing)} to its members"


# -- tokens and the signing secret appear nowhere ------------------------------------------------

TOKEN_PATHS: list[tuple[str, Reader, tuple[str, ...]]] = [
    ("logs, every logger at DEBUG from the root", _logs(DEFAULT),
     ("invalid_auth", "not_in_channel", "HTTP 503", "connection: ")),
    ("logs with slack_sdk and slack_bolt explicitly at DEBUG (request headers included)", _logs(OPTED_IN),
     ("'Authorization': '(redacted)'", "apps.connections.open", "invalid_auth")),
    ("every message, DM, reply, response_url post and form shown to anyone", _everything_people_see,
     ("invalid_auth",)),
    ("the bot's HTTP answers to forged, stale, unsigned and wrong-bearer requests", _http_answers,
     ("forged request: 401", "stale request: 401", "unsigned request: 401", "wrong bearer: 401")),
    ("/metrics, reports and exports", _outputs, ("yingji_",)),
]


@pytest.mark.parametrize("path, read, proof", TOKEN_PATHS, ids=[p[0] for p in TOKEN_PATHS])
def test_tokens_and_signing_secret_appear_nowhere(run: Run, path: str, read: Reader, proof: tuple[str, ...]) -> None:
    seen = read(run)
    missing = [word for word in proof if word not in seen]
    assert not missing, f"{path}: the sweep did not find the errors and requests it should hold ({missing})"
    found = leaks(seen, TOKENS, token_needles)
    assert not found, f"{path} shows the {', '.join(found)}"


def test_the_run_used_every_secret(run: Run) -> None:
    """The checks above mean something only if each secret was really in play."""
    methods = {method for method, _ in run.sb.calls}
    assert {"apps.connections.open", "chat.postMessage", "conversations.create"} <= methods  # app and bot tokens
    assert sum(1 for answer in run.http_answers if ": 401" in answer) == 4  # forged, stale, unsigned, wrong bearer
