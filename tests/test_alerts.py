"""Alerts from monitoring: Alertmanager and simple JSON webhooks open incidents, once per key."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.alerts.payloads import AlertError, map_labels, parse_alertmanager, parse_simple
from bot.config import AlertConfig, AlertRule
from bot.models import Incident, SlackOp, TimelineEvent
from tests.helpers import (
    GROUP,
    StackFactory,
    am_alert,
    am_payload,
    events,
    in_channel,
    incidents_in_db,
    post,
    timeline_kinds,
)
from yingji.local import LocalStack

RULES = {"alerts": {"rules": [{"match": {"team": "payments"}, "playbook": "payment-failure", "severity": "sev1"}]}}
KNOWN = ("site-outage", "payment-failure", "traffic-surge")


async def count(stack: LocalStack, model: Any) -> int:
    """Rows in a table."""
    async with stack.rt.sessions() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


# --- units: parsing and mapping ------------------------------------------------------------------------


def test_mapping_rules_then_severity_label_then_defaults() -> None:
    config = AlertConfig(rules=[AlertRule(match={"team": "payments", "env": "prod"}, playbook="payment-failure",
                                          severity="sev1"),
                                AlertRule(match={"team": "web"}, playbook="no-such-playbook", severity="sev2")],
                         default_playbook="site-outage", default_severity="sev3")
    assert map_labels({"team": "payments", "env": "prod"}, config, KNOWN).playbook == "payment-failure"
    assert map_labels({"team": "payments", "env": "prod"}, config, KNOWN).severity == "sev1"
    partial = map_labels({"team": "payments", "severity": "critical"}, config, KNOWN)
    assert (partial.playbook, partial.severity) == ("site-outage", "sev1")
    fallback = map_labels({"team": "web"}, config, KNOWN)
    assert (fallback.playbook, fallback.severity) == ("site-outage", "sev2") and "no-such-playbook" in fallback.note
    for word, sev in (("2", "sev2"), ("SEV4", "sev4"), ("major", "sev2"), ("warning", "sev3"), ("low", "sev4")):
        assert map_labels({"severity": word}, config, KNOWN).severity == sev
    assert map_labels({"severity": "whatever"}, config, KNOWN).severity == "sev3"


@pytest.mark.parametrize("body, reason", [
    ({"version": "4", "groupKey": "g", "status": "firing"}, "alerts: required"),
    ({**am_payload(), "alerts": []}, "alerts: expected at least one alert"),
    (am_payload(am_alert(starts="yesterday")), "alerts[0].startsAt: expected an ISO 8601 time"),
    (am_payload(am_alert(starts="2024-05-01T02:00:00")), "alerts[0].startsAt: expected a time with a timezone"),
    ({**am_payload(), "version": "3"}, "version:"),
    ([1, 2], "body: expected an object"),
])
def test_alertmanager_errors_name_the_field(body: Any, reason: str) -> None:
    with pytest.raises(AlertError) as exc:
        parse_alertmanager(body)
    assert str(exc.value).startswith(reason), str(exc.value)


def test_simple_severity_forms() -> None:
    assert parse_simple({"title": "t", "dedup_key": "k", "severity": 2}).severity == "sev2"
    assert parse_simple({"title": "t", "dedup_key": "k", "severity": "SEV1"}).severity == "sev1"
    with pytest.raises(AlertError, match=r"^severity: expected sev1..sev4 or 1..4$"):
        parse_simple({"title": "t", "dedup_key": "k", "severity": "sev9"})
    with pytest.raises(AlertError, match="dedup_key: required"):
        parse_simple({"title": "t"})


# --- end to end ----------------------------------------------------------------------------------------


async def test_token_is_required(make_stack: StackFactory) -> None:
    stack = await make_stack()
    assert (await post(stack, "/hooks/alertmanager", am_payload(), token=None))[0] == 401
    status, body = await post(stack, "/hooks/alert", {"title": "x", "dedup_key": "y"}, token="wrong")
    assert status == 401 and body["error"] == "missing or wrong bearer token"
    unset = await make_stack(alert_token=None)
    status, body = await post(unset, "/hooks/alertmanager", am_payload(), token="anything")
    assert (status, body["error"]) == (401, "ALERT_WEBHOOK_TOKEN is not set")
    assert await incidents_in_db(stack) == [] and await incidents_in_db(unset) == []


async def test_firing_opens_mapped_incident_then_repeats_join_it(make_stack: StackFactory) -> None:
    stack = await make_stack(config=RULES)
    sb = stack.sandbox
    status, body = await post(stack, "/hooks/alertmanager", am_payload(am_alert(labels={"team": "payments"})))
    assert status == 200 and body == {"incidents": ["INC-1"], "added": 1, "opened": 1, "resolved": 0}
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    assert (incident.playbook, incident.severity, incident.declared_by) == ("payment-failure", "sev1", "yingji")
    assert incident.title == "Checkout 5xx above 5%" and incident.alert_key == f"am:{GROUP}"
    assert incident.impact_started_at == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    assert incident.channel_id and sb.channels[incident.channel_id].name.startswith("inc-1-")
    assert sb.messages(incident.channel_id)  # header posted
    kinds = await timeline_kinds(stack, incident.id)
    assert kinds[0] == "declared" and kinds.count("alert_firing") == 1

    # The same notification again (Alertmanager's repeat): nothing new.
    status, body = await post(stack, "/hooks/alertmanager", am_payload(am_alert(labels={"team": "payments"})))
    assert (status, body) == (200, {"incidents": ["INC-1"], "added": 0, "opened": 0, "resolved": 0})
    # Another alert in the same group: the same incident, one more event.
    status, body = await post(stack, "/hooks/alertmanager", am_payload(
        am_alert(labels={"team": "payments"}), am_alert(fp="b2", starts="2024-05-01T02:05:00Z", summary=None,
                                                        labels={"team": "payments", "instance": "web-2"})))
    assert body == {"incidents": ["INC-1"], "added": 1, "opened": 0, "resolved": 0}
    await stack.settle()
    assert len(await incidents_in_db(stack)) == 1
    firing = await events(stack, incident.id, "alert_firing")
    assert len(firing) == 2 and firing[1].text.startswith("CheckoutErrors (checkout, web-2)")


async def test_resolved_records_and_suggests_without_resolving(stack: LocalStack) -> None:
    sb = stack.sandbox
    await post(stack, "/hooks/alertmanager", am_payload())
    await stack.settle()
    status, body = await post(stack, "/hooks/alertmanager", am_payload(am_alert("resolved")))
    assert (status, body) == (200, {"incidents": ["INC-1"], "added": 0, "opened": 0, "resolved": 1})
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    assert incident.status == "investigating"
    assert len(await events(stack, incident.id, "alert_resolved")) == 1
    texts = [str(m.get("text")) for m in sb.messages(incident.channel_id)]
    [suggestion] = [t for t in texts if ":white_check_mark:" in t]
    assert "告警「Checkout 5xx above 5%」已恢复" in suggestion and "/incident resolve" in suggestion
    # Alertmanager sends the resolved notification again: recorded and suggested once only.
    await post(stack, "/hooks/alertmanager", am_payload(am_alert("resolved")))
    await stack.settle()
    assert len(await events(stack, incident.id, "alert_resolved")) == 1
    assert sum(":white_check_mark:" in str(m.get("text")) for m in sb.messages(incident.channel_id)) == 1


async def test_a_refire_is_said_in_the_channel_once_per_quiet_spell(stack: LocalStack) -> None:
    """After the "resolved" suggestion, alerts firing again are said in the channel; a storm of re-fires is one
    message (per five minutes), not one per notification."""
    sb = stack.sandbox
    await post(stack, "/hooks/alertmanager", am_payload())
    await stack.settle()
    await post(stack, "/hooks/alertmanager", am_payload(am_alert("resolved")))
    await stack.settle()
    for n in range(4):  # the same alert fires again (a new start), then more of its kind join
        await post(stack, "/hooks/alertmanager", am_payload(am_alert(fp=f"b{n}", starts=f"2024-05-01T03:0{n}:00Z")))
        await stack.settle()
    [incident] = await incidents_in_db(stack)
    texts = [str(m.get("text")) for m in sb.messages(incident.channel_id)]
    refires = [t for t in texts if "再次触发" in t]
    assert len(refires) == 1 and "新增 1 条" in refires[0], texts
    assert texts.index(refires[0]) > next(i for i, t in enumerate(texts) if ":white_check_mark:" in t)  # the last word
    await post(stack, "/hooks/alertmanager", am_payload(am_alert("resolved", fp="b3", starts="2024-05-01T03:03:00Z")))
    await stack.settle()
    await post(stack, "/hooks/alertmanager", am_payload(am_alert(fp="c1", starts="2024-05-01T04:00:00Z")))
    await stack.settle()
    assert sum("再次触发" in str(m.get("text")) for m in sb.messages(incident.channel_id)) == 2  # after a new all-clear


async def test_resolved_without_incident_is_ignored(stack: LocalStack) -> None:
    status, body = await post(stack, "/hooks/alertmanager", am_payload(am_alert("resolved")))
    assert status == 200 and body["incidents"] == [] and "ignored" in body
    for model in (Incident, TimelineEvent, SlackOp):
        assert await count(stack, model) == 0


async def test_grouped_alerts_open_one_incident(stack: LocalStack) -> None:
    payload = am_payload(
        am_alert(fp="a1", starts="2024-05-01T02:03:00Z", labels={"instance": "web-1"}, summary=None),
        am_alert(fp="a2", starts="2024-05-01T02:01:00Z", labels={"instance": "web-2", "severity": "critical"},
                 summary=None),
        am_alert(fp="a3", starts="2024-05-01T02:02:00Z", labels={"instance": "web-3"}, summary=None),
    )
    _status, body = await post(stack, "/hooks/alertmanager", payload)
    assert body == {"incidents": ["INC-1"], "added": 3, "opened": 1, "resolved": 0}
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    assert incident.severity == "sev1" and incident.playbook == "site-outage"  # the highest level in the group
    assert incident.title == "CheckoutErrors"
    assert incident.impact_started_at == datetime(2024, 5, 1, 2, 1, tzinfo=UTC)
    assert len(await events(stack, incident.id, "alert_firing")) == 3


@pytest.mark.parametrize("path, body, reason", [
    ("/hooks/alertmanager", b"{not json", "body is not JSON"),
    ("/hooks/alertmanager", {"version": "4", "groupKey": "g", "status": "firing"}, "alerts: required"),
    ("/hooks/alertmanager", am_payload(am_alert(), am_alert(fp="b", starts="soon")), "alerts[1].startsAt:"),
    ("/hooks/alert", {"title": "Coupon API 5xx", "dedup_key": "coupon", "severity": "urgent"}, "severity:"),
    ("/hooks/alert", {"title": "Coupon API 5xx"}, "dedup_key: required"),
])
async def test_malformed_payloads_write_nothing(stack: LocalStack, path: str, body: Any, reason: str) -> None:
    status, answer = await post(stack, path, body)
    assert status == 400 and answer["error"].startswith(reason), answer
    for model in (Incident, TimelineEvent, SlackOp):
        assert await count(stack, model) == 0


async def test_storm_of_one_group_opens_one_incident(stack: LocalStack) -> None:
    sb = stack.sandbox
    channels_before = len(sb.channels)
    payloads = [am_payload(am_alert(fp=f"f{n % 20}", labels={"instance": f"web-{n % 20}"})) for n in range(200)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as http:
        answers = await asyncio.gather(*(post(stack, "/hooks/alertmanager", p, http=http) for p in payloads))
    assert all(status == 200 for status, _ in answers)
    assert sum(body["opened"] for _, body in answers) == 1
    assert sum(body["added"] for _, body in answers) == 20
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    assert {tuple(body["incidents"]) for _, body in answers} == {(incident.key,)}
    assert len(sb.channels) == channels_before + 1
    assert len(await events(stack, incident.id, "alert_firing")) == 20


async def test_simple_json(stack: LocalStack) -> None:
    body = {"title": "优惠券接口 5xx", "severity": 2, "playbook": "coupon-campaign-failure", "source": "grafana",
            "dedup_key": "coupon-api", "summary": "券核销失败率 30%", "started_at": "2024-05-01T10:00:00+08:00"}
    status, answer = await post(stack, "/hooks/alert", body)
    assert (status, answer) == (200, {"incidents": ["INC-1"], "added": 1, "opened": 1, "resolved": 0})
    status, answer = await post(stack, "/hooks/alert", body)
    assert answer == {"incidents": ["INC-1"], "added": 0, "opened": 0, "resolved": 0}
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    assert (incident.title, incident.severity, incident.playbook) == ("优惠券接口 5xx", "sev2", "coupon-campaign-failure")
    assert incident.summary == "券核销失败率 30%" and incident.alert_key == "alert:coupon-api"
    assert incident.impact_started_at == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    unknown = {"title": "Search slow", "dedup_key": "search", "playbook": "nope"}
    status, answer = await post(stack, "/hooks/alert", unknown)
    assert answer["incidents"] == ["INC-2"] and "nope" in answer["warnings"][0]
    await stack.settle()
    second = (await incidents_in_db(stack))[-1]
    assert (second.playbook, second.severity) == ("site-outage", "sev3")
    [event] = await events(stack, second.id, "alert_firing")
    assert "nope" in event.text
    status, answer = await post(stack, "/hooks/alert", {**body, "status": "resolved"})
    assert answer == {"incidents": ["INC-1"], "added": 0, "opened": 0, "resolved": 1}
    await stack.settle()


async def test_alert_after_resolve_opens_a_new_incident(stack: LocalStack) -> None:
    await post(stack, "/hooks/alertmanager", am_payload())
    await stack.settle()
    [first] = await incidents_in_db(stack)
    await in_channel(stack, first, f"role commander <@{stack.users['zhang.wei']}>")
    await in_channel(stack, first, "resolve 回滚后恢复")
    assert (await incidents_in_db(stack))[0].status == "resolved"
    _status, body = await post(stack, "/hooks/alertmanager", am_payload(am_alert(starts="2024-05-01T05:00:00Z")))
    assert body == {"incidents": ["INC-2"], "added": 1, "opened": 1, "resolved": 0}
    await stack.settle()
    first, second = await incidents_in_db(stack)
    assert first.status == "resolved" and second.status == "investigating" and second.alert_key == first.alert_key
    assert second.channel_id and second.channel_id != first.channel_id
    # The same still-firing alert again joins the new incident, not the resolved one.
    _, body = await post(stack, "/hooks/alertmanager", am_payload(am_alert(starts="2024-05-01T05:00:00Z")))
    assert body["incidents"] == ["INC-2"] and body["added"] == 0


async def test_two_processes_on_one_database_open_one_incident(make_stack: StackFactory, tmp_path: Any) -> None:
    first = await make_stack()
    second = await LocalStack.start(tmp_path / "second", sandbox=first.sandbox,
                                    database_url=first.rt.settings.database_url)
    try:
        payload = am_payload(group='{}:{alertname="PaymentsDown"}')
        async with aiohttp.ClientSession() as http:
            answers = await asyncio.gather(*(post(stack, "/hooks/alertmanager", payload, http=http)
                                             for _ in range(30) for stack in (first, second)))
        assert sum(body["opened"] for _, body in answers) == 1 and sum(body["added"] for _, body in answers) == 1
        await first.settle()
        await second.settle()
        [incident] = await incidents_in_db(first)
        assert {tuple(body["incidents"]) for _, body in answers} == {(incident.key,)}
    finally:
        await second.stop(keep_sandbox=True)


async def test_losing_the_claim_race_rereads_and_joins(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import deliveries
    from bot.alerts import payloads, store

    await post(stack, "/hooks/alertmanager", am_payload())
    real_seen, calls = deliveries.seen, []

    async def stale_seen(session: Any, key: str) -> Any:  # as if another writer claimed after this one read
        calls.append(key)
        return None if len(calls) == 1 else await real_seen(session, key)

    monkeypatch.setattr(deliveries, "seen", stale_seen)
    batch = payloads.from_alertmanager(parse_alertmanager(am_payload(am_alert(fp="z9"))), AlertConfig(), KNOWN)
    result = await store.ingest(stack.rt.sessions, stack.rt, batch)
    assert (result.incident_key, result.opened, result.added) == ("INC-1", False, 1) and len(calls) == 2
    await stack.settle()
    assert len(await incidents_in_db(stack)) == 1
