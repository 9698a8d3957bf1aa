"""What the fuzz tests send: hypothesis strategies per kind of request, and oracles for which inputs are invalid."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

from bot.models import Incident, Maintenance, Statement, Step
from bot.playbooks import SHIPPED_DIR
from bot.vocabulary import SETTABLE, Role, Stage
from tests import fuzz_maintenance as windows
from tests.fuzz_harness import Case, Harness

# -- the rules the bot is held to, written out here rather than taken from the bot ----------------------

SUBCOMMANDS = ("declare", "role", "roles", "severity", "status", "note", "steps", "done", "statement",
               "summary", "timeline", "list", "resolve", "close", "drill", "help", "repair", "maintenance")
INCIDENT_SCOPED = ("role", "roles", "severity", "status", "note", "steps", "done", "statement", "summary",
                   "timeline", "resolve", "close")
READ_ONLY = ("roles", "steps", "statement", "timeline", "list", "help")  # they answer or open a form, nothing more
SEVERITY_WORDS = ("sev1", "sev2", "sev3", "sev4", "1", "2", "3", "4")
ROLES, STAGES = tuple(Role), tuple(Stage)
KEY = re.compile(r"^INC-\d{1,9}$", re.IGNORECASE)
MENTION = re.compile(r"^<@[UW][A-Z0-9]+(?:\|[^>]*)?>$")
SLACK_TS = re.compile(r"^[0-9]{1,12}\.[0-9]{1,9}$")
ACTION_TARGETS = {  # action_id → the table its value names a row of
    "open_assign_roles": Incident, "open_status_form": Incident, "open_statement_form": Incident,
    "cadence_snooze": Incident, "step_done": Step, "statement_approve": Statement,
    "statement_changes": Statement, "statement_edit": Statement, "statement_publish": Statement,
    "maintenance_approve": Maintenance, "maintenance_changes": Maintenance, "maintenance_cancel": Maintenance,
    "maintenance_edit": Maintenance,
}
READ_ONLY_ACTIONS = ("open_assign_roles", "open_status_form", "open_statement_form", "statement_changes",
                     "statement_edit", "maintenance_edit")  # they only open a form
FORM_TARGETS = {  # callback_id → (metadata key, table) the form belongs to
    "assign_roles_form": ("incident", Incident), "statement_form": ("incident", Incident),
    "status_form": ("incident", Incident), "statement_changes_form": ("statement", Statement),
    "statement_publish_form": ("statement", Statement),
    "maintenance_changes_form": ("maintenance", Maintenance), "maintenance_edit_form": ("maintenance", Maintenance),
}
PLAYBOOKS = tuple(path.stem for path in SHIPPED_DIR.glob("*.yaml"))  # the shipped playbooks' slugs
EVENT_TYPES = ("pin_added", "reaction_added", "message", "app_mention", "member_joined_channel",
               "channel_created", "reaction_removed", "pin_removed")


# -- strategies -------------------------------------------------------------------------------------

ODD_PIECES = ("payload", "payload=", "payload=%7B", '"', "'", "“引号”", "「」", "*bold*", "_it_", "~s~", "`code`",
              "```block```", "> quote", "&amp;", "&lt;", "&gt;", "<!here>", "<!channel>", "\n", "\r\n", "\t",
              "\x00", "\x1b[31m", "\u200b", "\u202e", "😀", "🇨🇳", "ﷺ", "İ", "ß", "²", "٣", "١٢", "　",
              "sev1", "2", "SEV3", "critical", "INC-1", "INC-999999999", "inc-0", "INC-٣", "action:", "行动项：",
              "site-outage", "payment-failure", "data-breach", *SETTABLE, *ROLES, "zh", "en", "show", "-1", "0",
              "99999999999999999999", "1e9", "NaN", "{", "{\"a\":", "[]", "null", "<>", "<@>", "<#>", "<", ">")


def _ids(h: Harness) -> st.SearchStrategy[str]:
    """Slack user ids: the workspace's people, and well-formed ids of nobody."""
    return st.sampled_from([*h.ids["users"], "U0NOBODY1", "W0NOBODY2", "U"])


