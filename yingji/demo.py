"""`yingji demo`: a whole incident against the local Slack sandbox, printed as a person would see it."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlmodel import select

from bot.models import Incident, TimelineEvent
from bot.slack.text import when
from yingji.local import LocalStack
from yingji.textview import humanize, message_as_text

DEMO_DIR = Path("data") / "demo"
TITLE = "支付宝回调超时，部分订单支付后仍显示待支付"


def _names(stack: LocalStack) -> dict[str, str]:
    names = {user.id: user.real_name or user.name for user in stack.sandbox.users.values()}
    names.update({channel.id: channel.name for channel in stack.sandbox.channels.values()})
    return names


def _section(title: str) -> None:
    print(f"\n── {title} " + "─" * max(0, 60 - len(title)))


async def run_demo() -> int:
    """Declare one incident as a person would, then print the channel, header, announcement and timeline."""
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    stack = await LocalStack.start(DEMO_DIR, config=lambda people: {"default_roles": {"comms": people["wang.fang"]}})
    try:
        names = _names(stack)
        declarer = stack.users["zhang.wei"]
        command = f"declare sev2 payment-failure {TITLE}"
        print(f"{names[declarer]} types in #general:  /incident {command}")
        reply = await stack.actor.slash("/incident", command, user_id=declarer, channel_id=stack.channels["general"])
        print(f"Slack answered HTTP {reply.status}; the bot replied privately:")
        for line in humanize((reply.json or {}).get("text", reply.body), names).splitlines():
            print(f"  │ {line}")
        await stack.settle()

        async with stack.rt.sessions() as session:
            incident = (await session.exec(select(Incident).order_by(Incident.id))).first()
            assert incident is not None and incident.channel_id is not None
            events = list((await session.exec(
                select(TimelineEvent).where(TimelineEvent.incident_id == incident.id).order_by(TimelineEvent.id)
            )).all())
        names = _names(stack)
        channel = stack.sandbox.channels[incident.channel_id]

        _section("New channel")
        print(f"#{channel.name}  ({'private' if channel.is_private else 'public'}, {len(channel.members)} members: "
              + ", ".join(sorted(names.get(m, m) for m in channel.members)) + ")")
        print(f"topic:   {channel.topic}")
        print(f"purpose: {channel.purpose}")

        _section("Pinned header")
        header = next(m for m in stack.sandbox.messages(incident.channel_id) if m["ts"] in channel.pins)
        for line in message_as_text(header, names):
            print(f"  │ {line}")

        _section("Announcement in #incidents")
        for message in stack.sandbox.messages(stack.channels["incidents"]):
            for line in message_as_text(message, names):
                print(f"  │ {line}")

        _section("Private notices to the declarer")
        for response in stack.sandbox.responses:
            for line in humanize(str(response.get("text", "")), names).splitlines():
                print(f"  │ {line}")

        _section(f"Timeline of {incident.key} in SQLite ({stack.rt.settings.database_url.split('///')[-1]})")
        tz = stack.rt.settings.tz
        for event in events:
            actor = "yingji" if event.actor == "yingji" else names.get(event.actor, event.actor)
            detail = humanize(event.text, names).replace("\n", " ")
            print(f"  {when(event.at, tz, seconds=True)}  {actor:<6} {event.kind:<16} {detail[:60]}")
        print(f"\n{incident.key} declared and ready: {len(events)} timeline events, "
              f"{len(stack.sandbox.calls)} Slack Web API calls.")
        return 0
    finally:
        await stack.stop()
