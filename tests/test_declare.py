"""Declaring an incident end to end: signed requests in, sandbox and database checked after."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlmodel import select

from bot import incidents
from bot.batchwrite import OnSession
from bot.incidents import DeclareRequest, DuplicateRequest
from bot.models import RoleAssignment, TimelineEvent
from bot.sandbox.server import Sandbox
from tests.helpers import incidents_in_db, timeline_kinds
from yingji.local import LocalStack


def _texts(sb: Sandbox, channel_id: str) -> str:
    return "\n".join(str(m.get("text", "")) + str(m.get("blocks", "")) for m in sb.messages(channel_id))


async def test_declare_at_once_builds_the_channel(stack: LocalStack) -> None:
    sb, alice = stack.sandbox, stack.users["zhang.wei"]
    r = await stack.actor.slash("/incident", "declare sev2 payment-failure Alipay callback timeout 支付宝回调超时",
                                user_id=alice, channel_id=stack.channels["general"])
    assert r.status == 200
    assert "INC-1" in r.text
    await stack.settle()

    [incident] = await incidents_in_db(stack)
    assert incident.key == "INC-1" and incident.severity == "sev2" and incident.playbook == "payment-failure"
    assert incident.title == "Alipay callback timeout 支付宝回调超时"
    assert incident.declared_at.tzinfo is not None
    channel = sb.channels[incident.channel_id]
    assert channel.name == "inc-1-alipay-callback-timeout-zhifubao-huidiao-chaoshi"  # both scripts, in title order
    assert not channel.is_private
    assert alice in channel.members
    assert "INC-1" in channel.topic["value"] if isinstance(channel.topic, dict) else "INC-1" in channel.topic
    assert channel.pins == [incident.header_ts]
    header = sb.messages(incident.channel_id)[0]
    assert header["ts"] == incident.header_ts and "INC-1" in str(header["blocks"])
    assert f"<#{incident.channel_id}>" in _texts(sb, stack.channels["incidents"])
    kinds = await timeline_kinds(stack, incident.id)
    assert kinds[0] == "declared"
    for kind in ("channel_created", "topic_set", "purpose_set", "members_invited", "header_posted",
                 "header_pinned", "announced"):
        assert kind in kinds
    assert any("is ready" in str(resp.get("text")) or "已就绪" in str(resp.get("text")) for resp in sb.responses)


async def test_declare_by_form(stack: LocalStack) -> None:
    sb, alice = stack.sandbox, stack.users["zhang.wei"]
    r = await stack.actor.slash("/incident", "declare", user_id=alice, channel_id=stack.channels["general"])
    assert r.status == 200 and r.body == ""
    await stack.settle()
    [view_id] = [vid for vid, view in sb.views.items() if view.get("callback_id") == "declare_form"]
    submitted = await stack.actor.submit_view(view_id, alice, values={
        "title": {"value": "Checkout 500 errors after deploy"},
        "playbook": {"value": "site-outage"},
        "severity": {"value": "sev1"},
        "summary": {"value": "结算页大量 500"},
        "options": {"value": ["commander"]},
    })
    assert submitted.status == 200
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    assert (incident.severity, incident.playbook, incident.summary) == ("sev1", "site-outage", "结算页大量 500")
    assert sb.channels[incident.channel_id].name == "inc-1-checkout-500-errors-after-deploy"
    header = sb.messages(incident.channel_id)[0]
    assert f"<@{alice}>" in str(header["blocks"])  # the declarer chose to be commander
    assert "role_assigned" in await timeline_kinds(stack, incident.id)
    assert any("INC-1" in str(m.get("text")) for m in sb.dms(alice))  # told it is ready


async def test_form_missing_choice_is_refused_in_the_form(stack: LocalStack) -> None:
    sb, alice = stack.sandbox, stack.users["zhang.wei"]
    await stack.actor.slash("/incident", "declare", user_id=alice, channel_id=stack.channels["general"])
    await stack.settle()
    [view_id] = list(sb.views)
    r = await stack.actor.submit_view(view_id, alice, values={"title": {"value": "x"}})
    assert r.json["response_action"] == "errors"
    assert set(r.json["errors"]) == {"playbook", "severity"}
    assert await incidents_in_db(stack) == []


async def test_channel_names_follow_slack_rules(stack: LocalStack) -> None:
    sb, alice, general = stack.sandbox, stack.users["zhang.wei"], stack.channels["general"]
    sb.add_channel("inc-4-flash-sale-overload")  # someone took the name incident 4 will want
    titles = ["双十一大促支付失败", "x" * 40 + " " + "y" * 260, "Flash sale overload", "Flash sale overload"]
    for title in titles:
        await stack.actor.slash("/incident", f"declare 2 traffic-surge {title}", user_id=alice, channel_id=general)
    await stack.settle()
    names = [sb.channels[i.channel_id].name for i in await incidents_in_db(stack)]
    assert names[0] == "inc-1-shuang-shiyida-cu-zhifu-shibai"  # Chinese as pinyin
    assert names[1].startswith("inc-2-xxxx") and len(names[1]) <= 80
    assert names[2] == "inc-3-flash-sale-overload"
    assert names[3] == "inc-4-flash-sale-overload-2"
    assert len(set(names)) == 4
    full = (await incidents_in_db(stack))[1]
    assert full.title == titles[1]  # stored whole even though the channel name is cut


async def test_private_incident_never_shows_its_title(stack: LocalStack) -> None:
    sb, alice = stack.sandbox, stack.users["zhang.wei"]
    title = "Customer PII exported by contractor account"
    await stack.actor.slash("/incident", f"declare sev1 data-breach {title}", user_id=alice,
                            channel_id=stack.channels["general"])
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    channel = sb.channels[incident.channel_id]
    assert incident.private and channel.is_private
    assert "customer" not in channel.name and "pii" not in channel.name
    announce = _texts(sb, stack.channels["incidents"])
    assert "INC-1" in announce and "P1 一级响应" in announce
    assert "PII" not in announce and "contractor" not in announce
    outsider = await stack.actor.slash("/incident", "list", user_id=stack.users["guest"],
                                       channel_id=stack.channels["general"])
    assert "INC-1" not in outsider.text and "PII" not in outsider.text
    insider = await stack.actor.slash("/incident", "list", user_id=alice, channel_id=stack.channels["general"])
    assert "INC-1" in insider.text


async def test_default_role_holders_are_assigned_and_invited(make_stack) -> None:
    stack = await make_stack(config=lambda users: {
        "default_roles": {"comms": users["wang.fang"]},
        "playbook_roles": {"data-breach": {"legal": users["chen.jie"]}},
    })
    alice = stack.users["zhang.wei"]
    await stack.actor.slash("/incident", "declare sev2 data-breach leaked coupons export", user_id=alice,
                            channel_id=stack.channels["general"])
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    members = stack.sandbox.channels[incident.channel_id].members
    assert {alice, stack.users["wang.fang"], stack.users["chen.jie"]} <= set(members)
    assert (await timeline_kinds(stack, incident.id)).count("role_assigned") == 2


def _request(stack: LocalStack, dedup_key: str) -> DeclareRequest:
    return DeclareRequest(title="支付宝回调超时", playbook="payment-failure", severity="sev2",
                          declared_by=stack.users["zhang.wei"], dedup_key=dedup_key)


async def test_the_same_request_declared_twice_at_once_takes_turns(stack: LocalStack) -> None:
    """Two writers (two replicas, two connections) with one Slack request: the second waits for the first
    to commit, then answers with its incident; no error, and no INC key is drawn and thrown away."""
    where, playbook = stack.rt.workspace(), stack.rt.playbooks["payment-failure"]

    async def declare(dedup_key: str) -> incidents.Declared:
        async with stack.rt.sessions() as session:
            return await incidents.declare(session, _request(stack, dedup_key), where, playbook)

    first, second = await asyncio.gather(declare("trigger-1"), declare("trigger-1"))
    assert first.key == second.key == "INC-1" and sorted([first.created, second.created]) == [False, True]
    assert (await declare("trigger-2")).key == "INC-2"
    assert [i.key for i in await incidents_in_db(stack)] == ["INC-1", "INC-2"]


async def test_a_request_stored_behind_the_writers_back_is_refused_whole(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the dedup key be stored anyway after this writer looked, the claim stops it: DuplicateRequest,
    and nothing of the second declaration is kept."""
    where, playbook = stack.rt.workspace(), stack.rt.playbooks["payment-failure"]
    async with stack.rt.sessions() as session:
        assert (await incidents.declare(session, _request(stack, "trigger-1"), where, playbook)).key == "INC-1"

    async def stale(executor: object, keys: list[str]) -> dict[str, object]:  # as if the key were not stored yet
        return {}

    monkeypatch.setattr(incidents, "_earlier", stale)
    async with stack.rt.sessions() as session:
        with pytest.raises(DuplicateRequest):
            await incidents.declare(session, _request(stack, "trigger-1"), where, playbook)
    [incident] = await incidents_in_db(stack)
    assert await timeline_kinds(stack, incident.id) == ["declared"]