def _junk(h: Harness) -> st.SearchStrategy[str]:
    """Words people (and mistakes) put in commands: any Unicode, mentions, links, markup."""
    users, channels = _ids(h), st.sampled_from([*h.ids["channels"], "C0NOPE"])
    piece = st.one_of(
        st.text(max_size=30),
        st.sampled_from(ODD_PIECES),
        users.map(lambda u: f"<@{u}>"),
        st.tuples(users, st.text(max_size=12)).map(lambda t: f"<@{t[0]}|{t[1]}>"),
        channels.map(lambda c: f"<#{c}>"),
        st.tuples(channels, st.text(max_size=12)).map(lambda t: f"<#{t[0]}|{t[1]}>"),
    )
    separator = st.sampled_from([" ", "  ", "\n", "\t", "", " \u3000 "])
    return st.tuples(st.lists(piece, max_size=10), separator).map(lambda t: t[1].join(t[0]))


def _long(h: Harness) -> st.SearchStrategy[str]:
    """Up to 10,000 characters: a short stretch repeated, or one long stretch."""
    return st.one_of(
        st.tuples(st.one_of(st.text(min_size=1, max_size=20), _junk(h).filter(bool)), st.integers(50, 10_000))
        .map(lambda t: (t[0] * t[1])[:10_000]),
        st.text(min_size=300, max_size=10_000),
    )


