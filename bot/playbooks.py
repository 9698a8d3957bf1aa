"""Playbooks: the schema of playbooks/*.yaml and the loader that refuses bad ones with clear messages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from bot.vocabulary import LegalGrade, Phase, Role, Severity, Tone

# The top-level `playbooks` package: its YAML files are package data, so an installed wheel reads its own copy.
# The `playbooks` package, found beside `bot` (in a checkout, and in site-packages once installed) rather than
# imported: a `playbooks/` folder in the working directory would shadow it as a namespace package.
SHIPPED_DIR: Path = Path(__file__).resolve().parent.parent / "playbooks"
SUFFIXES = (".yaml", ".yml")

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$")]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class PlaybookError(ValueError):
    """Raised for playbooks that must not be used; one line per problem so authors can fix them all at once."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _known_roles(info: ValidationInfo) -> tuple[str, ...]:
    """Roles a deployment allows: the five built-in ones unless the loader passed its own list."""
    context = info.context or {}
    return tuple(context.get("known_roles", tuple(Role)))


def _check_role(value: str, info: ValidationInfo) -> str:
    """Refuse roles the bot cannot assign, so a typo never yields a step nobody can own."""
    known = _known_roles(info)
    if value not in known:
        raise PydanticCustomError("unknown_role", "expected one of the known roles: {known}", {"known": ", ".join(known)})
    return value


RoleName = Annotated[str, AfterValidator(_check_role)]


class _Model(BaseModel):
    """Shared config: unknown keys are typos in hand-written YAML, so they are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Model):
    """A human-readable text in both languages, because every incident may run in zh or en."""

    zh: NonEmpty
    en: NonEmpty

    def get(self, lang: str) -> str:
        """Pick the text for a language tag such as zh, zh-CN or en; anything not Chinese gets English."""
        return self.zh if lang.lower().startswith("zh") else self.en


class Step(_Model):
    """One checklist item with an owner and a time limit (时限), as the closed-loop plans require."""

    id: Slug
    phase: Phase
    title: Text
    owner: str
    due_minutes: float = Field(gt=0)  # fractions allowed, for demos and drills with short limits
    clock: str | None = None
    basis: NonEmpty | None = None  # the article that requires the step ("PIPL art. 57"), shown beside its title
    asks: Literal["legal_grade"] | None = None  # the step is done by answering: its checklist line offers the choice


class Clock(_Model):
    """A regulatory deadline, stopped by completing its step. It starts at declaration (for an incident at
    `min_severity` or above), or, with `min_legal_grade`, when legal grades the incident at that grade or above
    (running from discovery), and is stopped again if legal grades it below."""

    id: Slug
    name: Text
    basis: NonEmpty
    minutes: int = Field(gt=0)
    immediate: bool = False
    min_severity: Severity | None = None
    min_legal_grade: LegalGrade | None = None
    applies_to: str | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> Clock:
        """A clock starts on our severity or on the legal grade, never both; "not reportable" starts nothing."""
        if self.min_severity is not None and self.min_legal_grade is not None:
            raise PydanticCustomError("clock_trigger", "expected either min_severity or min_legal_grade, not both")
        if self.min_legal_grade is LegalGrade.NOT_REPORTABLE:
            raise PydanticCustomError("clock_trigger", "expected a reportable grade as min_legal_grade")
        return self

    @property
    def graded(self) -> bool:
        """Whether legal's grade, not our severity, starts this clock."""
        return self.min_legal_grade is not None

    def _tagged(self, tags: Iterable[str]) -> bool:
        return self.applies_to is None or self.applies_to in set(tags)

    def applies(self, severity: str, tags: Iterable[str] = ()) -> bool:
        """Whether this clock runs for an incident of this severity in a deployment with these tags (a clock the
        legal grade starts never runs on severity)."""
        if self.graded or not self._tagged(tags):
            return False
        if self.min_severity is None:
            return True
        return list(Severity).index(Severity(severity)) <= list(Severity).index(self.min_severity)

    def applies_at_grade(self, grade: str | None, tags: Iterable[str] = ()) -> bool:
        """Whether this clock runs for an incident legal graded `grade` (None: not graded yet)."""
        if self.min_legal_grade is None or grade is None or not LegalGrade.known(grade) or not self._tagged(tags):
            return False
        return LegalGrade(grade).reaches(self.min_legal_grade)


