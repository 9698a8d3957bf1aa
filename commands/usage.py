"""The `/incident` grammar as people read it; every wrong command is answered with the right form."""

from __future__ import annotations

from bot.i18n import t
from bot.severity import criteria, level_code, severity_label
from bot.vocabulary import Severity

# Each subcommand's form; its one-line description is the catalog's `usage.sub.<subcommand>`.
SUBCOMMANDS: dict[str, str] = {
    "declare": "/incident declare [<sev> <playbook> <title>]",
    "role": "/incident role <role> @person",
    "roles": "/incident roles",
    "steps": "/incident steps",
    "done": "/incident done <n> [note]",
    "status": "/incident status <status> [note]",
    "severity": "/incident severity <p1-p4> [reason]",
    "grade": "/incident grade <grade>",
    "close": "/incident close",
    "discovered": "/incident discovered <HH:MM | YYYY-MM-DD HH:MM | -90m | -3h>",
    "drill": "/incident drill <playbook>",
    "resolve": "/incident resolve [resolution]",
    "note": "/incident note <text>",
    "statement": "/incident statement [stage] [zh|en] | show",
    "summary": "/incident summary [INC-n]",
    "timeline": "/incident timeline [INC-n]",
    "list": "/incident list",
    "repair": "/incident repair [INC-n]",
    "maintenance": "/incident maintenance [list | cancel <n>]",
    "help": "/incident help [severity]",
}


def usage(language: str) -> str:
    """Every subcommand with its form and a one-line description."""
    lines = [t("usage.heading", language)]
    for name, form in SUBCOMMANDS.items():
        description = t(f"usage.sub.{name}", language)
        lines.append(f"`{form}` — {description}")
    levels = ", ".join(f"`{level_code(code).lower()}` {severity_label(code, language)}" for code in Severity)
    lines.append(t("usage.severities", language, levels=levels))
    lines.append(t("usage.example", language))
    lines.append(t("usage.outside", language))
    return "\n".join(lines)


def form_of(subcommand: str) -> str:
    """The right form of one subcommand, for an error reply."""
    return f"`{SUBCOMMANDS[subcommand]}`"


def severity_help(language: str) -> str:
    """`/incident help severity`: what each response level means, and how to write it."""
    lines = [t("levels.heading", language)]
    for code in Severity:
        codes = " ".join(f"`{word}`" for word in (level_code(code).lower(), code, code.removeprefix("sev")))
        lines.append(t("levels.level", language, label=severity_label(code, language), codes=codes))
        lines.append(f"> {criteria(code, language)}")
    return "\n".join(lines)