def slash_invalid(text: str, from_incident: bool) -> bool:
    """Whether `/incident <text>` must change nothing: the rules written out, independent of the bot's parser.

    The text is read as the bot must read it: without U+0000, and with Slack's escaping (&lt; &gt; &amp;) undone.
    """
    text = text.replace("\x00", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    words = text.split()
    if not words:
        return True
    keyed = KEY.match(words[0]) is not None and len(words) > 1 and words[1].lower() in SUBCOMMANDS
    sub, args = (words[1].lower(), words[2:]) if keyed else (words[0].lower(), words[1:])
    if sub not in SUBCOMMANDS:
        return True
    if sub in READ_ONLY or (sub == "declare" and not args):
        return True
    if sub == "maintenance":  # the form and the list change nothing; `cancel <n>` may (see fuzz_maintenance.slash_row)
        return not (len(args) == 2 and args[0].lower() == "cancel")
    if args and KEY.match(args[0]) and sub in INCIDENT_SCOPED:
        keyed, args = True, args[1:]
    if sub in INCIDENT_SCOPED and not from_incident and not keyed:
        return True  # outside an incident channel, an incident's command needs its key
    first = args[0].lower() if args else ""
    return (
        (sub == "declare" and first not in SEVERITY_WORDS)
        or (sub == "severity" and first not in SEVERITY_WORDS)
        or (sub == "status" and first not in SETTABLE)
        or (sub == "done" and not (first.isascii() and first.isdigit()))
        or (sub == "role" and (first not in ROLES or len(args) < 2 or not MENTION.match(args[1])))
        or (sub == "note" and not args)
        or (sub == "drill" and first not in PLAYBOOKS)
    )


def slash_cases(h: Harness) -> st.SearchStrategy[Case]:
    """`/incident` with arbitrary text, from #general and from inside the incident channel."""
    args = st.one_of(_junk(h), _long(h))
    plausible = st.one_of(  # a first argument the subcommand may take, so the junk after it is read too
        st.sampled_from([*SEVERITY_WORDS, *SETTABLE, *ROLES, *STAGES, *PLAYBOOKS, "show", "zh", "en", "1", "2", "INC-1"]),
        st.tuples(st.sampled_from(ROLES), _ids(h)).map(lambda t: f"{t[0]} <@{t[1]}>"),
        st.tuples(st.sampled_from(SEVERITY_WORDS), st.sampled_from(PLAYBOOKS)).map(" ".join),
    )
    separator = st.sampled_from([" ", "  ", "\n", ""])
    text = st.one_of(
        st.tuples(st.sampled_from(SUBCOMMANDS), separator, plausible, st.just(" "), args).map("".join),
        st.tuples(st.sampled_from(SUBCOMMANDS), separator, plausible, st.just(" "), args).map("".join),
        st.tuples(st.sampled_from(SUBCOMMANDS), separator, args).map("".join),
        st.tuples(st.sampled_from(["INC-1 ", "inc-1 ", "INC-42 "]), st.sampled_from(SUBCOMMANDS), args)
        .map(lambda t: f"{t[0]}{t[1]} {t[2]}"),
        args,
        st.text(max_size=200),
        windows.slash_texts(h),
    )
    channel = st.sampled_from([h.stack.channels["general"], h.incident.channel_id or ""])
    users = st.sampled_from([h.stack.users[name] for name in ("zhang.wei", "li.na", "liu.yang", "guest")])
    return st.builds(
        lambda t, c, u: Case("slash", t, user=u, channel=c, invalid=slash_invalid(t, c == h.incident.channel_id),
                             row_check=windows.slash_row(t)),
        text, channel, users,
    )


def _values(h: Harness) -> st.SearchStrategy[Any]:
    """What comes back in a button's value or a form's metadata: ours, or anything at all."""
    return st.one_of(
        st.sampled_from(h.ids["rows"]),
        st.sampled_from(["0", "-1", "1.5", "²", "٣", "99999999999999999999999", "9223372036854775808", "1:0",
                         "1:99999999999", "1:-1", "x:y", "{", '{"a":', "[]", "null", "", " 1"]),
        st.text(max_size=40),
        st.integers(-5, 10**25).map(str),
    )


def _metadata(h: Harness) -> st.SearchStrategy[str | None]:
    """A form's private_metadata: ours with real, wrong or odd ids, or anything at all."""
    number = st.one_of(st.sampled_from([int(r) for r in h.ids["rows"]]), st.integers(-2, 10**22), st.none(),
                       st.text(max_size=8), st.floats(allow_nan=False), st.lists(st.integers(0, 3), max_size=2))
    return st.one_of(
        st.none(),
        st.text(max_size=40),
        st.sampled_from(["{", "[]", "null", "1", '"x"', "{}"]),
        st.fixed_dictionaries({}, optional={"incident": number, "statement": number, "edit_of": number, "maintenance": number,
                                            "channel": st.one_of(st.text(max_size=12), st.integers())}).map(json.dumps),
    )


def _state(h: Harness) -> st.SearchStrategy[Any]:
    """state.values of a form: known fields and unknown ones, each in some element's shape, with junk."""
    blocks = st.sampled_from(["title", "playbook", "severity", "summary", "options", "status", "note", "comment",
                              "outlets", "stage", "language", "what_happened", "next_update", *ROLES, "zzz",
                              "starts_at", "ends_at", "components", "text_zh", "text_en"])
    text = st.one_of(st.text(max_size=40), st.sampled_from(["site-outage", "sev1", "resolved", "zh", "monitoring",
                                                            "2030-01-01 09:00", *h.ids["users"]]))
    element = st.one_of(
        st.fixed_dictionaries({"type": st.just("plain_text_input"), "value": st.one_of(text, st.none())}),
        st.fixed_dictionaries({"type": st.just("static_select"),
                               "selected_option": st.one_of(st.none(), st.fixed_dictionaries({"value": text}))}),
        st.fixed_dictionaries({"type": st.just("users_select"), "selected_user": st.one_of(text, st.none())}),
        st.fixed_dictionaries({"type": st.just("datetimepicker"), "selected_date_time": st.one_of(
            st.integers(-2**40, 2**40), text, st.none(), st.floats(allow_nan=False))}),
        st.fixed_dictionaries({"type": st.just("checkboxes"), "selected_options": st.lists(
            st.one_of(st.fixed_dictionaries({"value": text}), st.just({})), max_size=3)}),
        st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=8), st.integers(), st.none()), max_size=3),
    )
    values = st.dictionaries(blocks, st.dictionaries(st.sampled_from(["value", "user", "x"]), element, max_size=2),
                             max_size=6)
    return st.one_of(st.none(), st.just({}), st.builds(lambda v: {"values": v}, values))


