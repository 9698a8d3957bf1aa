"""The statement lint: every playbook × stage × language rendered with its defaults (what the form prefills: data
status unknown, no compensation), and the templates with sample facts, so that nothing goes out saying what no
person chose. It fails, naming playbook, stage, language and outlet, on:

1. an outlet over its limit;
2. a phrase repeated in one outlet (said twice in a row, or a sentence, 6 Chinese characters or 4 English words
   said twice);
3. an unfilled placeholder (template syntax, None, undefined, a label with nothing after it);
4. a claim no person set: a `claim("data")` / `claim("compensation")` sentence rendered while its fact is at its
   default, or a sentence about personal data that no claim marks;
5. a forbidden phrase (a guessed cause, a promised fix time; "working normally again" for what is not a fault
   of our service).

Its findings are for the people who write playbooks and templates (English, like the rest of the command line)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from bot.i18n import t
from bot.playbooks import SHIPPED_DIR as PLAYBOOKS_DIR
from bot.playbooks import Playbook, PlaybookError, check_dir, component_problems, load_playbooks
from bot.statements import facts as facts_module
from bot.statements.outlet_limits import measure
from bot.statements.render import (
    CLAIM_DEFAULTS,
    Facts,
    Rendered,
    TemplateProblem,
    render,
    template_name,
    tones,
)
from bot.vocabulary import DATA_SILENT, DataHarm, DataStatus, Language, Role, Stage, Tone

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
# Only a fault of our own service is over when "everything works normally again": a breach, a rumour, a fraud or
# an unsafe product is not, and saying so at the resolved stage tells customers the risk is gone.
SERVICE_ONLY = (Tone.SERVICE, Tone.DISASTER)
NORMAL_AGAIN: dict[str, re.Pattern[str]] = {
    Language.ZH: re.compile(r"恢复正常"),
    Language.EN: re.compile(r"\b(working|back to|returned to) normal", re.IGNORECASE),
}
# What a person must decide about personal data, said without a claim(): "no personal data was affected" and kin.
DATA_CLAIMS: dict[str, tuple[re.Pattern[str], ...]] = {
    Language.ZH: (
        re.compile(r"(没有|并未|未曾|不会|未)(造成|导致|涉及|发生|出现)[^。；]{0,12}(个人信息|用户数据|个人数据|用户信息|账户信息)"),
        re.compile(r"(个人信息|用户数据|个人数据|用户信息|账户信息)[^。；]{0,8}(没有|并未|未曾|不会)[^。；]{0,4}"
                   r"(泄露|丢失|篡改|外泄|受到影响|受影响)"),
        re.compile(r"(个人信息|用户数据|个人数据|用户信息|账户信息)(是|均|仍然|依然|都是)安全"),
    ),
    Language.EN: (
        re.compile(r"\bno (customer |personal |user |account |payment )*(data|information)\b[^.]{0,40}"
                   r"\b(lost|leaked|exposed|altered|affected|compromised|accessed)", re.IGNORECASE),
        re.compile(r"\b(data|information) (was|were|has been|have been|is|are) (not|never) "
                   r"(lost|leaked|exposed|altered|affected|compromised|accessed)", re.IGNORECASE),
        re.compile(r"\b(your|customer|personal) (data|information) (is|are|remains?) safe\b", re.IGNORECASE),
    ),
}
PLACEHOLDERS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}"),
    re.compile(r"\bNone\b(?! of\b)"),  # Python's None where a value was missing (not "None of them …")
    re.compile(r"\bundefined\b", re.IGNORECASE),
    re.compile(r"[：:][ \t]*$", re.MULTILINE),  # a label with nothing after it
    re.compile(r"[：:][ \t]*[。，；、.,;：:]"),
    re.compile(r"\(\s*\)|（\s*）|【\s*】|\[\s*\]"),
    re.compile(r"[。，；、：]{2,}|[.,;:][,;:]|,\.|\.\.(?!\.)"),
)
# Outlets a reader should learn from where the next update appears (the banner and the push are too short).
WHERE_OUTLETS = ("statement", "social", "email", "script")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[a-z0-9']+")
_DOUBLED = re.compile(r"([\u3400-\u9fff]{3,})\1|\b([A-Za-z']+(?: [A-Za-z']+)+) \2\b", re.IGNORECASE)
_LABEL = re.compile(r"^(Q|A|问|答)[:：]\s*")
_LABELS = re.compile(r"^(Q|A|问|答)[:：]", re.MULTILINE)
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]|[^.!?\n]+[.!?](?=\s|$)")
KEY = "INC-0000"


def sample_facts(lang: str) -> Facts:
    """Facts in `lang` such as an incident gives them, to try the templates with."""
    return Facts(
        headline=t("statement_facts.sample.headline", lang),
        what_happened=t("statement.sample.what_happened", lang),
        affected=t("statement.sample.affected", lang),
        doing=t("statement.sample.doing", lang),
        customer_action=t("statement.sample.customer_action", lang),
        compensation=t("statement.sample.compensation", lang),
        data=DataStatus.CONFIRMED,
        data_harms=(DataHarm.LEAKED,),
        next_update=sample_next_update(lang),
        qa=((t("statement_facts.sample.question", lang), t("statement_facts.sample.answer", lang)),),
    )


def sample_next_update(lang: str) -> str:
    """A next update as the form shows one on another day: the longest of the usual forms."""
    return t("statement.time.other_day", lang, at=datetime(2026, 11, 23, 9, 30))


def repeated(text: str) -> str | None:
    """The first phrase said twice in `text`: a whole sentence, 6 Chinese characters, or 4 English words."""
    if doubled := _DOUBLED.search(text):  # 我们发现我们发现…, "we found we found"
        return doubled.group(1) or doubled.group(2)
    seen_sentences: set[str] = set()
    for match in _SENTENCE.finditer(text):
        sentence = _LABEL.sub("", match.group().strip())
        long_enough = sum(map(len, _CJK_RUN.findall(sentence))) >= 4 or len(_WORD.findall(sentence.lower())) >= 4
        if long_enough and sentence in seen_sentences:
            return sentence
        seen_sentences.add(sentence)
    first: dict[str, int] = {}
    for run in _CJK_RUN.finditer(text):
        for i in range(len(run.group()) - 5):
            gram, at = run.group()[i:i + 6], run.start() + i
            if gram in first and at - first[gram] >= 6:
                return gram
            first.setdefault(gram, at)
    words = _WORD.findall(_LABELS.sub("", text).lower())
    shingles: set[tuple[str, ...]] = set()
    for i in range(len(words) - 3):
        shingle = tuple(words[i:i + 4])
        if shingle in shingles:
            return " ".join(shingle)
        shingles.add(shingle)
    return None


def _at_default(facts: Facts, fact: str) -> bool:
    """Whether a fact only a person decides is still what it is before anyone did (or a status that stays silent)."""
    if fact == "data":
        return facts.data in DATA_SILENT
    return getattr(facts, fact, "") == CLAIM_DEFAULTS[fact]


def lint_rendered(label: str, lang: str, stage: str, tone: str, facts: Facts, rendered: Rendered, *,
                  limits: bool = True) -> list[str]:
    """Every finding in one rendering; `label` names what was rendered (playbook or template, stage, language).
    `limits=False` leaves out the outlets' lengths (for sample facts longer than any default)."""
    problems: list[str] = []
    texts = {"statement": rendered.statement} | {name: outlet.text for name, outlet in rendered.outlets.items()}
    for name, outlet in rendered.outlets.items() if limits else ():
        for part, limit in outlet.part_limits.items():
            length = measure(outlet.parts[part])
            if length > limit:
                problems.append(f"{label} {name}.{part}: over its limit, {length}/{limit} characters")
    for name, text in texts.items():
        where = f"{label} {name}"
        if (phrase := repeated(text)) is not None:
            problems.append(f"{where}: repeats the phrase {phrase!r}")
        for pattern in PLACEHOLDERS:
            if match := pattern.search(text):
                problems.append(f"{where}: unfilled placeholder {match.group()!r}")
        if KEY in text:
            problems.append(f"{where}: shows the internal key {KEY}")
        for pattern in FORBIDDEN[lang]:
            if match := pattern.search(text):
                problems.append(f"{where}: forbidden phrase {match.group()!r} (a guessed cause or a promised time)")
        if stage == Stage.RESOLVED and tone not in SERVICE_ONLY and (match := NORMAL_AGAIN[lang].search(text)):
            problems.append(f"{where}: forbidden phrase {match.group()!r} (only a fault of our service is 'normal again')")
        if facts.data in DATA_SILENT:
            for pattern in DATA_CLAIMS[lang]:
                if match := pattern.search(text):
                    problems.append(f"{where}: a claim no person set: {match.group()!r} says something about personal "
                                    f"data while its status is {facts.data}")
        if stage != Stage.RESOLVED and facts.next_update and facts.next_update not in text:
            problems.append(f"{where}: does not say when the next update comes")
        if name in WHERE_OUTLETS and facts.next_update and facts.where and facts.where not in text:
            problems.append(f"{where}: does not say where the next update appears ({facts.where!r})")
    for block, claims in rendered.claims.items():
        for fact, said in claims:
            if _at_default(facts, fact):
                problems.append(f"{label} {block}: a claim no person set: claim({fact!r}) renders {said[:60]!r} while "
                                f"{fact} is {getattr(facts, fact)!r}")
    return list(dict.fromkeys(problems))


