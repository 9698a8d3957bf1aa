"""The template lint: every stage and language rendered with sample facts, and what a template must never say,
so a bad override fails at start-up and in `yingji playbooks check`, not in front of customers. Its findings are
for the people who write templates (English, like the rest of the command line)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.i18n import t
from bot.statements.render import Facts, Rendered, TemplateProblem, render, template_name
from bot.vocabulary import DataLost, Language, Stage

# Phrases the tone rules forbid in anything public: guessed causes and promised fix times.
FORBIDDEN: dict[str, tuple[re.Pattern[str], ...]] = {
    Language.ZH: (
        re.compile(r"预计.{0,20}(恢复|修复|解决|完成)"),
        re.compile(r"(由于|因为).{0,30}导致"),
        re.compile(r"\d+\s*(分钟|小时|天)内(恢复|修复|解决)"),
        re.compile(r"马上(恢复|修复|解决)"),
    ),
    Language.EN: (
        re.compile(r"\bETA\b", re.IGNORECASE),
        re.compile(r"will be (fixed|resolved|restored|back)\b", re.IGNORECASE),
        re.compile(r"\b(due to|caused by|because of)\b", re.IGNORECASE),
        re.compile(r"\bexpect(ed)? to (fix|resolve|restore)", re.IGNORECASE),
        re.compile(r"\bwithin \d+\s*(minutes?|hours?|days?)", re.IGNORECASE),
    ),
}


def sample_facts(lang: str) -> Facts:
    """Facts in `lang` such as an incident gives them, to try the templates with."""
    return Facts(
        what_happened=t("statement.sample.what_happened", lang),
        affected=t("statement.sample.affected", lang),
        doing=t("statement.sample.doing", lang),
        customer_action=t("statement.sample.customer_action", lang),
        compensation=t("statement.sample.compensation", lang),
        data_lost=DataLost.NO,
        next_update="09:30",
    )


def _tone_problems(name: str, lang: str, stage: str, rendered: Rendered, next_update: str, key: str) -> list[str]:
    """Tone rules a template must keep whatever the facts: no key, no guessed cause or promised time, next update."""
    problems = []
    texts = {"statement": rendered.statement} | {n: o.text for n, o in rendered.outlets.items()}
    for outlet, text in texts.items():
        if key in text:
            problems.append(f"{name}: {outlet} shows the internal key {key}")
        for pattern in FORBIDDEN[lang]:
            if pattern.search(text):
                problems.append(f"{name}: {outlet} matches forbidden phrase /{pattern.pattern}/")
        if stage != Stage.RESOLVED and next_update not in text:
            problems.append(f"{name}: {outlet} does not say when the next update comes")
    return problems


def check_templates(override_dir: Path | None = None) -> list[str]:
    """Render every stage and language with sample facts and report what is wrong, so bad overrides fail early."""
    problems: list[str] = []
    if override_dir is not None and not Path(override_dir).is_dir():
        problems.append(f"{override_dir}: template override directory does not exist")
    key = "INC-0000"
    for lang in Language:
        sample = sample_facts(lang)
        variants = [sample, Facts(what_happened=sample.what_happened, next_update=sample.next_update)]
        variants += [Facts.from_dict(sample.as_dict() | {"data_lost": v, "data_detail": "x"}) for v in (DataLost.YES, DataLost.UNKNOWN)]
        for stage in Stage:
            name = template_name(stage, lang)
            for facts in variants:
                if stage == Stage.RESOLVED:
                    facts = Facts.from_dict(facts.as_dict() | {"next_update": ""})
                try:
                    rendered = render(stage, lang, facts, brand="Example", key=key, override_dir=override_dir)
                except TemplateProblem as error:
                    problems.append(str(error))
                    break
                found = _tone_problems(name, lang, stage, rendered, facts.next_update, key)
                problems.extend(p for p in found if p not in problems)
    return problems
