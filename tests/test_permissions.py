"""Who may do what: every privileged action against every kind of person, exactly as DESIGN.md and the README say.

The rules (DESIGN.md "Statements", README "Roles", "The lifecycle", "One public statement"):
- a held role is handed over only by its holder or the commander;
- only the commander (or a configured incident manager) resolves, closes (a drill too) and lowers severity;
- an approval counts only from the `comms` holder or a `comms_approvers` member, and for `legal_review`
  playbooks a `legal` approval from the `legal` holder or a `legal_approvers` member; never the drafter's;
- recording where an approved statement went out (Mark published) is comms's work: the `comms` holder or
  a `comms_approvers` member;
- every refusal is a `refused` event on the timeline, with the person who was refused as its actor.

The cast, the same in every incident: 张伟 commander, 陈杰 tech, 王芳 comms, 李娜 legal (default roles);
赵敏 a comms approver and 孙丽 a legal approver (yingji.yaml), neither holding a role; 刘洋 a plain channel
member; Guest outside the channel (acts from #general with the incident's key); 周琦 drafts the
statements and receives handovers. "holder" is the holder of the role the action is about (tech for a
handover, comms for a comms approval or for publishing, legal for a legal approval); for the commander's
own actions it is the tech holder: holding some role is not enough.

One stack serves the whole module (each row declares its own incident), so the 48 rows run in seconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlmodel import col, select

from bot.models import Incident, RoleAssignment, Statement, TimelineEvent
from bot.sandbox.server import Sandbox
from tests.helpers import BACKENDS, SKIP_POSTGRES, Database, postgres_server
from yingji.local import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="module")

# The expected outcome of every (action, person) pair, written out: yes = it happens, no = refused.
MATRIX = """
action              holder  commander  comms_approver  legal  member  non_member
handover            yes     yes        no              no     no      no
resolve             no      yes        no              no     no      no
close               no      yes        no              no     no      no
lower_severity      no      yes        no              no     no      no
approve_as_comms    yes     no         yes             no     no      no
approve_as_legal    yes     no         no              yes    no      no
mark_published      yes     no         yes             no     no      no
close_drill         no      yes        no              no     no      no
"""


def _rows() -> list[tuple[str, str, bool]]:
    """The matrix as (action, kind of person, allowed) rows."""
    lines = [line.split() for line in MATRIX.strip().splitlines()]
    kinds = lines[0][1:]
    return [(row[0], kind, answer == "yes") for row in lines[1:] for kind, answer in zip(kinds, row[1:], strict=True)]


EXTRA_PEOPLE = {"zhao.min": "赵敏", "sun.li": "孙丽", "zhou.qi": "周琦"}
PLAYERS = {"commander": "zhang.wei", "comms_approver": "zhao.min", "legal": "sun.li", "member": "liu.yang",
           "non_member": "guest"}
HOLDER_OF = {"handover": "chen.jie", "approve_as_comms": "wang.fang", "approve_as_legal": "li.na",
             "mark_published": "wang.fang"}  # everything else: the tech holder, 陈杰
DRAFTER = "zhou.qi"


@dataclass
class Office:
    """The stack, its people by name, and the moves every row is made of."""

    stack: LocalStack
    people: dict[str, str]

    async def declare(self, text: str = "declare sev2 payment-failure 支付宝回调超时") -> Incident:
        """The commander declares from #general; the plain member and the approvers join the channel."""
        stack = self.stack
        await stack.actor.slash("/incident", text, user_id=self.people["zhang.wei"], channel_id=stack.channels["general"])
        await stack.settle()
        async with stack.rt.sessions() as session:
            incident = (await session.exec(select(Incident).order_by(col(Incident.id).desc()))).first()
        assert incident is not None and incident.channel_id is not None
        for name in ("zhao.min", "sun.li", "liu.yang", DRAFTER):
            await stack.actor.join(incident.channel_id, self.people[name])
        return incident

    async def command(self, incident: Incident, name: str, text: str) -> None:
        """`/incident <text>` inside the channel, or from #general with the key for someone outside it."""
        stack, user = self.stack, self.people[name]
        if name == "guest":
            await stack.actor.slash("/incident", f"{incident.key} {text}", user_id=user, channel_id=stack.channels["general"])
        else:
            await stack.actor.slash("/incident", text, user_id=user, channel_id=incident.channel_id)
        await stack.settle()

    async def draft(self, incident: Incident) -> Statement:
        """周琦 drafts a statement through the form; returns the new version."""
        await self.command(incident, DRAFTER, "statement")
        view_id = [k for k, v in self.stack.sandbox.views.items() if v.get("callback_id") == "statement_form"][-1]
        facts = {"what_happened": "部分用户付款后订单仍显示待支付", "affected": "部分用户", "doing": "已切换备用通道",
                 "customer_action": "请勿重复付款", "compensation": "", "data": "unknown", "data_detail": "",
                 "stage": "resolved", "language": "zh", "next_update": ""}
        submitted = await self.stack.actor.submit_view(view_id, self.people[DRAFTER],
                                                       values={k: {"value": v} for k, v in facts.items()})
        assert submitted.status == 200 and not (submitted.json or {}).get("errors"), submitted.body
        await self.stack.settle()
        return await self.latest_statement(incident)

    async def press(self, incident: Incident, statement: Statement, name: str, action: str) -> None:
        """A button on the statement draft, pressed by `name`."""
        await self.stack.actor.block_action(self.people[name], action, value=str(statement.id),
                                            channel_id=incident.channel_id, message_ts=statement.message_ts)
        await self.stack.settle()

    async def publish(self, incident: Incident, statement: Statement, name: str) -> None:
        """Mark published: press the button and, if the form opens, say it went to the website banner."""
        forms = self._publish_forms()
        await self.press(incident, statement, name, "statement_publish")
        opened = [v for v in self._publish_forms() if v not in forms]
        if opened:
            submitted = await self.stack.actor.submit_view(opened[-1], self.people[name],
                                                           values={"outlets": {"value": ["banner"]}})
            assert submitted.status == 200
            await self.stack.settle()

    def _publish_forms(self) -> list[str]:
        """Ids of the Mark published forms opened so far."""
        return [k for k, v in self.stack.sandbox.views.items() if v.get("callback_id") == "statement_publish_form"]

    async def incident(self, incident: Incident) -> Incident:
        """The incident as stored now."""
        async with self.stack.rt.sessions() as session:
            row = await session.get(Incident, incident.id)
        assert row is not None
        return row

    async def latest_statement(self, incident: Incident) -> Statement:
        """The incident's newest statement version, as stored now."""
        async with self.stack.rt.sessions() as session:
            row = (await session.exec(select(Statement).where(Statement.incident_id == incident.id)
                                      .order_by(col(Statement.id).desc()))).first()
        assert row is not None
        return row

    async def holder(self, incident: Incident, role: str) -> str | None:
        """Who holds `role` now."""
        async with self.stack.rt.sessions() as session:
            row = (await session.exec(select(RoleAssignment).where(
                RoleAssignment.incident_id == incident.id, RoleAssignment.role == role,
                col(RoleAssignment.ended_at).is_(None)))).first()
        return row.user_id if row else None

    async def refusals(self, incident: Incident, name: str) -> list[TimelineEvent]:
        """The `refused` events on this incident's timeline with `name` as the actor."""
        async with self.stack.rt.sessions() as session:
            rows = await session.exec(select(TimelineEvent).where(
                TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "refused",
                TimelineEvent.actor == self.people[name]))
            return list(rows.all())


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def office(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                 postgres_template: str | None) -> AsyncIterator[Office]:
    """One stack for the module, on each database, with the cast above configured."""
    if request.param == "postgresql" and postgres_server() is None:
        pytest.skip(SKIP_POSTGRES)
    database = Database(request.param, server=postgres_server(), template=postgres_template)
    data_dir: Path = tmp_path_factory.mktemp("permissions")
    sandbox = Sandbox(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, app_token=APP_TOKEN, rate_limits=False)
    await sandbox.start()
    extra = {name: sandbox.add_user(name, real_name=real) for name, real in EXTRA_PEOPLE.items()}

    def config(users: dict[str, str]) -> dict[str, Any]:
        return {"default_roles": {"commander": users["zhang.wei"], "tech": users["chen.jie"],
                                  "comms": users["wang.fang"], "legal": users["li.na"]},
                "comms_approvers": [extra["zhao.min"]], "legal_approvers": [extra["sun.li"]]}

    stack = await LocalStack.start(data_dir, sandbox=sandbox, config=config, database_url=database.url_for(data_dir))
    try:
        yield Office(stack, {**stack.users, **extra})
    finally:
        await stack.stop()
        database.drop_all()


