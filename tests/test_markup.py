"""What people type goes out escaped: no title, note or fact can mention anyone, @channel or link in Slack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from bot.db import utcnow
from bot.models import Incident, Statement, TimelineEvent
from bot.scheduler import fire
from bot.slack.text import Said
from tests.helpers import StackFactory, declare, in_channel, incidents_in_db
from yingji.local import LocalStack

MARKUP = "<!channel> <!here> <@U0HOSTILE1> <http://evil.example|click>"
RAW = ("<!channel>", "<!here>", "<@U0HOSTILE1>", "<http://evil.example")
ESCAPED = "&lt;!channel&gt; &lt;!here&gt; &lt;@U0HOSTILE1&gt; &lt;http://evil.example|click&gt;"
PARSED = ("text", "topic", "purpose", "initial_comment")  # arguments Slack reads for mentions and links
NESTED = ("blocks", "attachments", "view")  # Block Kit, walked for its mrkdwn texts
FACTS = ("headline", "what_happened", "affected", "doing", "customer_action", "compensation", "data_detail")


def _config(users: dict[str, str]) -> dict[str, Any]:
    """Someone to escalate to when no commander comes."""
    return {"escalation": [users["guest"]]}


def _texts(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every text inside Block Kit that Slack parses for markup, with where it is; plain_text is not parsed."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _texts(item, f"{path}[{index}]")
    elif isinstance(node, dict) and node.get("type") != "plain_text":
        for key, value in node.items():
            if key in ("text", "pretext", "fallback") and isinstance(value, str):
                yield f"{path}.{key}", value
            else:
                yield from _texts(value, f"{path}.{key}")


def _parsed(args: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """The parts of one Web API call that Slack renders as mrkdwn (blocks may come JSON-encoded)."""
    for name in PARSED:
        if isinstance(args.get(name), str):
            yield name, args[name]
    for name in NESTED:
        value = args.get(name)
        yield from _texts(json.loads(value) if isinstance(value, str) else value, name)


def _leaks(calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Each field of a call that carried raw markup out, named by call, method and field."""
    return [f"call {n} {method} {where}: {', '.join(r for r in RAW if r in text)} in {text[:200]!r}"
            for n, (method, args) in enumerate(calls) for where, text in _parsed(args) if any(r in text for r in RAW)]


def _statement_values(stack: LocalStack) -> dict[str, dict[str, Any]]:
    """The statement form with markup in every free-text fact."""
    later = (utcnow() + timedelta(minutes=30)).astimezone(stack.rt.settings.tz).strftime("%Y-%m-%d %H:%M")
    values = {name: {"value": f"{name} {MARKUP}"} for name in FACTS}
    values.update(stage={"value": "investigating"}, language={"value": "zh"}, data={"value": "confirmed"},
                  data_harms={"value": ["leaked"]},
                  next_update={"value": later})
    return values


def _view(stack: LocalStack, callback_id: str) -> str:
    """The newest open form of this kind."""
    return [k for k, v in stack.sandbox.views.items() if v.get("callback_id") == callback_id][-1]


async def _submit(stack: LocalStack, callback_id: str, user: str, values: dict[str, dict[str, Any]]) -> None:
    """Submit the newest form of this kind as `user`; it must be accepted."""
    submitted = await stack.actor.submit_view(_view(stack, callback_id), stack.users[user], values=values)
    assert submitted.status == 200 and not (submitted.json or {}).get("errors"), submitted.body
    await stack.settle()


async def _press(stack: LocalStack, incident: Incident, statement: Statement, action: str, user: str) -> None:
    """A button on the statement draft, pressed by `user`."""
    await stack.actor.block_action(stack.users[user], action, value=str(statement.id),
                                   channel_id=incident.channel_id, message_ts=statement.message_ts)
    await stack.settle()


