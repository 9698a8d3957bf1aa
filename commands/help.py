"""`/incident help`: the grammar, in the team's language."""

from __future__ import annotations

from commands.context import Invocation, Reply
from commands.usage import severity_help, usage


async def help_(inv: Invocation, args: str) -> Reply:
    """Show every subcommand with its form; `help severity` shows what each response level means."""
    if args.strip().lower() in ("severity", "sev", "levels"):
        return Reply(text=severity_help(inv.language))
    return Reply(text=usage(inv.language))
