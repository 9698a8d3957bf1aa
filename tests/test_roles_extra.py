"""Roles beyond the core five: the optional built-in `ops` and `finance`, and roles a deployment adds in yingji.yaml.

An incident has the core five, then the roles its playbook lists, then those yingji.yaml gives a holder for it
(bot/roles.py); `/incident role` gives exactly those, and anything else is refused with that list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlmodel import select

from bot.config import ConfigError, load_settings
from bot.i18n import t
from bot.models import Incident, RoleAssignment, Step
from bot.playbooks import SHIPPED_DIR, load_playbooks
from bot.slack.blocks import header_blocks
from bot.vocabulary import CORE_ROLES, Role
from tests.helpers import StackFactory, declare, events, in_channel, timeline_kinds
from yingji.local import LocalStack

ENV = {"SLACK_BOT_TOKEN": "xoxb-1-secretvalue", "SLACK_SIGNING_SECRET": "signing-secretvalue"}
CORE_NAMES = {"*应急指挥*", "*技术支持*", "*信息发布*", "*法务*", "*客服*"}
WAREHOUSE = {"id": "warehouse", "name": {"zh": "仓储主管", "en": "Warehouse lead"}}


async def _holders(stack: LocalStack, incident: Incident) -> dict[str, str]:
    async with stack.rt.sessions() as session:
        rows = await session.exec(select(RoleAssignment).where(
            RoleAssignment.incident_id == incident.id, RoleAssignment.ended_at.is_(None)))  # type: ignore[union-attr]
        return {row.role: row.user_id for row in rows.all()}


def _role_fields(stack: LocalStack, incident: Incident) -> dict[str, str]:
    """The header's roles: each role's name → what it shows for the holder (every roles section, in order)."""
    [header] = [m for m in stack.sandbox.messages(incident.channel_id) if m["ts"] == incident.header_ts]
    sections = [b for b in header["blocks"] if str(b.get("block_id", "")).startswith("header-roles")]
    return dict(field["text"].split("\n", 1) for section in sections for field in section["fields"])


async def _nothing_changed(stack: LocalStack, incident: Incident, before: dict[str, str], kinds: list[str]) -> None:
    await stack.settle()
    assert await _holders(stack, incident) == before
    assert await timeline_kinds(stack, incident.id or 0) == kinds


async def test_ops_is_given_like_the_five(stack: LocalStack) -> None:
    """`/incident role ops @x` on a playbook that has ops: timeline, DM brief with the duty, header edited in place,
    and the handover rules of the five."""
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack, "declare sev3 logistics-disruption 某快递华东线路停运")
    assert _role_fields(stack, incident)["*仓储物流*"] == "待指定"
    posted = len(sb.messages(incident.channel_id))
    reply = await in_channel(stack, incident, f"role ops <@{u['li.na']}>")
    assert "仓储物流" in reply.text and f"<@{u['li.na']}>" in reply.text
    assert await _holders(stack, incident) == {"ops": u["li.na"]}
    [given] = await events(stack, incident.id or 0, "role_assigned")
    assert given.data == {"role": "ops", "user": u["li.na"], "previous": None} and given.at.tzinfo is not None
    assert u["li.na"] in sb.channels[incident.channel_id].members
    [brief] = sb.dms(u["li.na"])
    assert "仓储物流" in brief["text"] and "承运商" in brief["text"]  # the playbook's ops duty
    assert _role_fields(stack, incident)["*仓储物流*"] == f"<@{u['li.na']}>"
    assert len(sb.messages(incident.channel_id)) == posted  # the header was edited, nothing new posted
    checklist = str(sb.messages(incident.channel_id))
    assert "仓储物流" in checklist  # the ops steps name their owner
    # A bystander may not take a held ops role; the holder hands it over and is told who took over.
    refused = await in_channel(stack, incident, f"role ops <@{u['liu.yang']}>", user="wang.fang")
    assert "只有本人或应急指挥" in refused.text and "仓储物流" in refused.text
    assert (await _holders(stack, incident))["ops"] == u["li.na"]
    await in_channel(stack, incident, f"role ops <@{u['liu.yang']}>", user="li.na")
    assert (await _holders(stack, incident))["ops"] == u["liu.yang"]
    assert any("接任" in m["text"] and f"<@{u['liu.yang']}>" in m["text"] for m in sb.dms(u["li.na"]))
    assert _role_fields(stack, incident)["*仓储物流*"] == f"<@{u['liu.yang']}>"
    listed = (await in_channel(stack, incident, "roles")).text
    assert "仓储物流" in listed and f"<@{u['liu.yang']}>" in listed and "财务" not in listed


async def test_finance_is_given_on_payment_failure(stack: LocalStack) -> None:
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack)  # payment-failure
    reply = await in_channel(stack, incident, f"role finance <@{u['chen.jie']}>")
    assert "财务" in reply.text and f"<@{u['chen.jie']}>" in reply.text
    assert await _holders(stack, incident) == {"finance": u["chen.jie"]}
    [brief] = sb.dms(u["chen.jie"])
    assert "财务" in brief["text"] and "支付机构" in brief["text"]
    fields = _role_fields(stack, incident)
    assert set(fields) == CORE_NAMES | {"*财务*"} and fields["*财务*"] == f"<@{u['chen.jie']}>"
    # The step moved from the commander to finance is finance's, and the checklist names its holder.
    async with stack.rt.sessions() as session:
        step = (await session.exec(select(Step).where(Step.incident_id == incident.id,
                                                      Step.step_key == "contact-provider"))).one()
    assert step.owner_role == "finance"
    assert f"<@{u['chen.jie']}>" in str(sb.messages(incident.channel_id))


async def test_a_role_not_of_this_incident_is_refused_with_its_roles(stack: LocalStack) -> None:
    u = stack.users
    incident = await declare(stack, "declare sev2 site-outage 首页打不开")  # no ops, no finance
    await in_channel(stack, incident, f"role tech <@{u['chen.jie']}>")
    before, kinds = await _holders(stack, incident), await timeline_kinds(stack, incident.id or 0)
    for text in (f"role ops <@{u['li.na']}>", f"role finance <@{u['li.na']}>", f"role janitor <@{u['li.na']}>",
                 f"role FINANCE <@{u['li.na']}>"):
        reply = await in_channel(stack, incident, text)
        assert "没有" in reply.text and "没有做任何更改" in reply.text, reply.text
        listed = reply.text.split("本事件的角色：", 1)[1]
        assert listed == ", ".join(f"`{r}` ({t(f'role.{r}', 'zh')})" for r in CORE_ROLES)
        await _nothing_changed(stack, incident, before, kinds)
    # Markup in the role word is shown as text, never as a mention.
    reply = await in_channel(stack, incident, f"role <!channel> <@{u['li.na']}>")
    assert "<!channel>" not in reply.text
    await _nothing_changed(stack, incident, before, kinds)
    # The Assign roles form lists this incident's roles; a forged field for another role changes nothing.
    await stack.actor.block_action(u["zhang.wei"], "open_assign_roles", channel_id=incident.channel_id,
                                   message_ts=incident.header_ts)
    await stack.settle()
    [(view_id, view)] = [(k, v) for k, v in stack.sandbox.views.items() if v.get("callback_id") == "assign_roles_form"]
    assert [b["block_id"] for b in view["blocks"]] == list(CORE_ROLES)
    kinds = await timeline_kinds(stack, incident.id or 0)
    submitted = await stack.actor.submit_view(view_id, u["zhang.wei"], values={
        "support": {"user": u["liu.yang"]}, "finance": {"user": u["li.na"]}})
    assert submitted.json["response_action"] == "errors" and "finance" in str(submitted.json["errors"])
    await _nothing_changed(stack, incident, before, kinds)


async def test_a_role_of_another_playbook_is_refused_and_the_list_names_this_ones(stack: LocalStack) -> None:
    u = stack.users
    incident = await declare(stack, "declare sev3 logistics-disruption 某快递华东线路停运")
    reply = await in_channel(stack, incident, f"role finance <@{u['li.na']}>")
    assert reply.text.split("本事件的角色：", 1)[1].endswith("`support` (客服), `ops` (仓储物流)")
    await _nothing_changed(stack, incident, {}, await timeline_kinds(stack, incident.id or 0))


async def test_the_form_gives_ops(stack: LocalStack) -> None:
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack, "declare sev3 inventory-anomaly 多个 SKU 超卖")
    await stack.actor.block_action(u["zhang.wei"], "open_assign_roles", channel_id=incident.channel_id,
                                   message_ts=incident.header_ts)
    await stack.settle()
    [(view_id, view)] = [(k, v) for k, v in sb.views.items() if v.get("callback_id") == "assign_roles_form"]
    assert [b["block_id"] for b in view["blocks"]] == [*CORE_ROLES, "ops"]
    assert next(b for b in view["blocks"] if b["block_id"] == "ops")["label"]["text"] == "仓储物流"
    submitted = await stack.actor.submit_view(view_id, u["zhang.wei"], values={"ops": {"user": u["liu.yang"]}})
    assert submitted.status == 200 and not (submitted.json or {}).get("errors")
    await stack.settle()
    assert await _holders(stack, incident) == {"ops": u["liu.yang"]}
    assert _role_fields(stack, incident)["*仓储物流*"] == f"<@{u['liu.yang']}>"


async def test_the_header_shows_every_role_of_the_incidents_playbook(stack: LocalStack) -> None:
    """Every shipped playbook: the core five, then the playbook's own extra roles, each by its name."""
    playbooks = load_playbooks([SHIPPED_DIR])
    for slug, playbook in playbooks.items():
        incident = await declare(stack, f"declare sev3 {slug} 演示 {slug}")
        extra = [r for r in Role if r in playbook.roles and r not in CORE_ROLES]
        wanted = CORE_NAMES | {f"*{t(f'role.{r}', 'zh')}*" for r in extra}
        fields = _role_fields(stack, incident)
        assert set(fields) == wanted and set(fields.values()) == {"待指定"}, slug
        assert list(fields)[:5] == ["*应急指挥*", "*技术支持*", "*信息发布*", "*法务*", "*客服*"], slug
    with_ops = {s for s, p in playbooks.items() if "ops" in p.roles}
    with_finance = {s for s, p in playbooks.items() if "finance" in p.roles}
    assert with_ops == {"logistics-disruption", "inventory-anomaly", "supply-chain-interruption", "natural-disaster",
                        "product-safety-recall", "mispriced-orders", "warehouse-fire", "epidemic"}
    assert with_finance == {"after-sales-surge", "coupon-campaign-failure", "payment-failure", "order-anomaly",
                            "product-safety-recall", "mispriced-orders", "fraud-scam"}


