"""Debian's Prometheus and Alertmanager, run by the tests on loopback: found, started, asked, and stopped.

Where the binaries are missing the monitoring tests are skipped and the run says so at its start and end;
with YINGJI_TEST_MONITORING=required (set by .ci/run) a missing binary fails them instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import yaml

T = TypeVar("T")
MONITORING_ENV = "YINGJI_TEST_MONITORING"
# Debian names the Alertmanager binary prometheus-alertmanager; upstream's tarball calls it alertmanager.
BINARIES = {
    "prometheus": ("prometheus",),
    "promtool": ("promtool",),
    "alertmanager": ("prometheus-alertmanager", "alertmanager"),
    "amtool": ("amtool",),
}
INSTALL = "apt-get install prometheus prometheus-alertmanager, or run .ci/run, which installs them"


def binary(name: str) -> str | None:
    """Where one of the monitoring binaries is, if installed."""
    return next(filter(None, (shutil.which(candidate) for candidate in BINARIES[name])), None)


def required() -> bool:
    """Whether this run must not skip the monitoring tests (CI)."""
    return os.environ.get(MONITORING_ENV) == "required"


def missing() -> list[str]:
    """The monitoring binaries this machine lacks."""
    return [name for name in BINARIES if binary(name) is None]


def status_line() -> str | None:
    """What the run's header and summary say when the monitoring tests cannot run; None when they can."""
    lacking = missing()
    if not lacking:
        return None
    verdict = f"FAIL ({MONITORING_ENV}=required)" if required() else "skipped"
    return f"monitoring tests {verdict}: {', '.join(lacking)} not found ({INSTALL})"


def need(name: str) -> str:
    """The binary's path, or the test skipped (failed where the run requires monitoring)."""
    path = binary(name)
    if path is None:
        line = status_line()
        assert line is not None
        if required():
            pytest.fail(line)
        pytest.skip(line)
    return path


def free_port() -> int:
    """A TCP port nothing listens on at the moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def until(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], seconds: float, what: str) -> T:
    """Poll `probe` until its answer is `done`; fail saying what was awaited and the last answer."""
    deadline = time.monotonic() + seconds
    while True:
        answer = await probe()
        if done(answer):
            return answer
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds:g} s for {what}; last answer: {answer!r}")
        await asyncio.sleep(0.2)


@dataclass
class Daemon:
    """One started binary: where it answers, and its log for failure messages."""

    url: str
    process: asyncio.subprocess.Process
    log: Path

    def log_tail(self) -> str:
        """The last lines of its log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])


async def check_tool(tool: str, *args: str, stdin: bytes | None = None) -> str:
    """Run promtool or amtool; its whole output, which the caller judges (exit status included on failure)."""
    process = await asyncio.create_subprocess_exec(
        need(tool), *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate(stdin)
    text = out.decode(errors="replace")
    return text if process.returncode == 0 else f"exit {process.returncode}: {text}"


@contextlib.asynccontextmanager
async def daemon(name: str, args: list[str], workdir: Path, port: int) -> AsyncIterator[Daemon]:
    """The binary started on loopback with its own data directory, ready to answer; killed at the end."""
    log = workdir / f"{name}.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(need(name), *args, stdout=sink, stderr=sink, cwd=workdir)
    started = Daemon(f"http://127.0.0.1:{port}", process, log)
    try:
        async with aiohttp.ClientSession() as http:

            async def ready() -> bool:
                if process.returncode is not None:
                    pytest.fail(f"{name} exited with {process.returncode}:\n{started.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{started.url}/-/ready") as resp:
                        return resp.status == 200
                return False

            await until(ready, bool, 20, f"{name} to be ready")
        yield started
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


def config_file(path: Path, config: dict[str, Any]) -> Path:
    """The configuration written as YAML, its directory made (the daemon's working directory too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.asynccontextmanager
async def prometheus(workdir: Path, target: str) -> AsyncIterator[Daemon]:
    """Prometheus scraping `target` (host:port) every second, checked by promtool first, its TSDB in `workdir`."""
    path = config_file(workdir / "prometheus.yml", {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "yingji", "static_configs": [{"targets": [target]}]}],
    })
    checked = await check_tool("promtool", "check", "config", str(path))
    assert "SUCCESS" in checked and not checked.startswith("exit"), checked
    port = free_port()
    async with daemon("prometheus", [f"--config.file={path}", f"--storage.tsdb.path={workdir / 'data'}",
                                     f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                      workdir, port) as started:
        yield started


@contextlib.asynccontextmanager
async def alertmanager(workdir: Path, config: dict[str, Any]) -> AsyncIterator[Daemon]:
    """Alertmanager alone (no cluster) with `config`, checked by amtool first, its state in `workdir`."""
    path = config_file(workdir / "alertmanager.yml", config)
    checked = await check_tool("amtool", "check-config", str(path))
    assert "SUCCESS" in checked and not checked.startswith("exit"), checked
    port = free_port()
    async with daemon("alertmanager", [f"--config.file={path}", f"--storage.path={workdir / 'data'}",
                                       f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
                                       "--log.level=warn"], workdir, port) as started:
        yield started


async def query(prom: Daemon, expression: str, at: float | None = None) -> float | None:
    """The value of a PromQL expression that yields at most one sample; None when it yields none."""
    params = {"query": expression, **({"time": f"{at:.3f}"} if at is not None else {})}
    async with aiohttp.ClientSession() as http, http.get(f"{prom.url}/api/v1/query", params=params) as resp:
        answer = await resp.json()
    assert answer["status"] == "success", answer
    samples = answer["data"]["result"]
    assert len(samples) <= 1, samples
    return float(samples[0]["value"][1]) if samples else None
