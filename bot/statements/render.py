"""Statement rendering: the templates turn one set of facts into every public outlet, flagged when too long."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateError, TemplateNotFound
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.i18n import t
from bot.playbooks import SHIPPED_DIR as PLAYBOOKS_DIR
from bot.vocabulary import DataLost, Language, Outlet, Stage

BLOCKS = ("statement", "banner", "push_title", "push_body", "social", "email_subject", "email_body", "script")
SHIPPED_DIR: Path = PLAYBOOKS_DIR / "templates"  # package data of the `playbooks` package

# Limits in characters a reader counts (see `measure`); `push` is the push body, `email` the email body.
DEFAULT_LIMITS: dict[str, int] = {
    Outlet.BANNER: 60,
    "push_title": 20,
    Outlet.PUSH: 100,
    Outlet.SOCIAL: 140,
    "email_subject": 50,
    Outlet.EMAIL: 5000,
    Outlet.SCRIPT: 3000,
}
# English needs about twice the characters of Chinese to say the same thing, so it gets its own defaults.
LANG_LIMITS: dict[str, dict[str, int]] = {
    Language.ZH: DEFAULT_LIMITS,
    Language.EN: {
        Outlet.BANNER: 120,
        "push_title": 40,
        Outlet.PUSH: 180,
        Outlet.SOCIAL: 280,
        "email_subject": 80,
        Outlet.EMAIL: 5000,
        Outlet.SCRIPT: 5000,
    },
}

# Each outlet's parts: (part name, template block, limit key); the first part listed is the outlet's main one.
_PARTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    Outlet.BANNER: (("text", "banner", "banner"),),
    Outlet.PUSH: (("body", "push_body", "push"), ("title", "push_title", "push_title")),
    Outlet.SOCIAL: (("text", "social", "social"),),
    Outlet.EMAIL: (("body", "email_body", "email"), ("subject", "email_subject", "email_subject")),
    Outlet.SCRIPT: (("text", "script", "script"),),
}
_ONE_LINE = {"banner", "push_title", "push_body", "social", "email_subject"}
_TRAILING_PUNCTUATION = re.compile(r"[\s。．.！!；;，,、：:]+$")
_ZWJ = "\u200d"


class TemplateProblem(ValueError):
    """A template that cannot be used (missing, broken, or reaching outside the sandbox); names the file."""


@dataclass(frozen=True)
class Facts:
    """What the statement says, in customer terms; every outlet is rendered from these and nothing else."""

    what_happened: str = ""
    affected: str = ""
    doing: str = ""
    customer_action: str = ""
    compensation: str = ""
    data_lost: str = DataLost.UNKNOWN
    data_detail: str = ""
    next_update: str = ""

    def as_dict(self) -> dict[str, str]:
        """Plain values to store with a draft version."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Facts:
        """Facts from stored or submitted values; unknown keys are ignored, missing ones are empty."""
        known = {f.name for f in fields(cls)}
        values = {k: "" if v is None else str(v) for k, v in data.items() if k in known}
        if not values.get("data_lost", "").strip():
            values["data_lost"] = DataLost.UNKNOWN
        return cls(**values)


@dataclass(frozen=True)
class OutletText:
    """One outlet's text, with its parts measured against their limits so the draft can flag what does not fit."""

    name: str
    text: str
    length: int
    limit: int
    parts: dict[str, str]
    part_limits: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def over(self) -> bool:
        """True when any part is longer than its limit; such an outlet is flagged, never cut."""
        if self.length > self.limit:
            return True
        return any(measure(self.parts[p]) > lim for p, lim in self.part_limits.items() if p in self.parts)


@dataclass(frozen=True)
class Rendered:
    """The canonical statement and every outlet rendered from the same template and facts."""

    statement: str
    outlets: dict[str, OutletText]

    @property
    def flagged(self) -> list[str]:
        """Outlets that do not fit their limits, in draft order."""
        return [name for name in Outlet if name in self.outlets and self.outlets[name].over]


def measure(text: str) -> int:
    """Characters as a reader counts them: a Chinese character is one, combining marks and emoji joiners add none."""
    count = 0
    after_joiner = False
    open_flag = False
    for char in unicodedata.normalize("NFC", text):
        if char == _ZWJ:
            after_joiner = True
            continue
        if unicodedata.category(char) in ("Mn", "Me", "Cf") or 0x1F3FB <= ord(char) <= 0x1F3FF:
            continue
        if after_joiner:
            after_joiner = False
            continue
        if 0x1F1E6 <= ord(char) <= 0x1F1FF:
            open_flag = not open_flag
            if not open_flag:
                continue
        else:
            open_flag = False
        count += 1
    return count


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
    missing = [block for block in BLOCKS if block not in template.blocks]
    if missing:
        raise TemplateProblem(f"{template.filename or name}: missing block(s) {', '.join(missing)}")
    return template