def check_templates(override_dir: Path | None = None) -> list[str]:
    """Render every stage, language and tone with sample facts (and with only the defaults) and report what is
    wrong, so bad overrides fail at start-up and in `yingji playbooks check`, not in front of customers."""
    problems: list[str] = []
    if override_dir is not None and not Path(override_dir).is_dir():
        problems.append(f"{override_dir}: template override directory does not exist")
    override = Path(override_dir) if override_dir is not None else None
    try:
        tones(override)
    except TemplateProblem as error:
        return [*problems, str(error)]
    for lang in Language:
        sample = sample_facts(lang).as_dict()
        defaults = sample | {"compensation": "", "data": DataStatus.UNKNOWN, "data_harms": []}
        variants = [sample, defaults, sample | {"data": DataStatus.NONE, "data_harms": []},
                    sample | {"data": DataStatus.SUSPECTED, "data_harms": list(DataHarm), "data_detail": "x"},
                    defaults | {"data": DataStatus.NOT_APPLICABLE}]
        for stage in Stage:
            name = template_name(stage, lang)
            for tone in Tone:
                for values in variants:
                    only_defaults = values is defaults
                    if stage == Stage.RESOLVED:
                        values = values | {"next_update": ""}
                    facts = Facts.from_dict(values | {"tone": tone})
                    try:
                        rendered = render(stage, lang, facts, brand=t("statement_facts.sample.brand", lang), key=KEY,
                                           override_dir=override)
                    except TemplateProblem as error:
                        problems.append(str(error))
                        break
                    found = lint_rendered(f"{name} ({tone}, data {facts.data})", lang, stage, tone, facts, rendered,
                                          limits=only_defaults)
                    problems.extend(p for p in found if p not in problems)
                else:
                    continue
                break
    return problems


