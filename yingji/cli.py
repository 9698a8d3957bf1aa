"""`yingji`: serve the bot, run the demo, upgrade the database, check playbooks."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path

from bot.config import ConfigError, load_file_config, load_settings
from bot.db import upgrade

log = logging.getLogger("yingji")


def _serve(socket_mode: bool) -> int:
    from bot.runtime import Runtime
    from yingji.app import start

    settings = load_settings(need_app_token=socket_mode)
    upgrade(settings.database_url)

    async def run() -> None:
        rt = Runtime(settings)
        server = await start(rt, host=settings.host, port=settings.port, socket_mode=socket_mode)
        # What start-up built (~200k objects: bolt, SQLAlchemy, playbooks) lives as long as the process. Frozen,
        # it is left out of every later full collection, each of which paused a storm of acks for ~100 ms.
        gc.collect()
        gc.freeze()
        await _until_signalled()
        await server.stop()

    asyncio.run(run())
    return 0


async def _until_signalled() -> None:
    """Wait for SIGINT or SIGTERM (how a platform stops a process)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _scheduler() -> int:
    """The worker: fires reminders, timers and the digest from the job store, and runs the Slack work they
    queue. Web replicas run with YINGJI_SCHEDULER=off; a second worker waits as a standby."""
    from dataclasses import replace

    from bot.runtime import Runtime

    settings = replace(load_settings(), scheduler=True)
    upgrade(settings.database_url)

    async def run() -> None:
        rt = Runtime(settings)
        try:
            await rt.start()
            log.info("yingji scheduler running (%s)", "leading" if rt.scheduler.leading else "standby")
            await _until_signalled()
        finally:
            await rt.stop()

    asyncio.run(run())
    return 0


def _demo(serve: bool) -> int:
    from yingji.demo import run_demo

    try:
        return asyncio.run(run_demo(serve))
    except KeyboardInterrupt:
        return 0


def _db_upgrade() -> int:
    import os

    from bot.config import DEFAULT_DATABASE_URL, async_database_url

    url = async_database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    upgrade(url)
    print(f"database schema is up to date ({url.split('://', 1)[0]})")
    return 0


def _playbooks_check(directory: str | None) -> int:
    """Lint the shipped playbooks and templates, the deployment's (yingji.yaml `playbooks_dir`, `templates_dir`,
    `outlet_limits`, `public_updates`, `brand`, the roles and status-page components it adds, when $YINGJI_CONFIG names one) and `directory` if given: every
    playbook × stage × language rendered with its defaults."""
    import os

    from bot.config import FileConfig
    from bot.playbooks import SHIPPED_DIR, load_playbooks
    from bot.statements.check import check_deployment

    config_path = Path(os.environ["YINGJI_CONFIG"]) if os.environ.get("YINGJI_CONFIG") else None
    file = load_file_config(config_path) if config_path else FileConfig()

    def beside_config(value: str | None) -> Path | None:
        path = Path(value) if value else None
        return config_path.parent / path if path and config_path and not path.is_absolute() else path

    dirs = [d for d in (beside_config(file.playbooks_dir), Path(directory) if directory else None) if d is not None]
    missing = [d for d in dirs if not d.is_dir()]
    problems = [f"{d}: expected a directory of playbook YAML files" for d in missing] or check_deployment(
        dirs, templates_dir=beside_config(file.templates_dir), limits=file.outlet_limits or None,
        public_updates=file.public_updates, brand=file.brand, known_roles=file.known_roles(),
        components=file.status_page.component_ids())
    for problem in problems:
        print(problem)
    where = ", ".join(str(d) for d in ["shipped", *dirs])
    if problems:
        print(f"{len(problems)} problem(s) in the playbooks ({where})")
        return 1
    count = len(load_playbooks([SHIPPED_DIR, *dirs], file.known_roles()))
    print(f"{count} playbooks ({where}): all valid; every stage and language of each renders within its limits")
    return 0


def _export(key: str, fmt: str, output: str | None) -> int:
    from yingji.offline import export

    text = asyncio.run(export(load_settings(need_slack=False), key, fmt))
    if output:
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}")
    else:
        sys.stdout.write(text)
    return 0


def _report(since: str) -> int:
    from yingji.offline import parse_period, report

    sys.stdout.write(asyncio.run(report(load_settings(need_slack=False), parse_period(since))))
    return 0


def _drills() -> int:
    from yingji.offline import drills_report

    sys.stdout.write(asyncio.run(drills_report(load_settings(need_slack=False))))
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line, as `yingji --help` shows it."""
    root = argparse.ArgumentParser(prog="yingji", description="应急 — Slack incident response for e-commerce teams")
    sub = root.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the Slack app (HTTP on $HOST:$PORT, or --socket for Socket Mode)")
    serve.add_argument("--socket", action="store_true", help="connect with Socket Mode (needs SLACK_APP_TOKEN)")
    sub.add_parser("scheduler", help="run the worker that fires reminders and timers (one per deployment)")
    demo = sub.add_parser("demo", help="run a whole incident against the local Slack sandbox; no Slack account needed")
    demo.add_argument("--serve", action="store_true", help="then keep the status page up (http://127.0.0.1:8787/status)")
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply Alembic migrations up to the latest ($DATABASE_URL)")
    playbooks = sub.add_parser("playbooks", help="playbook files")
    pb_sub = playbooks.add_subparsers(dest="pb_command", required=True)
    check = pb_sub.add_parser("check", help="validate and render the shipped playbooks, yingji.yaml's playbooks_dir "
                                            "and templates_dir, and DIR if given")
    check.add_argument("dir", nargs="?")
    export = sub.add_parser("export", help="write an incident's review (md), data (json) or timeline (csv)")
    export.add_argument("key", help="the incident key, e.g. INC-42")
    export.add_argument("--format", choices=("md", "json", "csv"), default="md")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    report = sub.add_parser("report", help="counts by severity and playbook, median times (drills excluded)")
    report.add_argument("--since", default="30d", help="period, e.g. 30d, 12h, 8w (default 30d)")
    sub.add_parser("drills", help="past drills with their scores")
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "serve":
            return _serve(args.socket)
        if args.command == "scheduler":
            return _scheduler()
        if args.command == "demo":
            return _demo(args.serve)
        if args.command == "db":
            return _db_upgrade()
        if args.command == "export":
            return _export(args.key, args.format, args.output)
        if args.command == "report":
            return _report(args.since)
        if args.command == "drills":
            return _drills()
        return _playbooks_check(args.dir)
    except ConfigError as exc:
        print(f"yingji: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