async def _in_one_batch(stack: LocalStack, requests: list[DeclareRequest]) -> list[incidents.Declared]:
    """The requests submitted together, as a storm's are: the runtime writes them in one transaction."""
    return list(await asyncio.gather(*(stack.rt.declarations.submit(r) for r in requests)))


async def _through_a_session(stack: LocalStack, requests: list[DeclareRequest]) -> list[incidents.Declared]:
    """The same batch through declare_many with a session (alerts declare this way, inside their transaction)."""
    async with stack.rt.sessions() as session:
        answers = await incidents.declare_many(OnSession(session), requests, stack.rt.workspace())
        await session.commit()
        return answers


@pytest.mark.parametrize("write", [_in_one_batch, _through_a_session], ids=["runtime", "session"])
async def test_a_batch_answers_its_repeats_and_records_who_took_command(stack: LocalStack, write) -> None:
    """Both writers agree: an earlier request and a repeat inside the batch get the first incident
    (created=False); a declarer who took command holds it from the first instant, on the timeline too."""
    alice = stack.users["zhang.wei"]
    [first] = await write(stack, [_request(stack, "trigger-1")])
    commanding = replace(_request(stack, "trigger-2"), declarer_is_commander=True)
    answers = await write(stack, [_request(stack, "trigger-1"), commanding, _request(stack, "trigger-2")])
    assert [(a.key, a.created) for a in answers] == [("INC-1", False), ("INC-2", True), ("INC-2", False)]
    assert answers[0] == replace(first, created=False)
    assert [i.key for i in await incidents_in_db(stack)] == ["INC-1", "INC-2"]
    async with stack.rt.sessions() as session:
        held = (await session.exec(select(RoleAssignment).where(RoleAssignment.incident_id == answers[1].id))).all()
        [event] = (await session.exec(select(TimelineEvent).where(
            TimelineEvent.incident_id == answers[1].id, TimelineEvent.kind == "role_assigned"))).all()
    assert [(r.role, r.user_id, r.assigned_by, r.ended_at) for r in held] == [("commander", alice, alice, None)]
    assert event.text == f"commander: <@{alice}>" and event.data == {"role": "commander", "user": alice, "previous": None}
    assert await timeline_kinds(stack, answers[1].id) == ["declared", "role_assigned"]
    assert await timeline_kinds(stack, first.id) == ["declared"]