def _where(name: str, error: TemplateError) -> str:
    """File and line of a template error, as precisely as Jinja knows them."""
    filename = getattr(error, "filename", None) or name
    lineno = getattr(error, "lineno", None)
    return f"{filename}:{lineno}" if lineno else filename


def _clean_fact(value: str) -> str:
    """Trim a fact and its closing punctuation, so templates punctuate it once."""
    return _TRAILING_PUNCTUATION.sub("", value.strip())


def _normalise(text: str, block: str, lang: str) -> str:
    """Tidy a rendered block: one-line outlets become one line, the script one line per Q/A, the rest paragraphs."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if block in _ONE_LINE:
        return ("" if lang == Language.ZH else " ").join(lines)
    if block == "script":
        question = t("statement.script_question", lang)
        return "\n".join(("\n" + line) if line.startswith(question) and i else line for i, line in enumerate(lines))
    return "\n\n".join(lines)


def _render_block(template: Template, block: str, variables: dict[str, str]) -> str:
    """One block of the template, rendered alone from the shared facts."""
    try:
        return "".join(template.blocks[block](template.new_context(variables)))
    except Exception as error:  # a template is a deployment file: any failure in it is its author's problem
        filename = template.filename or template.name or "template"
        raise TemplateProblem(f"{filename} (block {block}): {type(error).__name__}: {error}") from error


def _variables(stage: str, facts: Facts, brand: str, key: str) -> dict[str, str]:
    """What a template may use: the cleaned facts, the brand, the key and the stage, all plain strings."""
    values = {name: _clean_fact(value) for name, value in facts.as_dict().items()}
    values["data_lost"] = facts.data_lost.strip().lower() or "unknown"
    values.update(brand=brand.strip(), key=key.strip(), stage=stage)
    return values


def _limits(lang: str, limits: Mapping[str, int] | None) -> dict[str, int]:
    """The language's default limits with a deployment's overrides applied; unknown keys are refused."""
    merged = dict(LANG_LIMITS.get(lang, DEFAULT_LIMITS))
    for key, value in (limits or {}).items():
        if key not in DEFAULT_LIMITS:
            raise ValueError(f"unknown outlet limit {key!r}; known: {', '.join(DEFAULT_LIMITS)}")
        if int(value) <= 0:
            raise ValueError(f"outlet limit {key!r} must be positive, got {value!r}")
        merged[key] = int(value)
    return merged


def _problem(lang: str, limit_key: str, length: int, limit: int) -> str:
    """A human-readable overflow note in the statement's language."""
    label = t(f"statement.part.{limit_key}", lang)
    return t("statement.over_limit", lang, label=label, length=length, limit=limit, over=length - limit)


def _outlet(name: str, blocks: dict[str, str], limits: dict[str, int], lang: str) -> OutletText:
    """Assemble one outlet from its rendered blocks and measure every part."""
    spec = _PARTS[name]
    parts = {part: blocks[block] for part, block, _ in spec}
    part_limits = {part: limits[key] for part, _, key in spec}
    problems = []
    for part, _, key in reversed(spec):  # title/subject first, as a reader meets them
        length = measure(parts[part])
        if length > part_limits[part]:
            problems.append(_problem(lang, key, length, part_limits[part]))
    if name == Outlet.PUSH:
        text = f"{parts['title']}\n{parts['body']}"
    elif name == Outlet.EMAIL:
        text = f"{parts['subject']}\n\n{parts['body']}"
    else:
        text = parts["text"]
    main_part, _, main_key = spec[0]
    return OutletText(
        name=name,
        text=text,
        length=measure(parts[main_part]),
        limit=limits[main_key],
        parts=parts,
        part_limits=part_limits,
        problems=problems,
    )


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
    data_lost = facts.data_lost.strip().lower() or "unknown"
    if not DataLost.known(data_lost):
        raise ValueError(f"data_lost must be one of {', '.join(DataLost)}, got {facts.data_lost!r}")
    merged = _limits(lang, limits)
    template = _load(stage, lang, Path(override_dir) if override_dir is not None else None)
    variables = _variables(stage, facts, brand, key)
    blocks = {block: _normalise(_render_block(template, block, variables), block, lang) for block in BLOCKS}
    outlets = {name.value: _outlet(name, blocks, merged, lang) for name in Outlet}
    return Rendered(statement=blocks["statement"], outlets=outlets)
