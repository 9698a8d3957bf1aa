"""Socket Mode: the same declaration through the websocket instead of HTTP."""

from __future__ import annotations

import asyncio

from tests.helpers import StackFactory, incidents_in_db, timeline_kinds


async def test_socket_mode_declares_the_same_way(make_stack: StackFactory) -> None:
    stack = await make_stack(socket_mode=True)
    for _ in range(100):
        if stack.sandbox.socket_connected:
            break
        await asyncio.sleep(0.02)
    assert stack.sandbox.socket_connected >= 1
    r = await stack.actor.slash("/incident", "declare 1 site-outage 首页白屏 homepage blank",
                                user_id=stack.users["li.na"], channel_id=stack.channels["general"])
    assert r.status == 200 and "INC-1" in r.text
    await stack.settle()
    [incident] = await incidents_in_db(stack)
    channel = stack.sandbox.channels[incident.channel_id]
    assert channel.name == "inc-1-shouye-baiping-homepage-blank"
    assert channel.pins == [incident.header_ts]
    assert {"channel_created", "header_pinned", "announced"} <= set(await timeline_kinds(stack, incident.id))

    wrong = await stack.actor.slash("/incident", "declare sev7 site-outage x", user_id=stack.users["li.na"],
                                    channel_id=stack.channels["general"])
    assert "sev7" in wrong.text
    assert len(await incidents_in_db(stack)) == 1
