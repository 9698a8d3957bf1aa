"""Servers as separate processes, the way they run in production: the bot, and bolt's bare baseline."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bot.sandbox.server import Sandbox


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def until_idle(pid: int, *, busy: float = 0.05, window: float = 0.5, limit: float = 60.0) -> float:
    """Seconds until a process uses under `busy` of a core over `window`: the work a round left behind (Slack posts
    after 200 acks) is done before the next measurement starts, so no round pays for the one before."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        before = cpu_seconds(pid)
        await asyncio.sleep(window)
        if cpu_seconds(pid) - before < busy * window:
            return time.perf_counter() - start
    raise TimeoutError(f"process {pid} still busy after {limit} s")


async def until_healthy(url: str, limit: float = 60.0, process: subprocess.Popen[bytes] | None = None) -> float:
    """Seconds until `url` answers 200; fails early if `process` (the server) has died."""
    start = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        while time.perf_counter() - start < limit:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{url}: the process exited with {process.returncode}")
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.02)
    raise TimeoutError(f"{url} did not answer within {limit} s")


def start_bot(sb: Sandbox, workdir: Path, config: dict[str, Any], *, env: dict[str, str] | None = None,
              args: tuple[str, ...] = ("serve",)) -> tuple[subprocess.Popen[bytes], int]:
    """`yingji serve` against the sandbox, with a SQLite file in `workdir` (or env's DATABASE_URL)."""
    path = workdir / "yingji.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    port = free_port()
    environ = {**os.environ, "SLACK_BOT_TOKEN": sb.bot_token, "SLACK_SIGNING_SECRET": sb.signing_secret,
               "SLACK_API_URL": sb.api_url, "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'yingji.db'}",
               "YINGJI_CONFIG": str(path), "HOST": "127.0.0.1", "PORT": str(port), **(env or {})}
    process = subprocess.Popen([sys.executable, "-m", "yingji.cli", *args], env=environ, cwd=workdir,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, port


def start_bare_bolt(sb: Sandbox, store: Path | None = None, *, floor: bool = False) -> tuple[subprocess.Popen[bytes], int]:
    """The baseline: bench/bare_bolt.py in its own process (writing each command to `store` if given;
    with `floor`, aiohttp answering 200 without bolt)."""
    port = free_port()
    environ = {**os.environ, "SLACK_BOT_TOKEN": sb.bot_token, "SLACK_SIGNING_SECRET": sb.signing_secret,
               "SLACK_API_URL": sb.api_url, "PORT": str(port), **({"BARE_BOLT_DB": str(store)} if store else {}),
               **({"BARE_AIOHTTP": "1"} if floor else {})}
    process = subprocess.Popen([sys.executable, "-m", "bench.bare_bolt"], env=environ,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, port


def stop(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM, as a platform stops a process; SIGKILL after `grace` seconds."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