def _warehouse_playbooks(directory: Path) -> Path:
    """The deployment's own copy of site-outage, with its warehouse role and a step for it."""
    directory.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = yaml.safe_load((SHIPPED_DIR / "site-outage.yaml").read_text(encoding="utf-8"))
    data["roles"] = [*data["roles"], "warehouse"]
    data["duties"]["warehouse"] = {"zh": "核对仓库积压的待发订单，安排加班出库。", "en": "Checks the warehouse backlog and adds shifts."}
    data["steps"][-2]["owner"] = "warehouse"
    (directory / "site-outage.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return directory


async def test_a_deployment_role_is_assignable_and_shown_by_its_configured_name(make_stack: StackFactory,
                                                                                 tmp_path: Path) -> None:
    directory = _warehouse_playbooks(tmp_path / "pb")
    stack = await make_stack(config={"roles": [WAREHOUSE], "playbooks_dir": str(directory)})
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack, "declare sev2 site-outage 首页打不开")
    assert _role_fields(stack, incident)["*仓储主管*"] == "待指定"
    reply = await in_channel(stack, incident, f"role warehouse <@{u['li.na']}>")
    assert "仓储主管" in reply.text
    assert await _holders(stack, incident) == {"warehouse": u["li.na"]}
    assert _role_fields(stack, incident)["*仓储主管*"] == f"<@{u['li.na']}>"
    [brief] = sb.dms(u["li.na"])
    assert "仓储主管" in brief["text"] and "加班出库" in brief["text"]
    assert "role_assigned" in await timeline_kinds(stack, incident.id or 0)
    assert "仓储主管" in (await in_channel(stack, incident, "roles")).text
    # Another playbook does not list it: refused there, with that incident's roles.
    other = await declare(stack)
    refused = await in_channel(stack, other, f"role warehouse <@{u['li.na']}>")
    assert "没有做任何更改" in refused.text and "`finance` (财务)" in refused.text and "仓储主管" not in refused.text
    assert await _holders(stack, other) == {}


