"""Which incident a command names: the key given first (INC-42), else the channel it was typed in."""

from __future__ import annotations

import re

from bot.flows.base import Outcome, Ref, Result
from bot.i18n import t
from commands.context import Invocation, Reply, answer

KEY = re.compile(r"^INC-\d{1,9}$", re.IGNORECASE)


def ref_of(inv: Invocation, args: str) -> tuple[Ref, str]:
    """The incident reference and the rest of the arguments."""
    words = args.split(maxsplit=1)
    if words and KEY.match(words[0]):
        return Ref(key=words[0]), (words[1] if len(words) > 1 else "").strip()
    return Ref(channel=inv.channel_id), args.strip()


def reply(inv: Invocation, ref: Ref, result: Result, right_form: str) -> Reply:
    """A flow's answer as the command's reply: outside an incident channel, say how to name one."""
    if result.outcome is Outcome.NOT_FOUND and ref.key is None:
        return Reply(text=t("command.not_incident_channel", inv.language, form=right_form))
    return answer(inv.rt, result)
