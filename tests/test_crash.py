"""SIGKILL at any moment: every acknowledged action survives, and each incident's Slack side ends up
complete and done exactly once.

`yingji serve` runs as a real process against a Slack sandbox living in this test process. People
declare incidents, assign roles, add notes and complete steps (inside the incident channels once they
exist) while the process is killed with SIGKILL at seeded points: right after an ack, in the middle of
a burst of requests, and while Slack answers slowly so its work is in flight. Each time it is started
again on the same SQLite file and the same sandbox. At the end the database must hold every action
that got an HTTP 200, and Slack must hold one channel per incident with its topic, purpose, invites,
one pinned header, one checklist and one announcement, every note echoed once, nothing posted twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox.server import Sandbox
from tests.crash_checks import check_acked_in_db, check_logs, check_outbox, check_replayed, check_slack
from tests.crash_harness import BotProcess, Load, kill_after_acks, kill_mid_burst, kill_on_call, quiet, restart
from yingji.local import _seed


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """A Slack sandbox in this process; rate limits are test_slack_faults' subject, crashes are this one's."""
    sb = Sandbox(signing_secret="crash-secret", bot_token="xoxb-crash", app_token="xapp-crash", rate_limits=False)
    await sb.start()
    yield sb
    await sb.stop()


async def test_sigkill_loses_no_acked_action_and_slack_work_happens_once(sandbox: Sandbox, tmp_path: Path) -> None:
    sb = sandbox
    users, channels = _seed(sb)
    bot = BotProcess(sb, tmp_path)
    load = Load(sb, users, channels, bot.db)
    rng = load.rng
    try:
        actor = await bot.start()
        # 1. Declarations one by one; killed right after an ack, its channel just being made.
        await kill_after_acks(bot, load, actor, [load.declare() for _ in range(6)], acks=rng.randint(3, 5))
        actor = await restart(bot, sb)
        # 2. A burst of declarations and work inside channels, killed while it is being answered.
        await kill_mid_burst(bot, load, actor, load.mixed(12, declares=3), acks=rng.randint(2, 8))
        actor = await restart(bot, sb)
        # 3. Slack answers slowly; killed while a message is being posted: it lands, the answer is lost.
        sb.latency = 0.3
        posting = await kill_on_call(bot, load, actor, load.mixed(10, declares=2), "chat.postMessage",
                                      nth=rng.randint(1, 3))
        actor = await restart(bot, sb)
        # 4. The same while a channel is being created.
        sb.latency = 0.3
        creating = await kill_on_call(bot, load, actor, load.mixed(8, declares=2), "conversations.create", nth=1)
        actor = await restart(bot, sb)
        # 5. Once the restarted process has caught up, a last round that is not interrupted.
        await quiet(bot.db)
        for action in load.mixed(8, declares=1):
            await load.send(actor, action)
        await quiet(bot.db)
        assert await bot.terminate() == 0
    finally:
        if bot.proc is not None and bot.proc.poll() is None:
            bot.proc.kill()
            bot.proc.wait()
    acked = Counter(a.kind for a in load.sent if a.acked)
    assert acked["declare"] >= 4 and acked["note"] + acked["role"] + acked["done"] >= 7, acked
    check_replayed(bot.db, sb, posting, creating)
    check_acked_in_db(bot.db, load.sent)
    check_outbox(bot.db)
    check_slack(bot.db, sb, channels["incidents"])
    check_logs(bot.logs)
