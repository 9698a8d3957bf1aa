"""`/incident repair [INC-n]`: retry the Slack work that Slack refused earlier."""

from __future__ import annotations

from bot import incidents, outbox
from commands.context import Invocation, Reply, start_work
from commands.usage import form_of


async def repair(inv: Invocation, args: str) -> Reply:
    """Put the incident's failed Slack operations back in the queue and run them."""
    lang = inv.language
    key = args.split()[0] if args.split() else ""
    async with inv.rt.sessions() as session:
        incident = await (incidents.by_key(session, key) if key else incidents.by_channel(session, inv.channel_id))
        if incident is None or incident.id is None:
            what = f"`{key[:40]}`" if key else ("此频道" if lang == "zh" else "this channel")
            return Reply(text=(f"找不到事件：{what}。正确格式：{form_of('repair')}" if lang == "zh"
                               else f"No incident found for {what}. Right form: {form_of('repair')}"))
        count = await outbox.retry_failed(session, incident.id)
        await session.commit()
    incident_id = incident.id
    if count == 0:
        return Reply(text=(f"{incident.key} 没有待补的操作。" if lang == "zh" else f"{incident.key} has nothing left to repair."),
                     after=start_work(inv.rt, incident_id))
    return Reply(text=(f"正在重试 {incident.key} 的 {count} 个操作。" if lang == "zh"
                       else f"Retrying {count} operations of {incident.key}."), after=start_work(inv.rt, incident_id))
