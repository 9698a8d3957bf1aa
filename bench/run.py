"""`make bench`: run the benchmarks, print one table, and write bench/results/*.json."""

from __future__ import annotations

import asyncio
import logging
import sys
import time

from bench import ack, process, ready, replicas, status_flood, storm, timeline
from bench.common import Figure, table, write

SUITES = {"timeline": timeline.run, "ready": ready.run, "ack": ack.run, "process": process.run,
          "replicas": replicas.run, "storm": storm.run, "status_flood": status_flood.run}


async def main(names: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    everything: list[Figure] = []
    began = time.perf_counter()
    for name in names or list(SUITES):
        start = time.perf_counter()
        figures = await SUITES[name]()
        path = write(name, figures)
        print(f"\n== {name}, {time.perf_counter() - start:.0f} s ({path})")
        print(table(figures))
        everything += figures
    missed = [f.name for f in everything if f.met is False]
    print(f"\n{len(everything)} figures in {time.perf_counter() - began:.0f} s, {len(missed)} targets missed" + (": " + "; ".join(missed) if missed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