async def test_a_storm_request_stored_behind_the_writers_back_is_refused_alone(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runtime's writer (one trip on SQLite) refuses a taken dedup key as the session's does; the
    batch is rolled back whole and retried one by one, so only the repeat is refused."""
    [first] = await _in_one_batch(stack, [_request(stack, "trigger-1")])
    async def stale(executor: object, keys: list[str]) -> dict[str, object]:  # as if the key were not stored yet
        return {}

    monkeypatch.setattr(incidents, "_earlier", stale)
    innocent, repeat = await asyncio.gather(
        *(stack.rt.declarations.submit(_request(stack, key)) for key in ("trigger-2", "trigger-1")),
        return_exceptions=True)
    assert isinstance(repeat, DuplicateRequest)
    assert isinstance(innocent, incidents.Declared) and innocent.created
    assert [i.key for i in await incidents_in_db(stack)] == ["INC-1", innocent.key]
    if stack.rt.engine.dialect.name == "sqlite":  # (a PostgreSQL sequence never takes back what it gave)
        assert innocent.key == "INC-2"
    assert await timeline_kinds(stack, first.id) == ["declared"]


async def test_a_connection_returned_inside_a_transaction_is_rolled_back(stack: LocalStack) -> None:
    """The SQLite pool no longer rolls back every returned connection; one given back inside a transaction
    its session never knew of (begun on the driver, as the one-trip writer does) still is, so its writes
    vanish and the next writer is not refused (no transaction within a transaction)."""
    if stack.rt.engine.dialect.name != "sqlite":
        pytest.skip("the reset hook is SQLite's")
    [first] = await _in_one_batch(stack, [_request(stack, "trigger-1")])
    async with stack.rt.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        await driver.execute("BEGIN IMMEDIATE")
        await driver.execute("INSERT INTO timelineevent (incident_id, at, actor, kind, text, data) "
                             "VALUES (?, '2026-11-28 00:00:00', 'U1', 'note', 'never committed', '{}')", (first.id,))
    [second] = await _in_one_batch(stack, [_request(stack, "trigger-2")])
    assert second.key == "INC-2"
    assert await timeline_kinds(stack, first.id) == ["declared"]
