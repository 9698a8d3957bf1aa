"""Bad input, fuzzed: signed but arbitrary requests to /slack/events never break the bot or change what they must not.

Each test owns one LocalStack for all its examples (stacks take a second to start) and its own event loop:
the tests are plain functions, hypothesis calls the inner `@given` function once per example, and that
drives the stack with `loop.run_until_complete`. Owning the loop also lets the test install an exception
handler on it, so "Task exception was never retrieved" and friends are caught like ERROR log records.

Properties, for every example:
- the answer is never a 5xx: 200 for a signed request shaped like Slack's, 400 for a signed body that is
  not one (not JSON / a form / a payload object, or fields of the wrong type), 401 for an unsigned one;
- nothing is logged at ERROR and the event loop is left holding no exception;
- an invalid request (defined per kind in tests/fuzz_cases.py: an unknown subcommand, an unknown action_id or callback_id,
  a value or form metadata that names no row, an event the bot does not take, a misshapen body) changes
  no row count of incidents, timeline events, outbox operations, role assignments, steps, statements,
  statement reviews, maintenance windows or their events;
- every message, form and ephemeral reply the bot sent passes the sandbox's own Block Kit checks, and no
  outbox operation was refused by Slack for its blocks or its length.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from bot.models import Incident, TimelineEvent
from bot.slack import maintenance_view
from bot.slack.text import escape
from tests import fuzz_maintenance
from tests.fuzz_cases import (
    ACTION_TARGETS,
    FORM_TARGETS,
    block_action_cases,
    event_cases,
    malformed_cases,
    misshapen_cases,
    slash_cases,
    slash_invalid,
    view_submission_cases,
)
from tests.fuzz_harness import (
    FUZZ,
    Case,
    Harness,
    Watch,
    blockkit_problems,
    config,
    fuzz,
    known_ids,
    refused_for_shape,
    seed,
)
from tests.helpers import Database
from yingji.local import LocalStack


@pytest.fixture
def harness(database: Database, tmp_path: Path) -> Iterator[Harness]:
    """A stack with one staffed incident and a statement draft, driven from a loop this test owns."""
    loop = asyncio.new_event_loop()
    watch = Watch()
    loop.set_exception_handler(watch.loop_exception)
    logging.getLogger().addHandler(watch)
    stack = loop.run_until_complete(LocalStack.start(tmp_path / "stack", config=config, rate_limits=False))
    try:
        incident = loop.run_until_complete(seed(stack))
        h = Harness(loop, stack, watch, incident)
        h.ids = loop.run_until_complete(known_ids(h))
        assert watch.problems == [], watch.problems
        yield h
    finally:
        loop.run_until_complete(stack.stop())
        loop.close()
        logging.getLogger().removeHandler(watch)


# -- the tests --------------------------------------------------------------------------------------


def test_slash_command_texts(harness: Harness) -> None:
    h = harness
    general, inside, user = h.stack.channels["general"], h.incident.channel_id or "", h.stack.users["liu.yang"]
    explicit = tuple(Case("slash", text, user=user, channel=channel, invalid=slash_invalid(text, channel == inside))
                     for channel in (general, inside)
                     for text in ("payload", "note payload=%7B", "bogus " + "x" * 10_000, "done ²", "done ٣٣",
                                  "role tech <@U0NOBODY1|nobody>", "\x00\x01\x02", "statement show INC-1 x",
                                  "INC-1 role", "severity 99999999999999999999", "timeline INC-1 x"))
    fuzz(h, slash_cases(h), examples=120, explicit=explicit)


def test_button_presses(harness: Harness) -> None:
    fuzz(harness, block_action_cases(harness), examples=150)


def test_form_submissions(harness: Harness) -> None:
    cases = st.one_of(view_submission_cases(harness), fuzz_maintenance.form_cases(harness))
    fuzz(harness, cases, examples=150)


def test_every_maintenance_button_and_form_is_fuzzed() -> None:
    """A new maintenance action or form (an id in bot/slack/maintenance_view.py) fails here until it is sent above."""
    ids = {v for v in vars(maintenance_view).values() if isinstance(v, str) and v.startswith("maintenance_")}
    assert ids >= {"maintenance_approve", "maintenance_cancel", "maintenance_form"}
    assert ids - {*ACTION_TARGETS, *FORM_TARGETS, fuzz_maintenance.FORM} == set()


def test_events(harness: Harness) -> None:
    fuzz(harness, event_cases(harness), examples=150)


def test_misshapen_and_malformed_bodies(harness: Harness) -> None:
    fuzz(harness, st.one_of(misshapen_cases(harness), malformed_cases()), examples=150)


# -- valid but over-long input: stored whole, shown within Slack's limits ----------------------------

LONG_TEXT = st.one_of(
    st.text(min_size=1, max_size=10_000),
    st.tuples(st.text(min_size=1, max_size=12), st.integers(1, 10_000)).map(lambda t: (t[0] * t[1])[:10_000]),
)


async def _latest(stack: LocalStack, model: type, column: Any) -> Any:
    """The newest row of a table."""
    async with stack.rt.sessions() as session:
        return (await session.exec(select(model).order_by(col(column).desc()))).first()


def test_over_long_notes_and_titles_are_stored_whole(harness: Harness) -> None:
    h = harness
    inside, general, user = h.incident.channel_id or "", h.stack.channels["general"], h.stack.users["li.na"]

    async def note_and_declare(body: str) -> None:
        body = body[:10_000 - len("Fuzz ")]  # titles are kept up to 10,000 characters (bot.incidents.MAX_TITLE)
        expected = ("Fuzz " + body).replace("\x00", "").strip()  # U+0000 is dropped at the edge; the rest is kept
        for kind, text, channel in (("note", f"note Fuzz {body}", inside),
                                    ("declare", f"declare sev4 site-outage Fuzz {body}", general)):
            reply = await h.stack.actor.slash("/incident", escape(text), user_id=user, channel_id=channel)
            await h.stack.settle()
            assert reply.status == 200 and h.watch.problems == [], h.watch.problems
            if kind == "note":
                stored = (await _latest(h.stack, TimelineEvent, TimelineEvent.id)).text
            else:
                stored = (await _latest(h.stack, Incident, Incident.id)).title
            assert stored == expected, (kind, len(stored), len(expected))
            assert blockkit_problems(h, reply) == []
        assert await refused_for_shape(h.stack) == []

    @settings(FUZZ, max_examples=12)
    @given(body=LONG_TEXT)
    @example(body="x" * 10_000)
    @example(body="长" * 10_000)
    @example(body="*加粗* <@U0NOBODY1|某人> <#C0NOPE|频道> `代码` payload \x00 " * 200)
    def check(body: str) -> None:
        h.run(note_and_declare(body))

    check()
