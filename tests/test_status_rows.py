"""The status page's reads through real Slack presses: a version published, withdrawn and published again is read
with each of its stays on the page, so the day strip leaves out the gap (the rule: bot/status_page/state.py)."""

from __future__ import annotations

from pathlib import Path

from bot.db import utcnow
from bot.status_page import rows
from tests.helpers import StackFactory, declare, events, statements_in_db
from tests.test_status_page import page_config, press, publish, published_version


async def test_each_stay_on_the_page_is_read_from_the_timeline(make_stack: StackFactory, tmp_path: Path) -> None:
    shop = await make_stack(config=page_config(tmp_path))
    incident = await declare(shop)
    shown = await published_version(shop, incident, "部分用户付款后订单仍显示待支付", components=["checkout"],
                                    component_state="major_outage")
    await publish(shop, shown, incident.channel_id, ["status_page", "banner"])  # still on the page: the same stay
    await press(shop, shown, "statement_withdraw", "wang.fang", incident.channel_id)
    await publish(shop, shown, incident.channel_id, ["status_page", "social"])  # put back on the page
    published = [e.at for e in await events(shop, incident.id, "statement_published")]
    [withdrawn] = [e.at for e in await events(shop, incident.id, "statement_withdrawn")]
    async with shop.rt.sessions() as session:
        [version], _ = await rows.read(session, utcnow())
    assert version.spans == ((published[0], withdrawn), (published[2], None))
    assert version.published_at == published[0] and version.withdrawn_at is None
    assert (await statements_in_db(shop))[0].published_at == published[2]  # the row keeps only the last publication