async def _statement(stack: LocalStack, incident: Incident) -> None:
    """Draft through the form; comms asks for changes with a comment, then approves."""
    await in_channel(stack, incident, "statement")
    await _submit(stack, "statement_form", "zhang.wei", _statement_values(stack))
    async with stack.rt.sessions() as session:
        draft = (await session.exec(select(Statement).where(Statement.incident_id == incident.id)
                                    .order_by(col(Statement.id).desc()))).first()
    assert draft is not None and MARKUP in draft.facts["what_happened"]
    await _press(stack, incident, draft, "statement_changes", "wang.fang")
    await _submit(stack, "statement_changes_form", "wang.fang", {"comment": {"value": MARKUP}})
    await _press(stack, incident, draft, "statement_approve", "wang.fang")


async def _work(stack: LocalStack, incident: Incident) -> None:
    """Every free-text field, through every path that shows it: escalation, notes, raise, status, handover,
    statement, a step's note, resolve (the review goes out)."""
    u = stack.users
    await asyncio.to_thread(fire, "escalate", incident.id)  # no commander yet: escalation DM and leadership
    await stack.settle()
    await in_channel(stack, incident, f"note {MARKUP}")
    await in_channel(stack, incident, f"note action: {MARKUP}")
    await in_channel(stack, incident, f"severity sev1 {MARKUP}")
    await in_channel(stack, incident, f"status identified {MARKUP}")
    await in_channel(stack, incident, f"role commander <@{u['zhang.wei']}>")
    await in_channel(stack, incident, f"role commander <@{u['chen.jie']}>")  # a handover: both are told
    await in_channel(stack, incident, f"role comms <@{u['wang.fang']}>")  # she reviews the statement
    await _statement(stack, incident)
    await in_channel(stack, incident, f"done 1 {MARKUP}")
    await in_channel(stack, incident, f"resolve {MARKUP}", user="chen.jie")


async def _declare_by_form(stack: LocalStack) -> Incident:
    """The declare form, markup in its title and summary."""
    await stack.actor.slash("/incident", "declare", user_id=stack.users["li.na"], channel_id=stack.channels["general"])
    await stack.settle()
    await _submit(stack, "declare_form", "li.na", {
        "title": {"value": MARKUP}, "summary": {"value": MARKUP}, "playbook": {"value": "site-outage"},
        "severity": {"value": "sev2"}, "options": {"value": []}})
    return (await incidents_in_db(stack))[-1]


async def test_markup_people_type_never_reaches_slack_raw(make_stack: StackFactory) -> None:
    stack = await make_stack(config=_config)
    public = await declare(stack, f"declare sev2 payment-failure {MARKUP}")
    await _work(stack, public)
    private = await declare(stack, f"declare sev2 data-breach {MARKUP}", user="li.na")
    formed = await _declare_by_form(stack)
    await asyncio.to_thread(fire, "digest")  # the form's incident is still active: the digest lists it
    await stack.settle()
    incidents = {i.id: i for i in await incidents_in_db(stack)}
    assert private.private and incidents[public.id].status == "resolved"
    assert {incidents[i].title for i in (public.id, private.id, formed.id)} == {MARKUP}  # stored as typed
    assert incidents[formed.id].summary == MARKUP and incidents[public.id].resolution == MARKUP
    found = _leaks(stack.sandbox.calls)
    assert not found, "person-written markup reached Slack raw:\n" + "\n".join(found)
    assert any(ESCAPED in text for _, args in stack.sandbox.calls for _, text in _parsed(args))
    async with stack.rt.sessions() as session:
        topics = (await session.exec(select(TimelineEvent).where(TimelineEvent.kind == "topic_set"))).all()
    assert topics and all(t.text.endswith(MARKUP) for t in topics)  # the timeline keeps what people read


def test_said_goes_out_escaped_and_is_never_clipped_through_an_escape() -> None:
    said = Said("<!here> R&D")
    assert str(said) == f"{said}" == "&lt;!here&gt; R&amp;D"
    assert f"{said:13}" == said.clip(13) == "&lt;!here…"  # never "&lt;!here&gt…": a torn escape shows as junk
    assert said.clip(3) == "…" and said.clip(100) == str(said) and str(Said(None)) == ""
