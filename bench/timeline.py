"""Timeline figures: append throughput, and summary / timeline page / export time at 1k, 10k, 50k events."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.common import Figure
from bot import summary, timeline
from bot.db import make_engine, make_sessionmaker, upgrade, utcnow
from bot.incidents import DeclareRequest, Workspace, declare
from bot.models import Incident
from bot.playbooks import SHIPPED_DIR, load_playbooks
from bot.review import markdown
from bot.slack.summary_view import render
from bot.slack.timeline_view import ENTRIES_PER_PAGE, pages, sections

SIZES = (1_000, 10_000, 50_000)
TZ = ZoneInfo("Asia/Shanghai")
Sessions = async_sessionmaker[AsyncSession]


async def _summary(sessions: Sessions, incident: Incident, size: int) -> None:
    async with sessions() as session:
        render(await summary.gather(session, incident), TZ, utcnow())


async def _last_page(sessions: Sessions, incident: Incident, size: int) -> None:
    async with sessions() as session:
        await timeline.count(session, incident.id or 0)
        last = pages(size) - 1
        events = await timeline.window(session, incident.id or 0, last * ENTRIES_PER_PAGE, ENTRIES_PER_PAGE)
    sections(events, TZ, "zh")


async def _export(sessions: Sessions, incident: Incident, size: int) -> None:
    async with sessions() as session:
        markdown(await summary.gather(session, incident, full=True), TZ, playbook_name="支付故障")


READERS = {"summary": _summary, "timeline last page": _last_page, "export": _export}


async def _timed(read: Callable[[Sessions, Incident, int], Awaitable[None]], sessions: Sessions, incident: Incident,
                 size: int, repeat: int = 3) -> float:
    """Best of `repeat` runs, in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        await read(sessions, incident, size)
        best = min(best, (time.perf_counter() - start) * 1000)
    return best


async def run(sizes: tuple[int, ...] = SIZES) -> list[Figure]:
    """Fill one incident per size through the domain service, then read it back three ways."""
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        playbook = load_playbooks([SHIPPED_DIR])["payment-failure"]
        where = Workspace(channel_prefix="inc", tz=TZ, announce=False)
        times: dict[str, list[float]] = {"summary": [], "timeline last page": [], "export": []}
        for size in sizes:
            async with sessions() as session:
                declared = await declare(session, DeclareRequest(title=f"bench {size}", playbook="payment-failure",
                                                                 severity="sev2", declared_by="U0BENCH"), where, playbook)
                incident = await session.get(Incident, declared.id)
            assert incident is not None
            start = time.perf_counter()
            for batch in range(0, size, 500):
                async with sessions() as session:
                    for n in range(batch, min(size, batch + 500)):
                        timeline.record(session, incident.id or 0, "note", actor="U0BENCH", text=f"entry {n} 进展更新")
                    await session.commit()
            if size == sizes[0]:
                one_by_one = time.perf_counter()
                for n in range(200):
                    async with sessions() as session:
                        timeline.record(session, incident.id or 0, "note", actor="U0BENCH", text=f"single {n}")
                        await session.commit()
                single_rate = 200 / (time.perf_counter() - one_by_one)
                figures.append(Figure("timeline append, one transaction each", single_rate, "events/s"))
            rate = size / (time.perf_counter() - start)
            figures.append(Figure(f"timeline append in batches of 500 ({size:,})", rate, "events/s"))

            for name, read in READERS.items():
                elapsed = await _timed(read, sessions, incident, size)
                times[name].append(elapsed)
                target = "≤ 200 ms" if name == "summary" and size == sizes[-1] else ""
                met = elapsed <= 200 if target else None
                figures.append(Figure(f"/incident {name} at {size:,} events", elapsed, "ms", target, met=met))
        for name, values in times.items():
            growth = values[-1] / values[0] if values[0] else 0.0
            events_growth = sizes[-1] / sizes[0]
            figures.append(Figure(f"{name} growth {sizes[0]:,}→{sizes[-1]:,} (events ×{events_growth:g})", growth, "×",
                                  f"≤ {events_growth:g}×" if name == "summary" else "",
                                  met=(growth <= events_growth) if name == "summary" else None))
        await engine.dispose()
    return figures


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run())))