# -- each privileged action, done by `name`; returns the incident and whether the change happened --------

Action = Callable[[Office, str], Awaitable[tuple[Incident, bool]]]


async def handover(o: Office, name: str) -> tuple[Incident, bool]:
    """Hand the held tech role (陈杰's) to 周琦."""
    incident = await o.declare()
    await o.command(incident, name, f"role tech <@{o.people[DRAFTER]}>")
    return incident, await o.holder(incident, "tech") == o.people[DRAFTER]


async def resolve(o: Office, name: str) -> tuple[Incident, bool]:
    """Resolve an active incident."""
    incident = await o.declare()
    await o.command(incident, name, "resolve 已切换备用通道，支付恢复")
    return incident, (await o.incident(incident)).status == "resolved"


async def close(o: Office, name: str) -> tuple[Incident, bool]:
    """Close an incident the commander has resolved."""
    incident = await o.declare()
    await o.command(incident, "zhang.wei", "resolve 已恢复")
    await o.command(incident, name, "close")
    return incident, (await o.incident(incident)).status == "closed"


async def lower_severity(o: Office, name: str) -> tuple[Incident, bool]:
    """Lower sev2 to sev4, with a reason."""
    incident = await o.declare()
    await o.command(incident, name, "severity sev4 只影响少数测试账号")
    return incident, (await o.incident(incident)).severity == "sev4"


