"""When Slack will not do what someone's action needs, that person is told where they acted — not only the
declarer; and an incident monitoring opened, which nobody declared, is reported in the announce channel and to
the escalation people."""

from __future__ import annotations

from tests.helpers import StackFactory, am_payload, declare, draft_statement, post, statement_config
from yingji.local import LocalStack


def _told(stack: LocalStack, name: str) -> str:
    """Everything the person got privately: ephemeral posts to their response_urls and DMs."""
    sb, user = stack.sandbox, stack.users[name]
    return "\n".join([str(r.get("text")) for r in sb.responses if r.get("user") == user]
                     + [str(m.get("text")) for m in sb.dms(user)])


async def test_a_note_whose_echo_fails_is_told_to_its_author(stack: LocalStack) -> None:
    incident = await declare(stack)
    await stack.actor.join(incident.channel_id, stack.users["liu.yang"])
    stack.sandbox.faults.add("chat.postMessage", "error", error="is_archived")
    await stack.actor.slash("/incident", "note 回调积压开始下降", user_id=stack.users["liu.yang"], channel_id=incident.channel_id)
    await stack.settle()
    assert "is_archived" in _told(stack, "liu.yang")  # the author, who would otherwise wait for the echo
    assert "is_archived" in _told(stack, "zhang.wei")  # and the declarer, as before


async def test_an_approval_whose_draft_cannot_be_updated_is_told_to_the_approver(make_stack: StackFactory) -> None:
    stack = await make_stack(config=statement_config)
    incident = await declare(stack)
    draft = await draft_statement(stack, incident)
    stack.sandbox.faults.add("chat.update", "5xx", times=20)
    await stack.actor.block_action(stack.users["wang.fang"], "statement_approve", value=str(draft.id),
                                   channel_id=incident.channel_id, message_ts=draft.message_ts)
    await stack.settle()
    stack.sandbox.faults.clear()
    told = _told(stack, "wang.fang")
    assert "Slack 暂时无法完成" in told and "INC-1" in told, told  # the approver, not only the declarer


async def test_an_alert_opened_incident_that_cannot_be_made_is_reported(make_stack: StackFactory) -> None:
    stack = await make_stack(config=lambda users: {"escalation": [users["li.na"]]})
    stack.sandbox.faults.add("conversations.create", "error", error="restricted_action", times=None)
    status, _ = await post(stack, "/hooks/alertmanager", am_payload())
    assert status == 200
    await stack.settle()
    stack.sandbox.faults.clear()
    announced = "\n".join(str(m.get("text")) for m in stack.sandbox.messages(stack.channels["incidents"]))
    assert "restricted_action" in announced and "INC-1" in announced
    assert "restricted_action" in _told(stack, "li.na")