def default_facts(playbook: Playbook, lang: str, stage: str, where: str) -> Facts:
    """What the form prefills for this playbook, and what the draft adds (next update, where, tone, questions)."""
    values = facts_module.from_playbook(playbook, lang, stage) | facts_module.voice(playbook, lang)
    values |= {"next_update": "" if stage == Stage.RESOLVED else sample_next_update(lang), "where": where}
    return Facts.from_dict(values)


def check_playbooks(
    playbooks: Mapping[str, Playbook],
    *,
    override_dir: Path | None = None,
    limits: Mapping[str, int] | None = None,
    public_updates: Mapping[str, str] | None = None,
    brand: str = "",
) -> list[str]:
    """Render every playbook × stage × language with its defaults and report every finding."""
    problems: list[str] = []
    for slug, playbook in playbooks.items():
        for lang in Language:
            where = facts_module.where_updates(dict(public_updates or {}), lang)
            for stage in Stage:
                facts = default_facts(playbook, lang, stage, where)
                label = f"{slug} {stage} {lang}"
                try:
                    rendered = render(stage, lang, facts, brand=brand or t("statement_facts.sample.brand", lang), key=KEY,
                                      override_dir=override_dir, limits=limits)
                except TemplateProblem as error:
                    problems.append(f"{label}: {error}")
                    continue
                problems.extend(lint_rendered(label, lang, stage, playbook.statement.tone, facts, rendered))
    return problems


def check_deployment(
    directories: list[Path] | None = None,
    *,
    templates_dir: Path | None = None,
    limits: Mapping[str, int] | None = None,
    public_updates: Mapping[str, str] | None = None,
    brand: str = "",
    known_roles: Sequence[str] = tuple(Role),
    components: Sequence[str] = (),
) -> list[str]:
    """The whole lint, as `yingji playbooks check` runs it: the shipped playbooks and templates, plus a deployment's
    own playbook directories (which add or override by slug, and may use the roles it adds) and template directory;
    a playbook's status-page components must be among the deployment's `components`."""
    dirs = [PLAYBOOKS_DIR, *(Path(d) for d in directories or [] if Path(d).resolve() != PLAYBOOKS_DIR.resolve())]
    problems = [problem for directory in dirs for problem in check_dir(directory, known_roles)]
    templates = templates_dir
    if templates is None:
        own = [Path(d) / "templates" for d in dirs[1:] if (Path(d) / "templates").is_dir()]
        templates = own[-1] if own else None
    problems += [f"{templates or PLAYBOOKS_DIR / 'templates'}: {p}" for p in check_templates(templates)]
    if problems and not _loads(dirs, known_roles):
        return problems  # playbooks that do not load cannot be rendered: their problems come first
    playbooks = load_playbooks(dirs, known_roles)
    problems += component_problems(playbooks, components)
    return problems + check_playbooks(playbooks, override_dir=templates, limits=limits, public_updates=public_updates,
                                      brand=brand)


def _loads(dirs: list[Path], known_roles: Sequence[str]) -> bool:
    """Whether the playbooks in these directories load."""
    try:
        load_playbooks(dirs, known_roles)
    except PlaybookError:
        return False
    return True