async def test_a_deployment_role_in_english_and_given_by_default(make_stack: StackFactory) -> None:
    """yingji.yaml's default holder is the deployment asking for the role: it is the incident's, on any playbook."""
    stack = await make_stack(config=lambda users: {
        "language": "en", "roles": [WAREHOUSE],
        "default_roles": {"warehouse": users["li.na"]},
        "playbook_roles": {"site-outage": {"finance": users["chen.jie"]}}})
    u = stack.users
    incident = await declare(stack, "declare sev2 site-outage Home page down")
    assert await _holders(stack, incident) == {"warehouse": u["li.na"], "finance": u["chen.jie"]}
    fields = _role_fields(stack, incident)
    assert list(fields)[5:] == ["*Finance*", "*Warehouse lead*"]
    assert fields["*Warehouse lead*"] == f"<@{u['li.na']}>" and fields["*Finance*"] == f"<@{u['chen.jie']}>"
    refused = await in_channel(stack, incident, f"role warehouse <@{u['liu.yang']}>", user="wang.fang")
    assert "Warehouse lead" in refused.text  # only the holder or the commander hands it over
    assert (await _holders(stack, incident))["warehouse"] == u["li.na"]
    await in_channel(stack, incident, f"role warehouse <@{u['liu.yang']}>", user="li.na")
    assert (await _holders(stack, incident))["warehouse"] == u["liu.yang"]
    assert _role_fields(stack, incident)["*Warehouse lead*"] == f"<@{u['liu.yang']}>"
    # Another playbook gets the global default only (playbook_roles named site-outage).
    other = await declare(stack, "declare sev2 traffic-surge Flash sale queue")
    assert list(_role_fields(stack, other))[5:] == ["*Warehouse lead*"]


