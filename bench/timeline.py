"""Timeline figures: append throughput (one by one, and in bulk as alerts and imports write), and summary /
timeline page / export time at 1k, 10k, 50k events, with how each grows."""

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
from bot import review, summary, timeline
from bot.db import make_engine, make_sessionmaker, upgrade, utcnow
from bot.incidents import DeclareRequest, Workspace, declare
from bot.models import Incident
from bot.playbooks import SHIPPED_DIR, load_playbooks
from bot.slack.summary_view import render
from bot.slack.timeline_view import ENTRIES_PER_PAGE, pages, sections

SIZES = (1_000, 10_000, 50_000)
BATCH = 500
BULK_TARGET = 20_000  # events/s appended in batches of BATCH
EXPORT_SLACK = 1.2  # the export grows linearly: at most 1.2× as fast as the events (≤ 60× for 50× the events)
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
    """What `yingji export --format md` and the review posted at resolve do."""
    async with sessions() as session:
        facts = await review.gather(session, incident)
    review.markdown(facts, TZ, playbook_name="支付故障")


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


def _notes(first: int, count: int) -> list[timeline.NewEvent]:
    return [timeline.NewEvent("note", actor="U0BENCH", text=f"entry {n} 进展更新") for n in range(first, first + count)]


async def _append_one_by_one(sessions: Sessions, incident_id: int, size: int) -> float:
    """Events/s through timeline.record, BATCH to a transaction: the per-event path bulk writers used before."""
    start = time.perf_counter()
    for batch in range(0, size, BATCH):
        async with sessions() as session:
            for event in _notes(batch, min(BATCH, size - batch)):
                timeline.record(session, incident_id, event.kind, actor=event.actor, text=event.text)
            await session.commit()
    return size / (time.perf_counter() - start)


async def _append_bulk(sessions: Sessions, incident_id: int, size: int) -> float:
    """Events/s through timeline.append_many, BATCH to a transaction."""
    start = time.perf_counter()
    for batch in range(0, size, BATCH):
        async with sessions() as session:
            await timeline.append_many(session, incident_id, _notes(batch, min(BATCH, size - batch)))
            await session.commit()
    return size / (time.perf_counter() - start)


async def _append_single(sessions: Sessions, incident_id: int, count: int = 200) -> float:
    """Events/s when every event is its own transaction (a note, a step done)."""
    start = time.perf_counter()
    for n in range(count):
        async with sessions() as session:
            timeline.record(session, incident_id, "note", actor="U0BENCH", text=f"single {n}")
            await session.commit()
    return count / (time.perf_counter() - start)


async def _incident(sessions: Sessions, size: int) -> Incident:
    playbook = load_playbooks([SHIPPED_DIR])["payment-failure"]
    where = Workspace(channel_prefix="inc", tz=TZ, announce_channel_id=None)
    async with sessions() as session:
        declared = await declare(session, DeclareRequest(title=f"bench {size}", playbook="payment-failure",
                                                         severity="sev2", declared_by="U0BENCH"), where, playbook)
        incident = await session.get(Incident, declared.id)
    assert incident is not None
    return incident


def _growth(name: str, values: list[float], sizes: tuple[int, ...]) -> Figure:
    """How much a reader's time grew from the smallest timeline to the largest, against how much the events grew."""
    growth = values[-1] / values[0] if values[0] else 0.0
    events = sizes[-1] / sizes[0]
    limit = {"summary": events, "export": EXPORT_SLACK * events}.get(name)
    label = f"{name} growth {sizes[0]:,}→{sizes[-1]:,} (events ×{events:g})"
    if name == "export":
        label += f": {values[0]:.3g} → {values[-1]:.3g} ms"
    return Figure(label, growth, "×", f"≤ {limit:g}×" if limit else "", met=(growth <= limit) if limit else None)


async def run(sizes: tuple[int, ...] = SIZES) -> list[Figure]:
    """Fill one incident per size through the domain service, then read it back three ways."""
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        times: dict[str, list[float]] = {name: [] for name in READERS}
        scratch = await _incident(sessions, 0)
        figures.append(Figure("timeline append, one transaction each", await _append_single(sessions, scratch.id or 0),
                              "events/s"))
        one_by_one = await _append_one_by_one(sessions, scratch.id or 0, max(BATCH, sizes[0]))
        figures.append(Figure(f"timeline append in batches of {BATCH}, one event at a time (record)", one_by_one,
                              "events/s"))
        for size in sizes:
            incident = await _incident(sessions, size)
            rate = await _append_bulk(sessions, incident.id or 0, size)
            figures.append(Figure(f"timeline append in batches of {BATCH}, append_many ({size:,})", rate, "events/s",
                                  f"≥ {BULK_TARGET:,}", baseline=one_by_one, met=rate >= BULK_TARGET))
            for name, read in READERS.items():
                elapsed = await _timed(read, sessions, incident, size)
                times[name].append(elapsed)
                target = "≤ 200 ms" if name == "summary" and size == sizes[-1] else ""
                met = elapsed <= 200 if target else None
                figures.append(Figure(f"/incident {name} at {size:,} events", elapsed, "ms", target, met=met))
        figures += [_growth(name, values, sizes) for name, values in times.items()]
        await engine.dispose()
    return figures


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run())))