def block_action_cases(h: Harness) -> st.SearchStrategy[Case]:
    """Button presses: known and unknown action_ids, with right, wrong, missing and malformed values."""
    channel = h.incident.channel_id or ""
    known = st.sampled_from([*ACTION_TARGETS, "timeline_page_next", "timeline_page_prev"])
    action_id = st.one_of(known, known, known, st.text(max_size=30))

    def build(action: str, value: Any, user: str, ts: str | None, trigger: bool, response: bool, drop_value: bool) -> Case:
        pressed: dict[str, Any] = {"action_id": action, "block_id": "b", "type": "button", "action_ts": "1.2"}
        if not drop_value:
            pressed["value"] = value
        payload: dict[str, Any] = {"type": "block_actions", "user": {"id": user}, "api_app_id": "A0SANDBOX",
                                   "team": {"id": "T0SANDBOX"}, "actions": [pressed],
                                   "channel": {"id": channel, "name": "inc"}, "state": {"values": {}}}
        if ts is not None:
            payload["container"] = {"type": "message", "message_ts": ts, "channel_id": channel}
        if trigger:
            payload["trigger_id"] = "$trigger"
        if response:
            payload["response_url"] = "$response_url"
        read_only = action in READ_ONLY_ACTIONS or action.startswith("timeline_page_")
        table = ACTION_TARGETS.get(action)
        known = table is not None or action.startswith("timeline_page_")
        return Case("interactive", payload, channel=channel, invalid=not known or read_only or drop_value,
                    row_check=(table, value) if table is not None else None)

    values = st.one_of(st.sampled_from(h.ids["rows"]), _values(h))
    return st.builds(build, action_id, values, _ids(h), st.one_of(st.none(), st.sampled_from(h.ids["ts"]),
                                                                  st.text(max_size=12)),
                     st.booleans(), st.booleans(), st.integers(0, 7).map(lambda n: n == 0))


def view_submission_cases(h: Harness) -> st.SearchStrategy[Case]:
    """Form submissions: known and unknown callback_ids, odd or missing metadata and state."""
    callback = st.one_of(st.sampled_from(["declare_form", windows.FORM, *FORM_TARGETS]), st.text(max_size=30))

    def build(callback_id: str, metadata: str | None, state: Any, user: str, closed: bool) -> Case:
        view: dict[str, Any] = {"id": "V0FUZZ", "type": "modal", "callback_id": callback_id, "hash": "1.a"}
        if metadata is not None:
            view["private_metadata"] = metadata
        if state is not None:
            view["state"] = state
        payload = {"type": "view_closed" if closed else "view_submission", "user": {"id": user},
                   "team": {"id": "T0SANDBOX"}, "view": view, "trigger_id": "$trigger"}
        if closed or (callback_id not in FORM_TARGETS and callback_id not in ("declare_form", windows.FORM)):
            return Case("interactive", payload, invalid=True)
        if callback_id == windows.FORM:
            return Case("interactive", payload, invalid=windows.form_invalid(state))
        if callback_id == "declare_form":  # nothing to declare without the three fields
            fields = (state or {}).get("values", {}) if isinstance(state, dict) else {}
            return Case("interactive", payload, invalid=not {"title", "playbook", "severity"} <= set(fields))
        key, table = FORM_TARGETS[callback_id]
        try:
            meta = json.loads(metadata or "{}")
        except ValueError:
            meta = None
        named = meta.get(key) if isinstance(meta, dict) else None
        return Case("interactive", payload, row_check=(table, named))

    return st.builds(build, callback, _metadata(h), _state(h), _ids(h), st.booleans())


