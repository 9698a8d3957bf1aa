"""Statement rendering: the templates turn one set of facts into every public outlet (each measured against its
limits in bot/statements/outlet_limits.py, flagged when too long)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateError, TemplateNotFound
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.i18n import t
from bot.playbooks import SHIPPED_DIR as PLAYBOOKS_DIR
from bot.statements.outlet_limits import OutletText, measure_outlet, merged_limits
from bot.vocabulary import DATA_HARMED, DataHarm, DataStatus, Language, Outlet, Stage, Tone

BLOCKS = ("statement", "banner", "push_title", "push_body", "social", "email_subject", "email_body", "script",
          "status_page")
# Blocks a template may leave out, and the block that stands in: a deployment's override written before the status
# page existed shows its whole statement there.
OPTIONAL_BLOCKS = {"status_page": "statement"}
SHIPPED_DIR: Path = PLAYBOOKS_DIR / "templates"  # package data of the `playbooks` package

_ONE_LINE = {"banner", "push_title", "push_body", "social", "email_subject"}
_TRAILING_PUNCTUATION = re.compile(r"[\s。．.！!；;，,、：:]+$")
_SENTENCE_END = re.compile(r"[。．.！!？?）)」』”\"]$")
TONES_FILE = "tones.yaml"
TONE_PHRASES = ("lead", "title", "apology", "resolved", "closing")  # lead and apology may be empty
# The facts only a person decides for this incident, each with the value it has until someone does. A template
# wraps every sentence stating one in `{% call claim("data") %}…{% endcall %}`: the lint then proves that no such
# sentence renders while its fact is still at its default (see bot/statements/check.py).
CLAIM_DEFAULTS: dict[str, str] = {"data": DataStatus.UNKNOWN, "compensation": ""}
# Claims are marked in the rendered text with private-use characters, then taken out again: open, fact, text, close.
_OPEN, _NAMED, _CLOSE = "\ue000", "\ue001", "\ue002"
_CLAIM = re.compile(f"{_OPEN}([a-z_]+){_NAMED}(.*?){_CLOSE}", re.DOTALL)
_MARKS = re.compile(f"{_OPEN}[a-z_]+{_NAMED}|{_CLOSE}")


class TemplateProblem(ValueError):
    """A template that cannot be used (missing, broken, or reaching outside the sandbox); names the file."""


@dataclass(frozen=True)
class Facts:
    """What the statement says, in customer terms; every outlet is rendered from these and nothing else.

    People edit the facts in the form (`headline` … `data_detail`); `next_update` (as shown) and `where` (where the
    next update appears) come from the form's time and the deployment; `tone` and `qa` from the playbook."""

    headline: str = ""
    what_happened: str = ""
    affected: str = ""
    doing: str = ""
    customer_action: str = ""
    compensation: str = ""
    data: str = DataStatus.UNKNOWN
    data_harms: tuple[str, ...] = ()
    data_detail: str = ""
    next_update: str = ""
    where: str = ""
    tone: str = Tone.SERVICE
    qa: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain values to store with a draft version (lists for the harms and the questions)."""
        values: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        values["data_harms"] = list(self.data_harms)
        values["qa"] = [list(pair) for pair in self.qa]
        return values

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Facts:
        """Facts from stored or submitted values; unknown keys are ignored, missing ones are empty or default.

        Versions stored before data status existed have `data_lost` (no/yes/unknown). Their "no" was the form's
        default, not anybody's finding, so it is read as `unknown` (nobody checked), never as `none`; "yes" was
        chosen by a person and is read as `confirmed`, without harms named."""
        known = {f.name for f in fields(cls)} - {"data_harms", "qa", "data"}
        values: dict[str, Any] = {k: "" if v is None else str(v) for k, v in data.items() if k in known}
        values["data"] = data_status(data)
        values["data_harms"] = tuple(_harms(data.get("data_harms")))
        values["qa"] = tuple(_pairs(data.get("qa")))
        if not values.get("tone", "").strip():
            values["tone"] = Tone.SERVICE
        return cls(**values)


def data_status(data: Mapping[str, object]) -> str:
    """The data status a stored or submitted set of facts gives, reading the old `data_lost` as said above."""
    status = str(data.get("data") or "").strip().lower()
    if status:
        return status
    legacy = str(data.get("data_lost") or "").strip().lower()
    return DataStatus.CONFIRMED if legacy == "yes" else DataStatus.UNKNOWN  # old "no" was a default: unknown


def _harms(value: object) -> list[str]:
    """Harms from a stored list or a comma-separated text, in the vocabulary's order, each once."""
    items = value if isinstance(value, list | tuple) else str(value or "").split(",")
    given = {str(item).strip().lower() for item in items if str(item).strip()}
    return [harm for harm in DataHarm if harm in given] + sorted(given - set(DataHarm))