HEADLINE_LIMITS = {"zh": 40, "en": 90}  # one line customers notice: it starts the banner and the push body


class Question(_Model):
    """One support question this kind of incident brings, with the answer customer service gives."""

    q: Text
    a: Text


class StatementHints(_Model):
    """What the public statement (统一对外口径) says by default for this kind of incident, each fact in whole
    sentences a person edits before anything goes out; compensation is offered in the form, never prefilled."""

    tone: Tone
    headline: Text
    what_happened: Text
    doing: Text
    customer_action: Text
    affected: Text | None = None
    qa: list[Question] = Field(min_length=2, max_length=5)
    compensation: list[Text] = []

    @field_validator("headline")
    @classmethod
    def _headline_fits(cls, headline: Text) -> Text:
        """The headline is one line: within its length in each language, and with no line break."""
        for lang, limit in HEADLINE_LIMITS.items():
            text = headline.get(lang)
            if len(text) > limit or "\n" in text:
                raise PydanticCustomError(
                    "headline_too_long", "expected one line of at most {limit} characters in {lang} (got {length})",
                    {"limit": limit, "lang": lang, "length": len(text)},
                )
        return headline


class Playbook(_Model):
    """One scenario's response plan: roles, duties, timed steps, statement hints and regulatory clocks."""

    slug: Slug
    name: Text
    description: Text
    default_severity: Severity
    cadence_minutes: int | None = Field(default=None, gt=0)  # between public updates; None: the severity's
    private: bool = False
    legal_review: bool = False
    roles: list[RoleName] = Field(min_length=1)
    duties: dict[str, Text]
    steps: list[Step] = Field(min_length=1)
    statement: StatementHints
    clocks: list[Clock] = []
    components: list[Slug] = []  # the status-page components it usually touches (ids from yingji.yaml): the form's prefill

    @model_validator(mode="after")
    def _cross_check(self) -> Playbook:
        """Check references between fields, reporting each problem at its own field path."""
        problems = self._reference_problems()
        if problems:
            raise ValidationError.from_exception_data(
                "Playbook",
                [
                    InitErrorDetails(
                        type=PydanticCustomError("playbook_reference", "{msg}", {"msg": msg}), loc=loc, input=value
                    )
                    for loc, msg, value in problems
                ],
            )
        return self

    def _reference_problems(self) -> list[tuple[tuple[str | int, ...], str, Any]]:
        """List (field path, expectation, bad value) for every broken reference in this playbook."""
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        roles = ", ".join(self.roles)
        if len(set(self.roles)) != len(self.roles):
            problems.append((("roles",), "expected each role once", self.roles))
        for role in self.duties:
            if role not in self.roles:
                problems.append((("duties", role), f"expected a duty only for roles in `roles`: {roles}", role))
        for role in self.roles:
            if role not in self.duties:
                problems.append((("duties", role), "expected a duty for every role in `roles`", None))
        if len(set(self.components)) != len(self.components):
            problems.append((("components",), "expected each component once", self.components))
        clock_ids = [clock.id for clock in self.clocks]
        for i, clock in enumerate(self.clocks):
            if clock.id in clock_ids[:i]:
                problems.append((("clocks", i, "id"), "expected a clock id unique in this playbook", clock.id))
            if not any(step.clock == clock.id for step in self.steps):
                problems.append((("clocks", i, "id"), "expected a step whose `clock` stops this clock", clock.id))
        if any(clock.graded for clock in self.clocks) and not any(step.asks == "legal_grade" for step in self.steps):
            problems.append((("steps",), "expected a step with `asks: legal_grade`: a clock here waits for the "
                             "legal grade", None))
        seen: set[str] = set()
        for i, step in enumerate(self.steps):
            if step.id in seen:
                problems.append((("steps", i, "id"), "expected a step id unique in this playbook", step.id))
            seen.add(step.id)
            if step.owner not in self.roles:
                problems.append((("steps", i, "owner"), f"expected one of the playbook's roles: {roles}", step.owner))
            if step.clock is not None and step.clock not in clock_ids:
                known = ", ".join(dict.fromkeys(clock_ids)) or "none defined"
                problems.append((("steps", i, "clock"), f"expected the id of a clock in `clocks` ({known})", step.clock))
        return problems

    def step(self, step_id: str) -> Step:
        """Find a step by id, because commands and timeline events refer to steps by id."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    @property
    def graded(self) -> bool:
        """Whether legal grades incidents of this playbook (a clock waits for the grade, or a step asks for it)."""
        return any(clock.graded for clock in self.clocks) or any(step.asks == "legal_grade" for step in self.steps)

    def grading_steps(self) -> frozenset[str]:
        """The ids of the steps done by setting the legal grade."""
        return frozenset(step.id for step in self.steps if step.asks == "legal_grade")

    def clocks_for(self, severity: str, tags: Iterable[str] = ()) -> list[Clock]:
        """The regulatory clocks to start for an incident of this severity in a deployment with these tags."""
        tags = set(tags)
        return [clock for clock in self.clocks if clock.applies(severity, tags)]


def _render(path: Path, error: ValidationError) -> list[str]:
    """Turn pydantic errors into '<path>: <field.path>: <expectation>' lines an author can act on."""
    lines = []
    for err in error.errors(include_url=False):
        loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "expected no such field here (unknown key; check the spelling)"
        value = err.get("input")
        if err["type"] not in ("missing", "extra_forbidden") and isinstance(value, str | int | float | bool):
            msg = f"{msg} (got {value!r})"
        lines.append(f"{path}: {loc}: {msg}")
    return lines


def _read(path: Path) -> dict[str, Any]:
    """Read one YAML file as a mapping, naming the path and line of any syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaybookError([f"{path}: cannot read the file: {exc}"]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "(unknown line)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlaybookError([f"{path}: {where}: YAML syntax error: {problem}"]) from exc
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise PlaybookError([f"{path}: (top level): expected a mapping of playbook fields, got {got}"])
    return data


def load_playbook(path: Path, known_roles: Sequence[str] = tuple(Role)) -> Playbook:
    """Load and validate one playbook file, raising PlaybookError with every problem found."""
    path = Path(path)
    data = _read(path)
    problems = []
    slug = data.get("slug")
    if isinstance(slug, str) and slug != path.stem:
        problems.append(f"{path}: slug: expected the file name without extension, {path.stem!r} (got {slug!r})")
    try:
        playbook = Playbook.model_validate(data, context={"known_roles": tuple(known_roles)})
    except ValidationError as exc:
        problems.extend(_render(path, exc))
    if problems:
        raise PlaybookError(problems)
    return playbook


def _files(directory: Path) -> list[Path]:
    """Playbook files in one directory, sorted so loading is deterministic."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in SUFFIXES)


def _load_dir(directory: Path, known_roles: Sequence[str]) -> tuple[dict[str, Playbook], list[str]]:
    """Load every playbook in a directory, collecting problems instead of stopping at the first."""
    if not directory.is_dir():
        return {}, [f"{directory}: expected a directory of playbook YAML files"]
    found: dict[str, Playbook] = {}
    problems: list[str] = []
    stems: dict[str, Path] = {}
    for path in _files(directory):
        if path.stem in stems:
            problems.append(f"{path}: slug: expected one file per slug, {stems[path.stem].name} has it too")
            continue
        stems[path.stem] = path
        try:
            found[path.stem] = load_playbook(path, known_roles)
        except PlaybookError as exc:
            problems.extend(exc.problems)
    return found, problems


def load_playbooks(dirs: Sequence[Path], known_roles: Sequence[str] = tuple(Role)) -> dict[str, Playbook]:
    """Load playbooks from several dirs; later dirs add or override by slug, so deployments can customise."""
    merged: dict[str, Playbook] = {}
    problems: list[str] = []
    for directory in dirs:
        found, dir_problems = _load_dir(Path(directory), known_roles)
        merged.update(found)
        problems.extend(dir_problems)
    if problems:
        raise PlaybookError(problems)
    return dict(sorted(merged.items()))


def check_dir(path: Path, known_roles: Sequence[str] = tuple(Role)) -> list[str]:
    """List every problem in a playbook directory without raising, for linting and startup checks."""
    return _load_dir(Path(path), known_roles)[1]


def component_problems(playbooks: dict[str, Playbook], components: Sequence[str]) -> list[str]:
    """A playbook naming a status-page component the deployment does not have (yingji.yaml `status_page.components`):
    its form would prefill nothing there, so the author hears of it at the lint and at start-up."""
    known = ", ".join(components) or "none configured"
    return [f"{slug}: components: {component!r} is not a status-page component of this deployment ({known})"
            for slug, playbook in playbooks.items() for component in playbook.components if component not in components]
