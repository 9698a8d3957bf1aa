"""`/incident help`: the grammar, in the team's language."""

from __future__ import annotations

from commands.context import Invocation, Reply
from commands.usage import usage


async def help_(inv: Invocation, args: str) -> Reply:
    """Show every subcommand with its form."""
    return Reply(text=usage(inv.language))