@pytest.mark.parametrize(("roles_yaml", "named"), [
    ("roles: [{id: ops, name: {zh: 运营, en: Ops}}]\n", "roles.0.id"),
    ("roles: [{id: commander, name: {zh: 指挥, en: Lead}}]\n", "built-in role"),
    ("roles: [{id: Warehouse, name: {zh: 仓储, en: Warehouse}}]\n", "roles.0.id"),
    ("roles: [{id: 'ware house', name: {zh: 仓储, en: Warehouse}}]\n", "roles.0.id"),
    ("roles: [{id: warehouse, name: {zh: 仓储}}]\n", "roles.0.name.en"),
    ("roles: [{id: warehouse, name: {zh: 仓储, en: W}}, {id: warehouse, name: {zh: 仓, en: X}}]\n", "more than once"),
    ("default_roles: {warehouse: U1}\n", "default_roles.warehouse"),
    ("playbook_roles: {site-outage: {janitor: U1}}\n", "playbook_roles.site-outage.janitor"),
])
def test_a_bad_deployment_role_is_refused_with_a_clear_error(tmp_path: Path, roles_yaml: str, named: str) -> None:
    path = tmp_path / "yingji.yaml"
    path.write_text(roles_yaml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings({**ENV, "YINGJI_CONFIG": str(path)})
    assert named in str(caught.value) and str(path) in str(caught.value)


def test_a_clash_with_a_built_in_role_says_which_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "yingji.yaml"
    path.write_text("roles: [{id: finance, name: {zh: 财务部, en: Finance team}}]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings({**ENV, "YINGJI_CONFIG": str(path)})
    assert "'finance' is a built-in role" in str(caught.value) and "another id" in str(caught.value)


async def test_a_playbook_using_a_role_the_deployment_does_not_have_stops_start_up(make_stack: StackFactory,
                                                                                    tmp_path: Path) -> None:
    directory = _warehouse_playbooks(tmp_path / "pb")
    with pytest.raises(ConfigError, match=r"site-outage.yaml: roles.5: expected one of the known roles: .*finance \(got .warehouse.\)"):
        await make_stack(config={"playbooks_dir": str(directory)})  # no `roles:` adding warehouse


def test_the_header_keeps_ten_roles_to_a_section() -> None:
    """Slack allows ten fields in a section: thirteen roles take two, `header-roles` and `header-roles-2`."""
    incident = Incident(id=1, key="INC-1", title="x", severity="sev2", playbook="p", declared_by="U1",
                        declared_at=datetime.now(UTC), channel_id="C1")
    names = [*Role, *(f"extra-{n}" for n in range(6))]
    blocks = [b.to_dict() for b in header_blocks(incident, {"ops": "U2"}, "p", ZoneInfo("UTC"), names)]
    sections = [b for b in blocks if str(b.get("block_id", "")).startswith("header-roles")]
    assert [b["block_id"] for b in sections] == ["header-roles", "header-roles-2"]
    assert [len(b["fields"]) for b in sections] == [10, 3]
    assert "*仓储物流*\n<@U2>" in [f["text"] for f in sections[0]["fields"]]