def event_cases(h: Harness) -> st.SearchStrategy[Case]:
    """Events API deliveries: random types, missing fields, and odd pins, reactions and messages in incident channels."""
    channel = h.incident.channel_id or ""
    channels = st.one_of(st.sampled_from([channel, channel, h.stack.channels["general"], "C0NOPE"]), st.none())
    ts = st.one_of(st.sampled_from(h.ids["ts"]), st.sampled_from(["", "1.2", "abc", "1e5", "١.٢", "-1.0"]),
                   st.text(max_size=15), st.none())
    message = st.fixed_dictionaries({}, optional={
        "ts": ts, "text": st.one_of(st.text(max_size=60), st.integers(), st.none()), "user": _ids(h),
        "files": st.one_of(st.just([{"id": "F1", "name": "x.png"}]), st.just("x"), st.just([1, None])),
        "thread_ts": st.one_of(st.none(), st.text(max_size=5)),
    })
    item = st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["message", "file", "", "MESSAGE"]), "channel": channels, "ts": ts, "message": message,
    })
    event = st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(EVENT_TYPES), st.text(max_size=20))},
        optional={"channel": channels, "channel_id": channels, "user": _ids(h), "item": item,
                  "reaction": st.sampled_from(["pushpin", "eyes", "", "📌"]), "ts": ts, "text": st.text(max_size=40),
                  "subtype": st.sampled_from(["message_changed", "message_deleted", "bot_message", "channel_join", "x"]),
                  "message": message, "previous_message": message, "deleted_ts": ts, "hidden": st.booleans()},
    )

    real_ts = st.sampled_from(h.ids["ts"])
    real_message = st.fixed_dictionaries({"ts": real_ts}, optional={
        "text": st.one_of(st.text(max_size=60), st.integers()), "user": _ids(h),
        "files": st.one_of(st.just([{"id": "F1", "name": "x.png"}]), st.just("x"), st.just([1, None])),
        "thread_ts": st.one_of(st.none(), real_ts, st.text(max_size=5)),
    })
    in_channel = st.one_of(  # what people do in an incident channel, with odd extras
        st.fixed_dictionaries({"type": st.just("pin_added"), "user": _ids(h), "channel_id": st.just(channel),
                               "item": st.fixed_dictionaries({"type": st.just("message"), "channel": st.just(channel),
                                                              "message": real_message})}),
        st.fixed_dictionaries({"type": st.just("reaction_added"), "user": _ids(h), "reaction": st.just("pushpin"),
                               "item": st.fixed_dictionaries({"type": st.just("message"), "channel": st.just(channel),
                                                              "ts": real_ts})}),
        st.fixed_dictionaries({"type": st.just("message"), "channel": st.just(channel), "message": real_message,
                               "subtype": st.sampled_from(["message_changed", "message_deleted"]),
                               "deleted_ts": real_ts}),
    )
    event = st.one_of(event, in_channel, in_channel)

    def build(event_: dict[str, Any]) -> Case:
        payload = {"token": "x", "team_id": "T0SANDBOX", "api_app_id": "A0SANDBOX", "type": "event_callback",
                   "event_id": "Ev" + uuid.uuid4().hex[:12].upper(), "event_time": int(time.time()), "event": event_}
        return Case("event", payload, invalid=event_invalid(event_, channel))

    return st.builds(build, event)


def event_invalid(event: dict[str, Any], incident_channel: str) -> bool:
    """Whether an event must change nothing: a kind the bot does not take, elsewhere, or naming no message."""
    kind, item = event.get("type"), event.get("item") or {}
    if kind == "pin_added":
        where = event.get("channel_id") or item.get("channel")
        ts = (item.get("message") or {}).get("ts")
    elif kind == "reaction_added":
        where, ts = item.get("channel"), item.get("ts")
        if event.get("reaction") != "pushpin" or item.get("type") != "message":
            return True
    elif kind == "message":
        if event.get("subtype") not in ("message_changed", "message_deleted"):
            return True
        return event.get("channel") != incident_channel  # an edit of a message nobody imported only changes text
    else:
        return True
    return where != incident_channel or not (isinstance(ts, str) and SLACK_TS.match(ts) is not None)


