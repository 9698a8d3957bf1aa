"""The Slack side of statements: post the draft, redraw it, talk in its thread, deliver, remind."""

from __future__ import annotations

import os
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox, roles
from bot.i18n import t
from bot.models import Incident, SlackOp, Statement
from bot.slack.ops.base import Blocked, Operation, Outcome, SlackEnv, already_posted, need_channel, op_metadata
from bot.slack.statement_view import draft_blocks, outlet_name
from bot.slack.text import Said, mention
from bot.statements import service, webhooks
from bot.vocabulary import Role, Stage


async def _load(env: SlackEnv, statement_id: int) -> tuple[Statement, dict[str, str], str | None]:
    async with env.sessions() as session:
        statement = await service.by_id(session, statement_id)
        if statement is None:
            raise Blocked(f"statement {statement_id} no longer exists")
        given = await service.approvals(session, statement_id)
        asks = [r for r in await service.reviews(session, statement_id) if r.decision == "request_changes"]
    latest = f"{mention(asks[-1].reviewer)}: {Said(asks[-1].comment)}" if asks else None
    return statement, given, latest


def _required(env: SlackEnv, incident: Incident) -> tuple[str, ...]:
    playbook = env.playbooks.get(incident.playbook)
    return service.required_roles(bool(playbook and playbook.legal_review))


async def _blocks(env: SlackEnv, incident: Incident, statement_id: int) -> tuple[Statement, list[dict]]:
    statement, given, latest = await _load(env, statement_id)
    blocks = draft_blocks(incident, statement, required=_required(env, incident), given=given, tz=env.tz,
                          latest_change_request=latest)
    return statement, [b.to_dict() for b in blocks]


def _fallback(incident: Incident, statement: Statement) -> str:
    return t("ops.statements.fallback", incident.language, key=incident.key, version=statement.version)


async def post_statement(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Post the draft in the incident channel; its thread is where the review happens."""
    channel = need_channel(incident)
    statement, blocks = await _blocks(env, incident, op.args["statement_id"])
    if statement.message_ts:
        return Outcome()
    ts = await already_posted(env, channel, op)
    if ts is None:
        response = await env.client.chat_postMessage(channel=channel, text=_fallback(incident, statement),
                                                     blocks=blocks, metadata=op_metadata(op))
        ts = str(response["ts"])
    statement_id = statement.id

    async def apply(session: AsyncSession) -> None:
        row = await session.get(Statement, statement_id)
        assert row is not None
        row.message_ts = ts
        session.add(row)

    return Outcome(apply=apply)


async def redraw_statement(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Update the draft message in place after an approval, a change request, an edit or a publish."""
    statement, blocks = await _blocks(env, incident, op.args["statement_id"])
    if statement.message_ts and incident.channel_id:
        await env.client.chat_update(channel=incident.channel_id, ts=statement.message_ts,
                                     text=_fallback(incident, statement), blocks=blocks)
    return Outcome()


async def statement_thread(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """A line in the draft's review thread: who did what, and when."""
    channel = need_channel(incident)
    statement, _, _ = await _load(env, op.args["statement_id"])
    if not statement.message_ts:
        raise Blocked("the draft message was not posted")
    if await already_posted(env, channel, op):
        return Outcome()
    await env.client.chat_postMessage(channel=channel, thread_ts=statement.message_ts, text=op.args["text"],
                                      metadata=op_metadata(op))
    return Outcome()


async def deliver_outlet(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """POST the approved outlet text to the deployment's webhook (signed, retried) and say how it went."""
    statement, _, _ = await _load(env, op.args["statement_id"])
    name = op.args["outlet"]
    hook = env.outlet_webhooks.get(name)
    outlet = statement.outlets.get(name)
    if hook is None or outlet is None:
        return Outcome()
    secret = os.environ.get(hook.secret_env, "")
    lang = incident.language
    if not secret:
        result = webhooks.Delivery(False, 0, 0, f"{hook.secret_env} is not set")
    else:
        payload = {"incident": incident.key, "version": statement.version, "stage": statement.stage,
                   "language": statement.language, "outlet": name, "text": outlet.get("text", ""),
                   "parts": outlet.get("parts", {}), "approved_at": statement.approved_at.isoformat() if statement.approved_at else None}
        result = await webhooks.deliver(hook.url, secret, payload, backoff=env.webhook_backoff)
    label = outlet_name(name, lang)
    text = t("ops.statements.delivered" if result.ok else "ops.statements.not_delivered", lang, version=statement.version,
             outlet=label, status=result.status, attempts=result.attempts, error=result.error)
    statement_id = statement.id

    async def apply(session: AsyncSession) -> None:
        # The thread line is its own operation: a Slack hiccup there must not send the webhook again.
        outbox.enqueue(session, incident.id, "statement_thread", wave=op.wave + 1, statement_id=statement_id, text=text)

    return Outcome(event="statement_delivered" if result.ok else "statement_delivery_failed", text=f"v{statement.version} → {name}",
                   data={"statement": statement.id, "outlet": name, "status": result.status, "attempts": result.attempts,
                         "error": result.error}, apply=apply)


async def schedule_update_reminder(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """The approved statement promised a next update: remind comms then (a newer approval replaces it)."""
    statement, _, _ = await _load(env, op.args["statement_id"])
    when = statement.facts.get("next_update_at")
    if when and statement.stage != Stage.RESOLVED:
        await env.schedule(f"statement-update:{incident.id}", datetime.fromisoformat(when), "statement_update_due", statement.id or 0)
    else:
        await env.unschedule(f"statement-update:{incident.id}")
    return Outcome()


async def post_update_reminder(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """The promised update is due: tell comms (and the commander) in the channel."""
    channel = need_channel(incident)
    if await already_posted(env, channel, op):
        return Outcome()
    async with env.sessions() as session:
        holders = await roles.holders(session, incident.id or 0)
    lang = incident.language
    who = " ".join(filter(None, (mention(holders.get(Role.COMMS)), mention(holders.get(Role.COMMANDER))))) or t(
        "ops.statements.no_comms_or_commander", lang)
    text = t("ops.statements.update_due", lang, version=op.args["version"], who=who)
    await env.client.chat_postMessage(channel=channel, text=text, metadata=op_metadata(op))
    return Outcome()


OPERATIONS: dict[str, Operation] = {
    "post_statement": post_statement,
    "redraw_statement": redraw_statement,
    "statement_thread": statement_thread,
    "deliver_outlet": deliver_outlet,
    "schedule_update_reminder": schedule_update_reminder,
    "post_update_reminder": post_update_reminder,
}