def _pairs(value: object) -> list[tuple[str, str]]:
    """Questions and answers from a stored list of pairs (or of {q, a} mappings)."""
    pairs = []
    for item in value if isinstance(value, list | tuple) else []:
        if isinstance(item, Mapping):
            pairs.append((str(item.get("q") or ""), str(item.get("a") or "")))
        elif isinstance(item, list | tuple) and len(item) == 2:
            pairs.append((str(item[0]), str(item[1])))
    return [(q, a) for q, a in pairs if q.strip() and a.strip()]


@dataclass(frozen=True)
class Rendered:
    """The canonical statement and every outlet rendered from the same template and facts."""

    statement: str
    outlets: dict[str, OutletText]
    claims: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # block → (fact, text) it claims

    @property
    def flagged(self) -> list[str]:
        """Outlets that do not fit their limits, in draft order."""
        return [name for name in Outlet if name in self.outlets and self.outlets[name].over]


def template_dirs(override: Path | None) -> list[Path]:
    """Where templates are looked up: a deployment's override directory first, then the shipped one."""
    return [Path(override), SHIPPED_DIR] if override is not None else [SHIPPED_DIR]


@lru_cache(maxsize=16)
def _environment(override: Path | None) -> ImmutableSandboxedEnvironment:
    """A sandbox per template path; templates are untrusted deployment files, so they get no Python access."""
    return ImmutableSandboxedEnvironment(
        loader=FileSystemLoader([str(d) for d in template_dirs(override)]),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def template_name(stage: str, lang: str) -> str:
    """The file name of a stage's template in one language."""
    return f"{stage}.{lang}.j2"


def _load(stage: str, lang: str, override: Path | None) -> Template:
    """The template for a stage and language, or a TemplateProblem that names the file."""
    name = template_name(stage, lang)
    try:
        template = _environment(override).get_template(name)
    except TemplateNotFound:
        where = ", ".join(str(d) for d in template_dirs(override))
        raise TemplateProblem(f"{name}: template not found in {where}") from None
    except TemplateError as error:
        raise TemplateProblem(f"{_where(name, error)}: {error}") from error
    missing = [block for block in BLOCKS if block not in template.blocks and block not in OPTIONAL_BLOCKS]
    if missing:
        raise TemplateProblem(f"{template.filename or name}: missing block(s) {', '.join(missing)}")
    return template


def _where(name: str, error: TemplateError) -> str:
    """File and line of a template error, as precisely as Jinja knows them."""
    filename = getattr(error, "filename", None) or name
    lineno = getattr(error, "lineno", None)
    return f"{filename}:{lineno}" if lineno else filename


def _clean_fact(value: str) -> str:
    """Trim a fact and its closing punctuation, for the facts a template punctuates itself (headline, details)."""
    return _TRAILING_PUNCTUATION.sub("", value.strip())


def _sentences(value: str, lang: str) -> str:
    """A fact as the whole sentences it is: trimmed, one line, ending in a full stop if the person left it off."""
    text = " ".join(value.split())
    if not text or _SENTENCE_END.search(text):
        return text
    return _clean_fact(text) + t("statement_facts.full_stop", lang)


def _plain(text: str) -> str:
    """Text without claim marks."""
    return _MARKS.sub("", text)


def _normalise(text: str, block: str, lang: str) -> str:
    """Tidy a rendered block: one-line outlets become one line, the script one line per Q/A, the rest paragraphs."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if _plain(line).strip()]
    if block in _ONE_LINE:
        return ("" if lang == Language.ZH else " ").join(lines)
    if block == "script":
        question = t("statement.script_question", lang)
        return "\n".join(("\n" + line) if _plain(line).startswith(question) and i else line
                         for i, line in enumerate(lines))
    return "\n\n".join(lines)


def _take_claims(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The text without its claim marks, and each claim in it as (fact, what it says)."""
    claims = [(fact, _plain(said).strip()) for fact, said in _CLAIM.findall(text)]
    return _plain(text), [(fact, said) for fact, said in claims if said]


def claim(fact: str, caller: Callable[[], str]) -> str:
    """`{% call claim("data") %}…{% endcall %}`: mark a sentence that states a fact only a person decides."""
    if fact not in CLAIM_DEFAULTS:
        raise ValueError(f"claim({fact!r}): expected one of {', '.join(CLAIM_DEFAULTS)}")
    return f"{_OPEN}{fact}{_NAMED}{caller()}{_CLOSE}"


def _render_block(template: Template, block: str, variables: dict[str, Any]) -> str:
    """One block of the template, rendered alone from the shared facts (an optional block left out: its stand-in)."""
    block = block if block in template.blocks else OPTIONAL_BLOCKS.get(block, block)
    try:
        return "".join(template.blocks[block](template.new_context(variables)))
    except Exception as error:  # a template is a deployment file: any failure in it is its author's problem
        filename = template.filename or template.name or "template"
        raise TemplateProblem(f"{filename} (block {block}): {type(error).__name__}: {error}") from error


@lru_cache(maxsize=16)
def tones(override: Path | None = None) -> dict[str, dict[str, dict[str, str]]]:
    """The phrases that differ by tone, {tone: {language: {phrase: text}}}, from the first tones.yaml found
    (a deployment's template directory, then the shipped one); a file missing a tone or phrase is refused."""
    path = next((d / TONES_FILE for d in template_dirs(override) if (d / TONES_FILE).is_file()), None)
    if path is None:
        raise TemplateProblem(f"{TONES_FILE}: not found in {', '.join(str(d) for d in template_dirs(override))}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise TemplateProblem(f"{path}: cannot read the tones: {error}") from None
    problems = []
    for tone in Tone:
        for lang in Language:
            phrases = (data or {}).get(tone, {}).get(lang) if isinstance(data, dict) else None
            phrases = phrases if isinstance(phrases, dict) else {}
            for name in TONE_PHRASES:
                value = phrases.get(name)
                if not isinstance(value, str) or (not value.strip() and name not in ("lead", "apology")):
                    problems.append(f"{tone}.{lang}.{name}")
    if problems:
        raise TemplateProblem(f"{path}: missing or empty tone phrase(s) {', '.join(problems)}")
    return {tone: {lang: {name: str(data[tone][lang][name]).strip() for name in TONE_PHRASES} for lang in Language}
            for tone in Tone}


def _harm_words(facts: Facts, lang: str) -> str:
    """The harms chosen, in words: 泄露、篡改和丢失 when confirmed, 泄露或篡改 when suspected."""
    words = [t(f"statement_facts.harm.{harm}", lang) for harm in facts.data_harms if DataHarm.known(harm)]
    if len(words) < 2:
        return "".join(words)
    joined = "statement_facts.harms_and" if facts.data == DataStatus.CONFIRMED else "statement_facts.harms_or"
    return t(joined, lang, first=t("statement_facts.harms_separator", lang).join(words[:-1]), last=words[-1])


def headline_of(facts: Mapping[str, object]) -> str:
    """A stored version's headline as its outlets say it: the one a person wrote, else what happened."""
    return _clean_fact(str(facts.get("headline") or "")) or _clean_fact(str(facts.get("what_happened") or ""))


def _variables(stage: str, lang: str, facts: Facts, brand: str, key: str, override: Path | None) -> dict[str, Any]:
    """What a template may use: the facts (whole sentences, or trimmed where the template punctuates), the data
    status and the harms in words, the tone's phrases, the playbook's questions, the brand, key and stage."""
    values: dict[str, Any] = {name: _sentences(getattr(facts, name), lang)
                              for name in ("what_happened", "affected", "doing", "customer_action")}
    values["headline"] = headline_of({"headline": facts.headline, "what_happened": facts.what_happened})
    values.update(compensation=_clean_fact(facts.compensation), data_detail=_clean_fact(facts.data_detail),
                  next_update=facts.next_update.strip(), where=_clean_fact(facts.where) or t("statement_facts.where", lang))
    values["data"] = facts.data.strip().lower() or DataStatus.UNKNOWN
    values["harms"] = _harm_words(facts, lang) if values["data"] in DATA_HARMED else ""
    values["tone"] = tones(override)[facts.tone or Tone.SERVICE][lang]
    values["qa"] = [{"q": " ".join(q.split()), "a": _sentences(a, lang)} for q, a in facts.qa]
    values.update(brand=brand.strip(), key=key.strip(), stage=stage, claim=claim)
    return values


def render(
    stage: str,
    lang: str,
    facts: Facts,
    *,
    brand: str = "",
    key: str = "",
    override_dir: Path | None = None,
    limits: Mapping[str, int] | None = None,
) -> Rendered:
    """Render the statement and every outlet from one template, flagging (never cutting) what does not fit."""
    if not Stage.known(stage):
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(Stage)}")
    if not Language.known(lang):
        raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(Language)}")
    data = facts.data.strip().lower() or DataStatus.UNKNOWN
    if not DataStatus.known(data):
        raise ValueError(f"data must be one of {', '.join(DataStatus)}, got {facts.data!r}")
    unknown_harms = [harm for harm in facts.data_harms if not DataHarm.known(harm)]
    if unknown_harms:
        raise ValueError(f"data_harms must be among {', '.join(DataHarm)}, got {', '.join(unknown_harms)}")
    if not Tone.known(facts.tone):
        raise ValueError(f"tone must be one of {', '.join(Tone)}, got {facts.tone!r}")
    merged = merged_limits(lang, limits)
    override = Path(override_dir) if override_dir is not None else None
    template = _load(stage, lang, override)
    variables = _variables(stage, lang, facts, brand, key, override)
    blocks, claims = {}, {}
    for block in BLOCKS:
        blocks[block], claims[block] = _take_claims(_normalise(_render_block(template, block, variables), block, lang))
    outlets = {name.value: measure_outlet(name, blocks, merged, lang) for name in Outlet}
    return Rendered(statement=blocks["statement"], outlets=outlets, claims=claims)
