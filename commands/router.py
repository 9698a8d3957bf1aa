"""Routes `/incident <subcommand> …` to its module; anything unknown gets the usage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.i18n import t
from bot.slack.text import clip, escape
from commands.capture import note
from commands.context import Invocation, Reply
from commands.declare import declare
from commands.discovered import discovered
from commands.drill import drill
from commands.grade import grade
from commands.help import help_
from commands.list import list_
from commands.maintenance import maintenance
from commands.repair import repair
from commands.roles import role, roles_
from commands.statement import statement
from commands.status import close, resolve, severity, status
from commands.steps import done, steps_
from commands.summary import summary_
from commands.target import KEY
from commands.timeline import timeline_
from commands.usage import usage

Handler = Callable[[Invocation, str], Awaitable[Reply]]

# Answered in the ack itself: help needs no database. Everything else is answered after the ack (commands/later.py).
IN_ACK = frozenset({"help"})
# Change nothing: answered after the ack without being stored first (see commands/later.py).
READS = frozenset({"list", "roles", "steps", "timeline"})

HANDLERS: dict[str, Handler] = {
    "declare": declare,
    "role": role,
    "roles": roles_,
    "steps": steps_,
    "done": done,
    "note": note,
    "status": status,
    "resolve": resolve,
    "close": close,
    "severity": severity,
    "discovered": discovered,
    "grade": grade,
    "drill": drill,
    "timeline": timeline_,
    "statement": statement,
    "summary": summary_,
    "list": list_,
    "repair": repair,
    "maintenance": maintenance,
    "help": help_,
}


def subcommand(inv: Invocation) -> tuple[str, str]:
    """The subcommand's word as typed and the rest, untouched."""
    parts = inv.text.split(maxsplit=2)
    if len(parts) > 1 and KEY.match(parts[0]) and parts[1].lower() in HANDLERS:
        parts = [parts[1], " ".join([parts[0], *parts[2:]])]  # /incident INC-3 role … = /incident role INC-3 …
    else:
        parts = inv.text.split(maxsplit=1)
    return (parts[0] if parts else ""), (parts[1] if len(parts) > 1 else "")


async def dispatch(inv: Invocation) -> Reply:
    """Split off the subcommand and hand the rest to its handler."""
    word, rest = subcommand(inv)
    handler = HANDLERS.get(word.lower())
    if handler is None:
        lang = inv.language
        if not word:
            return Reply(text=usage(lang))
        return Reply(text=t("command.unknown", lang, given=escape(clip(word, 40)), usage=usage(lang)))
    return await handler(inv, rest)