BREAKS_ANY: list[Callable[[dict[str, Any]], dict[str, Any]]] = [
    lambda p: {**p, "user": 5},
    lambda p: {**p, "user": {"id": "not-an-id"}},
    lambda p: {**p, "user": ["U1"]},
    lambda p: {**p, "channel": 7},
    lambda p: {**p, "team_id": 123},
    lambda p: {**p, "trigger_id": "../../etc"},
    lambda p: {**p, "type": "not_a_type"},
    lambda p: {k: v for k, v in p.items() if k != "type"},
    lambda p: {**p, "container": [1]},
    lambda p: {**p, "state": {"values": {"title": "x"}}},
    lambda p: {**p, "event": {**(p.get("event") or {}), "type": "pin_added", "item": {"message": "x"}}},
    lambda p: {**p, "event": {**(p.get("event") or {}), "type": "message", "channel": {"id": 5}}},
]
BREAKS_BY_TYPE: dict[str, list[Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "block_actions": [lambda p: {**p, "actions": "x"}, lambda p: {**p, "actions": [5]},
                      lambda p: {**p, "actions": []}, lambda p: {**p, "actions": [{"value": "1"}]}],
    "view_submission": [lambda p: {**p, "view": "x"}, lambda p: {**p, "view": {"callback_id": "status_form"}},
                        lambda p: {k: v for k, v in p.items() if k != "view"},
                        lambda p: {**p, "view": {**p["view"], "callback_id": 5}}],
    "event_callback": [lambda p: {**p, "event": "x"}, lambda p: {**p, "event": {"type": 5}},
                       lambda p: {k: v for k, v in p.items() if k != "event_id"},
                       lambda p: {k: v for k, v in p.items() if k != "event"}],
}
BREAKS_BY_TYPE["view_closed"] = BREAKS_BY_TYPE["view_submission"]


def misshapen_cases(h: Harness) -> st.SearchStrategy[Case]:
    """Signed payloads with one field of the wrong type or missing: not Slack requests, so 400 and nothing done."""
    shaped = st.one_of(block_action_cases(h), view_submission_cases(h), event_cases(h))

    def broken(case: Case, pick: int) -> Case:
        breaks = BREAKS_ANY + BREAKS_BY_TYPE[case.payload["type"]]
        return Case(case.kind, breaks[pick % len(breaks)](case.payload), expect=400, invalid=True)

    return st.builds(broken, shaped, st.integers(0, 100))


def _json_values() -> st.SearchStrategy[Any]:
    """Any JSON value, nested a little."""
    return st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                        max_leaves=10)


def _no_slack_keys(body: bytes) -> bool:
    """Random bytes must not happen to spell a Slack request."""
    return not any(word in body for word in (b"type", b"command", b"ssl_check"))


def malformed_cases() -> st.SearchStrategy[Case]:
    """Bodies that are not Slack requests at all, signed (400) or not (401)."""
    json_ct, form_ct = "application/json", "application/x-www-form-urlencoded"
    bodies = st.one_of(
        st.tuples(st.binary(max_size=200), st.sampled_from([json_ct, form_ct, "text/plain", "application/json; charset=bogus"])),
        st.tuples(_json_values().filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()), st.just(json_ct)),
        st.tuples(st.dictionaries(st.text(max_size=8), _json_values(), max_size=4).map(lambda v: json.dumps(v).encode()),
                  st.just(json_ct)),
        st.tuples(st.text(max_size=60).map(lambda t: urlencode({"payload": t}).encode()), st.just(form_ct)),
        st.tuples(st.sampled_from([b'{"type": "block_actions", ', b"{", b"[" * 50_000, b"\xff\xfe{}", b"payload=%FF",
                                   b'payload={"type":"view_submission"', b"a=b&c", b""]), st.sampled_from([json_ct, form_ct])),
    ).filter(lambda t: _no_slack_keys(t[0]))
    return st.builds(lambda b, signed: Case("raw", b[0], expect=400 if signed else 401, invalid=True,
                                            content_type=b[1], signed=signed), bodies, st.booleans())
