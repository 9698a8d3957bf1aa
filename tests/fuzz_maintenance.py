"""What the fuzz tests send about maintenance windows: the form's submissions and `/incident maintenance …` texts,
with oracles for which must change nothing, written from the rules (issue 24) rather than taken from the bot."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import strategies as st

from bot.models import Maintenance
from tests.fuzz_harness import COMPONENTS, Case, Harness

FORM = "maintenance_form"
TEXT_LIMIT = 500  # characters of a notice, per language
LONGEST, HORIZON, GRACE = 7 * 86_400, 366 * 86_400, 600  # seconds: longest window, furthest start, "now" a moment ago
LANGUAGES = ("zh", "en")


def _picked(values: dict[str, Any], block: str) -> int | None:
    """A date-time picker's seconds, read the way Slack sends them (block → action "value" → selected_date_time)."""
    element = ((values.get(block) or {}).get("value") or {}) if isinstance(values.get(block), dict) else {}
    seconds = element.get("selected_date_time") if isinstance(element, dict) else None
    return seconds if isinstance(seconds, int) and not isinstance(seconds, bool) else None


def _typed(values: dict[str, Any], block: str) -> str:
    element = (values.get(block) or {}).get("value") if isinstance(values.get(block), dict) else None
    typed = element.get("value") if isinstance(element, dict) else None
    return typed if isinstance(typed, str) else ""


def _ticked(values: dict[str, Any]) -> list[Any]:
    element = (values.get("components") or {}).get("value") if isinstance(values.get("components"), dict) else None
    options = element.get("selected_options") if isinstance(element, dict) else None
    return [o["value"] for o in options if isinstance(o, dict) and isinstance(o.get("value"), str)] \
        if isinstance(options, list) else []  # an option whose value is not text is no option


def form_invalid(state: Any) -> bool:
    """Whether a maintenance form must store nothing: a moment missing or not one, the end not after the start, too
    long, a start well past or over a year ahead, a notice blank or over the limit, or a component not configured."""
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(values, dict):
        return True
    start, end, now = _picked(values, "starts_at"), _picked(values, "ends_at"), time.time()
    if start is None or end is None or end <= start or end - start > LONGEST:
        return True
    if start < now - GRACE or start > now + HORIZON:
        return True
    notices = [_typed(values, f"text_{code}") for code in LANGUAGES]
    if any(not notice.strip() or len(notice.replace("\x00", "").strip()) > TEXT_LIMIT for notice in notices):
        return True
    return any(component not in COMPONENTS for component in _ticked(values))


def _moments() -> st.SearchStrategy[tuple[Any, Any]]:
    """A start and an end: sensible ones, edges, misshapen ones (text, floats, bools, huge, negative, missing)."""
    now = int(time.time())
    sensible = st.tuples(st.integers(now + 600, now + 30 * 86_400), st.integers(60, 3 * 86_400)).map(
        lambda t: (t[0], t[0] + t[1]))
    edge = st.tuples(st.sampled_from([now - 86_400, now + 400 * 86_400, now + 3600]),
                     st.sampled_from([-3600, 0, 1, 8 * 86_400])).map(lambda t: (t[0], t[0] + t[1]))
    odd = st.one_of(st.none(), st.text(max_size=12), st.floats(allow_nan=False), st.booleans(),
                    st.integers(-10**20, 10**20), st.sampled_from(["2030-01-01T09:00", "1e9", ""]))
    return st.one_of(sensible, sensible, edge, st.tuples(odd, odd), st.tuples(sensible.map(lambda t: t[0]), odd))


def _notice() -> st.SearchStrategy[Any]:
    """A notice: short, blank, right at the limit or past it, long, or not text at all."""
    return st.one_of(
        st.text(min_size=1, max_size=60), st.sampled_from(["", "   ", "\u3000", "\x00", "支付渠道切换" * 83]),
        st.sampled_from(["x" * TEXT_LIMIT, "长" * (TEXT_LIMIT + 1), "y" * 5_000]), st.text(min_size=400, max_size=600),
        st.none(), st.integers(),
    )


def form_state() -> st.SearchStrategy[dict[str, Any]]:
    """The maintenance form's state.values, shaped as Slack sends it, with odd and unknown fields now and then."""
    component = st.one_of(st.sampled_from(COMPONENTS), st.sampled_from(["", "nope", "PAYMENT", "支付"]), st.integers())

    def build(moments: tuple[Any, Any], zh: Any, en: Any, ticked: list[Any], extra: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {
            "starts_at": {"value": {"type": "datetimepicker", "selected_date_time": moments[0]}},
            "ends_at": {"value": {"type": "datetimepicker", "selected_date_time": moments[1]}},
            "text_zh": {"value": {"type": "plain_text_input", "value": zh}},
            "text_en": {"value": {"type": "plain_text_input", "value": en}},
            "components": {"value": {"type": "multi_static_select",
                                     "selected_options": [{"value": c} for c in ticked]}},
        }
        return {"values": {**values, **extra}}

    extra = st.dictionaries(st.sampled_from(["zzz", "starts_at", "text_en", "components"]),
                            st.one_of(st.just({}), st.just({"value": {"type": "x"}}),
                                      st.just({"value": {"type": "plain_text_input", "value": "x"}})),
                            max_size=2)
    return st.builds(build, _moments(), _notice(), _notice(), st.lists(component, max_size=3),
                     st.one_of(st.just({}), st.just({}), extra))


def form_cases(h: Harness) -> st.SearchStrategy[Case]:
    """The maintenance form submitted with windows good and bad, from where it was asked for or from anywhere."""
    channels = st.one_of(st.sampled_from([*h.ids["channels"], "C0NOPE", ""]), st.integers(), st.none())

    def build(state: dict[str, Any], channel: Any, user: str, odd_metadata: str | None) -> Case:
        metadata = odd_metadata if odd_metadata is not None else json.dumps({"channel": channel})
        view = {"id": "V0FUZZ", "type": "modal", "callback_id": FORM, "hash": "1.a", "private_metadata": metadata,
                "state": state}
        payload = {"type": "view_submission", "user": {"id": user}, "team": {"id": "T0SANDBOX"}, "view": view,
                   "trigger_id": "$trigger"}
        return Case("interactive", payload, invalid=form_invalid(state))

    users = st.sampled_from([*h.ids["users"], "U0NOBODY1"])
    return st.builds(build, form_state(), channels, users, st.one_of(st.none(), st.none(), st.text(max_size=20)))


SUBCOMMAND_TEXTS = ("", "list", "cancel", "cancel ", "cancel #", "CANCEL ", "cancel  #", "list ", "new", "cancel x ")


def slash_texts(h: Harness) -> st.SearchStrategy[str]:
    """`/incident maintenance …`: its own words with a window's number (real, stale or odd), or junk after them."""
    number = st.one_of(st.sampled_from(h.ids["rows"]), st.sampled_from(["0", "-1", "٣", "²", "99999999999", "1.0"]),
                       st.text(max_size=8))
    return st.tuples(st.sampled_from(["maintenance ", "MAINTENANCE ", "maintenance\n"]),
                     st.sampled_from(SUBCOMMAND_TEXTS), number).map("".join)


def slash_row(text: str) -> tuple[type, Any] | None:
    """What `/incident maintenance cancel <n>` names (it changes something only when n is a window); None for any
    other text, whose oracle is slash_invalid's."""
    words = text.replace("\x00", "").lower().split()
    at = next((i for i, word in enumerate(words[:2]) if word == "maintenance"), None)
    if at is None or len(words) != at + 3 or words[at + 1] != "cancel":
        return None
    return Maintenance, words[at + 2].lstrip("#")