async def approve_as_comms(o: Office, name: str) -> tuple[Incident, bool]:
    """Approve 周琦's draft of a payment-failure statement (comms approval only)."""
    incident = await o.declare()
    draft = await o.draft(incident)
    await o.press(incident, draft, name, "statement_approve")
    return incident, (await o.latest_statement(incident)).status == "approved"


async def approve_as_legal(o: Office, name: str) -> tuple[Incident, bool]:
    """Give the legal approval a cyber-attack statement still needs after comms approved it."""
    incident = await o.declare("declare sev2 cyber-attack 登录接口遭撞库")  # a legal_review playbook
    draft = await o.draft(incident)
    await o.press(incident, draft, "wang.fang", "statement_approve")  # comms first: legal is what is left
    assert (await o.latest_statement(incident)).status == "draft"
    await o.press(incident, draft, name, "statement_approve")
    return incident, (await o.latest_statement(incident)).status == "approved"


async def mark_published(o: Office, name: str) -> tuple[Incident, bool]:
    """Record that an approved statement went out on the website banner."""
    incident = await o.declare()
    draft = await o.draft(incident)
    await o.press(incident, draft, "wang.fang", "statement_approve")
    assert (await o.latest_statement(incident)).status == "approved"
    await o.publish(incident, draft, name)
    return incident, (await o.latest_statement(incident)).published_at is not None


async def close_drill(o: Office, name: str) -> tuple[Incident, bool]:
    """Close a drill the commander has resolved."""
    incident = await o.declare("drill payment-failure")
    assert incident.drill
    await o.command(incident, "zhang.wei", "resolve 演练结束")
    await o.command(incident, name, "close")
    return incident, (await o.incident(incident)).status == "closed"


ACTIONS: dict[str, Action] = {
    "handover": handover, "resolve": resolve, "close": close, "lower_severity": lower_severity,
    "approve_as_comms": approve_as_comms, "approve_as_legal": approve_as_legal,
    "mark_published": mark_published, "close_drill": close_drill,
}


@pytest.mark.parametrize(("action", "kind", "allowed"), _rows(), ids=[f"{a}-{k}" for a, k, _ in _rows()])
async def test_who_may_do_what(office: Office, action: str, kind: str, allowed: bool) -> None:
    name = HOLDER_OF.get(action, "chen.jie") if kind == "holder" else PLAYERS[kind]
    incident, happened = await ACTIONS[action](office, name)
    refusals = await office.refusals(incident, name)
    assert happened is allowed, f"{action} by {kind} ({name}): happened={happened}"
    assert len(refusals) == (0 if allowed else 1), [r.text for r in refusals]
    if refusals:
        assert refusals[0].text  # the timeline says why, in words

