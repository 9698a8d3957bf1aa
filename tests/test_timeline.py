"""Capturing the timeline (notes, shortcut, pins, reactions, edits, deletes) and reading it back whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from bot import timeline
from bot.models import TimelineEvent
from bot.sandbox import people
from tests.helpers import declare, in_channel
from yingji.local import LocalStack


async def _entries(stack: LocalStack, kind: str) -> list[TimelineEvent]:
    async with stack.rt.sessions() as session:
        return list((await session.exec(select(TimelineEvent).where(TimelineEvent.kind == kind))).all())


async def test_note_is_recorded_and_echoed(stack: LocalStack) -> None:
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack)
    reply = await in_channel(stack, incident, "note 支付宝确认回调积压，预计十分钟内消化 <b>payload</b>")
    assert "时间线" in reply.text
    [note] = await _entries(stack, "note")
    assert note.actor == u["zhang.wei"] and note.text == "支付宝确认回调积压，预计十分钟内消化 <b>payload</b>"
    echo = [m for m in sb.messages(incident.channel_id) if ":memo:" in m["text"]]
    assert len(echo) == 1 and "&lt;b&gt;payload&lt;/b&gt;" in echo[0]["text"]
    await in_channel(stack, incident, "note action: 给回调延迟加告警，阈值 30 秒")
    [action] = await _entries(stack, "action_item")
    assert action.text == "给回调延迟加告警，阈值 30 秒"
    empty = await in_channel(stack, incident, "note")
    assert "/incident note" in empty.text


async def test_shortcut_pin_and_reaction_import_one_entry(stack: LocalStack) -> None:
    sb, u, actor = stack.sandbox, stack.users, stack.actor
    incident = await declare(stack)
    for name in ("li.na", "wang.fang"):
        await actor.join(incident.channel_id, u[name])
    said = people.say(actor, u["chen.jie"], incident.channel_id, "回调队列积压 12 万条，见截图",
                      files=[{"name": "queue.png", "title": "queue depth", "mimetype": "image/png"}])
    await people.message_shortcut(actor, u["li.na"], "add_to_timeline", incident.channel_id, said["ts"])
    await stack.settle()
    await people.pin(actor, u["zhang.wei"], incident.channel_id, said["ts"])
    await stack.settle()
    await people.react(actor, u["wang.fang"], incident.channel_id, said["ts"], "pushpin")
    await stack.settle()
    [entry] = await _entries(stack, "message")
    assert entry.actor == u["chen.jie"] and entry.text == "回调队列积压 12 万条，见截图"
    assert entry.at == datetime.fromtimestamp(float(said["ts"]), tz=UTC)  # its own time, not import time
    assert entry.data["permalink"].startswith("https://") and entry.data["files"][0]["name"] == "queue.png"
    assert entry.data["via"] == ["shortcut", "pin", "reaction"]
    assert any("时间线" in str(r.get("text")) for r in sb.responses)  # the shortcut user was told


async def test_other_reactions_and_other_channels_are_ignored(stack: LocalStack) -> None:
    u, actor = stack.users, stack.actor
    incident = await declare(stack)
    said = people.say(actor, u["chen.jie"], incident.channel_id, "just chatting")
    await people.react(actor, u["wang.fang"], incident.channel_id, said["ts"], "eyes")
    elsewhere = people.say(actor, u["chen.jie"], stack.channels["general"], "not an incident")
    await people.pin(actor, u["wang.fang"], stack.channels["general"], elsewhere["ts"])
    reply = await people.message_shortcut(actor, u["li.na"], "add_to_timeline", stack.channels["general"], elsewhere["ts"])
    assert reply.status == 200
    await stack.settle()
    assert await _entries(stack, "message") == []
    assert any("事件频道" in str(r.get("text")) for r in stack.sandbox.responses)


async def test_edits_and_deletes_follow_with_an_audit_trail(stack: LocalStack) -> None:
    u, actor = stack.users, stack.actor
    incident = await declare(stack)
    said = people.say(actor, u["chen.jie"], incident.channel_id, "切换到备用通道 B")
    await people.pin(actor, u["zhang.wei"], incident.channel_id, said["ts"])
    await stack.settle()
    await people.edit(actor, incident.channel_id, said["ts"], "切换到备用通道 C（B 也异常）")
    [entry] = await _entries(stack, "message")
    assert entry.text == "切换到备用通道 C（B 也异常）"
    assert [h["text"] for h in entry.data["history"]] == ["切换到备用通道 B"]
    await people.delete(actor, incident.channel_id, said["ts"])
    [entry] = await _entries(stack, "message")
    assert entry.data["deleted"] is True and entry.text == ""
    assert [h["text"] for h in entry.data["history"]] == ["切换到备用通道 B", "切换到备用通道 C（B 也异常）"]
    page = (await in_channel(stack, incident, "timeline")).message
    assert "已删除" in str(page["blocks"])


async def test_a_retried_event_adds_one_entry(stack: LocalStack) -> None:
    u, actor = stack.users, stack.actor
    incident = await declare(stack)
    await actor.join(incident.channel_id, u["wang.fang"])
    said = people.say(actor, u["chen.jie"], incident.channel_id, "first report from the carrier")
    for retry in (None, 1, 2):
        r = await people.react(actor, u["wang.fang"], incident.channel_id, said["ts"], "pushpin",
                               event_id="Ev0RETRIED01", retry_num=retry)
        assert r.status == 200
    await stack.settle()
    assert len(await _entries(stack, "message")) == 1
    assert len([c for c in stack.sandbox.calls if c[0] == "chat.getPermalink"]) == 1


async def test_timeline_across_midnight_shows_dates_in_the_team_zone(stack: LocalStack) -> None:
    incident = await declare(stack)
    # 15:50 and 16:10 UTC are 23:50 and 00:10 in Shanghai: the entries fall on two dates.
    async with stack.rt.sessions() as session:
        for minute, text in ((50, "before midnight"), (70, "after midnight")):
            at = datetime(2026, 11, 11, 15, 0, tzinfo=UTC) + timedelta(minutes=minute)
            timeline.record(session, incident.id, "note", actor=stack.users["li.na"], text=text, at=at)
        await session.commit()
    text = str((await in_channel(stack, incident, "timeline")).message["blocks"])
    assert "2026-11-11 23:50:00 (UTC+8)" in text and "2026-11-12 00:10:00 (UTC+8)" in text
    assert text.index("before midnight") < text.index("after midnight")


async def test_a_long_timeline_is_read_back_whole_page_by_page(stack: LocalStack) -> None:
    sb, u = stack.sandbox, stack.users
    incident = await declare(stack)
    async with stack.rt.sessions() as session:
        for n in range(2000):
            timeline.record(session, incident.id, "note", actor=u["li.na"], text=f"entry {n:04d} 进展")
        await session.commit()
    first = (await in_channel(stack, incident, "timeline")).message
    seen = [str(first["blocks"])]
    page = first
    while True:
        actions = [b for b in page["blocks"] if b["type"] == "actions"]
        nexts = [e for a in actions for e in a["elements"] if e["action_id"] == "timeline_page_next"]
        if not nexts:
            break
        await stack.actor.block_action(u["zhang.wei"], "timeline_page_next", value=nexts[0]["value"],
                                       channel_id=incident.channel_id)
        await stack.settle()
        page = sb.responses[-1]
        assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in page["blocks"] if b["type"] == "section")
        assert len(page["blocks"]) <= 50
        seen.append(str(page["blocks"]))
    everything = "".join(seen)
    assert len(seen) > 1
    assert all(f"entry {n:04d}" in everything for n in range(2000))


async def test_private_timeline_and_summary_refused_to_outsiders(stack: LocalStack) -> None:
    u = stack.users
    incident = await declare(stack, "declare sev1 data-breach 会员手机号被批量导出")
    for sub in ("timeline", "summary"):
        reply = await stack.actor.slash("/incident", f"{sub} {incident.key}", user_id=u["guest"],
                                        channel_id=stack.channels["general"])
        assert "会员手机号" not in reply.text and "找不到事件 INC-1" in reply.text


async def test_an_over_long_entry_is_shortened_visibly_and_stored_whole(stack: LocalStack) -> None:
    incident = await declare(stack)
    long_note = "回调日志：" + "x" * 9_000
    await in_channel(stack, incident, f"note {long_note}")
    [note] = await _entries(stack, "note")
    assert note.text == long_note  # stored whole
    page = (await in_channel(stack, incident, "timeline")).message
    texts = [b["text"]["text"] for b in page["blocks"] if b["type"] == "section"]
    assert all(len(t) <= 3000 for t in texts) and any("全文见 `yingji export`" in t for t in texts)
