"""A throwaway PostgreSQL server on loopback: its own data directory in /tmp, a free port, gone afterwards.

The one way the project starts a PostgreSQL of its own, for CI (.ci/run) and for `make bench` (bench/replicas.py).
Standard library only, so CI can run it with the system's python3 before the project's virtualenv exists:

    python3 -m bench.throwaway_pg bindir              # where initdb and pg_ctl are; exit 1 if PostgreSQL is missing
    python3 -m bench.throwaway_pg run [--fast] [--database NAME] -- make test
        # starts a server, runs the command with YINGJI_TEST_POSTGRES_URL pointing at it, then stops the
        # server and deletes its data, whatever happens; exits with the command's status

As root the server runs as the `postgres` user (PostgreSQL refuses to run as root; Debian's package creates it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

URL_ENV = "YINGJI_TEST_POSTGRES_URL"
# Durability is pointless for a server deleted minutes later; CI checks behaviour, never timing. The bench keeps
# the defaults, so its figures are those of an ordinary server.
FAST = ("-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")


def bindir() -> Path | None:
    """The directory of initdb and pg_ctl: on PATH, or Debian's /usr/lib/postgresql/<version>/bin (newest wins)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    versions.sort(key=lambda p: tuple(int(part) for part in p.parent.name.split(".") if part.isdigit()))
    return versions[-1] if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def version(bin_dir: Path) -> str:
    """The server's version, e.g. "17.6"."""
    out = subprocess.run([str(bin_dir / "postgres"), "--version"], check=True, capture_output=True, text=True).stdout
    return out.split()[2]


@contextlib.contextmanager
def throwaway_postgres(*, fast: bool = False, database: str | None = None,
                       max_connections: int = 300) -> Iterator[str | None]:
    """A started server; yields its URL (postgresql+asyncpg://postgres@127.0.0.1:<port>/<database or postgres>),
    or None when PostgreSQL is not installed. Stopped and deleted on the way out."""
    bin_dir = bindir()
    if bin_dir is None:
        yield None
        return
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    with tempfile.TemporaryDirectory(prefix="yingji-pg-") as tmp:
        if as_user:
            shutil.chown(tmp, "postgres", "postgres")
        data, port = Path(tmp) / "data", _free_port()

        def run(*args: str) -> None:  # in the server's directory: the postgres user may not read the caller's
            subprocess.run([*as_user, *args], check=True, cwd=tmp, stdout=subprocess.DEVNULL)

        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale")
        options = " ".join([f"-h 127.0.0.1 -p {port} -k {tmp} -c max_connections={max_connections}",
                            *(FAST if fast else ())])
        try:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", f"{tmp}/server.log", "-w", "-o", options, "start")
            if database:
                run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", database)
            yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{database or 'postgres'}"
        finally:
            # immediate: no checkpoint for data about to be deleted; a server that never started just says so
            subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           check=False, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _run(command: list[str], *, fast: bool, database: str | None) -> int:
    """Run `command` with a throwaway server; its exit status."""
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: object) -> None:  # CI stopped: pass it on, then clean up on the way out
        if child is not None and child.poll() is None:
            child.send_signal(signum)
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, stop)
    with throwaway_postgres(fast=fast, database=database) as url:
        if url is None:
            print("throwaway_pg: PostgreSQL is not installed (apt-get install postgresql)", file=sys.stderr)
            return 1
        bin_dir = bindir()
        assert bin_dir is not None
        print(f"throwaway_pg: PostgreSQL {version(bin_dir)} on {url.split('@')[1]}", file=sys.stderr, flush=True)
        child = subprocess.Popen(command, env={**os.environ, URL_ENV: url})
        return child.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.throwaway_pg", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("bindir", help="print where initdb and pg_ctl are (exit 1 when PostgreSQL is not installed)")
    run = sub.add_parser("run", help=f"run a command with {URL_ENV} set to a throwaway server")
    run.add_argument("--fast", action="store_true", help="fsync, synchronous_commit and full_page_writes off")
    run.add_argument("--database", help="create this database and point the URL at it (else: postgres)")
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    if args.what == "bindir":
        found = bindir()
        if found is None:
            return 1
        print(found)
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("run: no command given (… run -- make test)")
    return _run(command, fast=args.fast, database=args.database)


if __name__ == "__main__":
    sys.exit(main())
