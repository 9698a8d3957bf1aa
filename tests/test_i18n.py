"""One way to write what people read: every message in each language's catalog, the same keys and fields in both,
each one used, and no words for people left written in the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.i18n import catalog, fields, t
from bot.vocabulary import Language

ROOT = Path(__file__).resolve().parent.parent
CODE = ("bot", "commands", "yingji")
# Not the bot speaking to people: a stand-in for Slack, the database's history, the glyphs the font subset keeps,
# and the demo's scripted people and what they type.
NOT_THE_BOT = ("bot/sandbox/", "bot/migrations/", "bot/chart/fonts/subset.py", "yingji/demo.py", "yingji/local.py")
# Read by operators, authors and machines, in English where they are produced: Prometheus' help, the 400 answers
# to malformed requests and to Alertmanager, the lint's findings on playbooks and templates, the command line.
FOR_OPERATORS = ("bot/metrics.py", "bot/alerts/", "bot/slack/envelope.py", "bot/playbooks.py", "bot/statements/check.py",
                 "yingji/")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
PROSE = re.compile(r"[A-Za-z][a-z']*(?:[ ,;:]+[A-Za-z][a-z']*){3,}")  # four words or more
SQL = ("SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "WITH")
LOGS = {"log", "_log", "logger", "logging", "warnings"}  # logs are read by operators, in English
NOT_PROSE = {"add_argument", "ArgumentParser", "add_parser", "add_subparsers", "text", "compile"}  # CLI, SQL, regexes


def _sources() -> list[Path]:
    return sorted(path for top in CODE for path in (ROOT / top).rglob("*.py")
                  if not str(path.relative_to(ROOT)).startswith(NOT_THE_BOT))


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _not_for_people(tree: ast.AST) -> set[int]:
    """String nodes inside a log call, an exception, the CLI's help, SQL or a regex (not words for people)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        inside = isinstance(node, ast.Raise)
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = getattr(getattr(func, "value", None), "id", "")
            inside = owner in LOGS | {"re"} or name in NOT_PROSE or name.endswith(("Error", "Exception"))
        if inside:
            found.update(id(sub) for sub in ast.walk(node))
    return found


def words_in_code(source: str, name: str) -> list[str]:
    """Each line of `source` holding a string a person would read, written there instead of the catalogs: any
    Chinese, and English prose outside logs, exceptions, the CLI's help, SQL and what operators read."""
    tree = ast.parse(source)
    operators = name.startswith(FOR_OPERATORS)
    docstrings, skip = _docstrings(tree), _not_for_people(tree)
    found: dict[int, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docstrings:
            continue
        text = node.value
        chinese = id(node) not in skip and bool(CJK.search(text))
        english = (id(node) not in skip and not operators and bool(PROSE.search(text))
                   and not text.lstrip().upper().startswith(SQL))
        if chinese or english:
            found.setdefault(node.lineno, f"{name}:{node.lineno}: {text[:60]!r}")
    return [found[line] for line in sorted(found)]


def test_every_message_exists_in_every_language() -> None:
    keys = {language: set(catalog(language)) for language in Language}
    for language in Language:
        missing = sorted(keys[Language.ZH] ^ keys[language])
        assert not missing, f"{language}: keys in one catalog only: {missing}"


def test_every_message_fills_the_same_fields_in_each_language() -> None:
    zh, en = catalog("zh"), catalog("en")
    differ = [key for key in zh if key in en and fields(zh[key]) != fields(en[key])]
    assert not differ, f"messages whose {{fields}} differ between zh and en: {differ}"


def test_no_message_is_empty_or_left_untranslated() -> None:
    zh, en = catalog("zh"), catalog("en")
    assert not [key for key in zh if not zh[key].strip() or not en[key].strip()]
    # The same English words in the Chinese catalog are English left behind ({fields} and codes aside).
    same = [key for key, text in zh.items() if text == en[key] and re.search(r"[A-Za-z]{3,}", _words(text))]
    assert same == ["statement_form.language_name.en"], f"zh messages that are the English text: {same}"


def _words(message: str) -> str:
    return re.sub(r"\{[^}]*\}|:[a-z_]+:|`[^`]*`", "", message)


def _used(key: str, literals: set[str], prefixes: set[str]) -> bool:
    return key in literals or any(key.startswith(prefix) for prefix in prefixes)


def test_every_message_is_used() -> None:
    """A message no code asks for is dead text; a key named in code is a literal, or a prefix an f-string fills."""
    literals: set[str] = set()
    prefixes: set[str] = set()
    for path in sorted(path for top in CODE for path in (ROOT / top).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                head = str(node.values[0].value)
                if head.endswith(".") and re.fullmatch(r"[a-z_.]+", head):
                    prefixes.add(head)
    unused = [key for key in catalog("en") if not _used(key, literals, prefixes)]
    assert not unused, f"messages no code asks for: {unused}"


def test_no_words_for_people_are_left_in_the_code() -> None:
    found = [line for path in _sources()
             for line in words_in_code(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert not found, f"{len(found)} strings to move into bot/i18n/*.yaml:\n" + "\n".join(found)


def test_the_scan_finds_words_left_in_code() -> None:
    """The scan above can fail: Chinese anywhere, English prose outside logs and exceptions."""
    sample = ('import logging\nlog = logging.getLogger()\n'
                      'def reply(lang):\n    """Docstrings are for readers of the code, in any words."""\n'
                      '    log.info("the operators read this line in English")\n'
                      '    if lang == "zh":\n        return "已记录"\n'
                      '    raise ValueError("an operator reads this message too")\n'
                      '    return f"Recorded the note for {lang} and told the channel"\n'
                      '    error = RuntimeError("shutting down before the write")\n'
                      '    HAN = re.compile("[\u4e00-\u9fff]+ and more of them here")\n')
    assert [line.split(": ", 1)[0] for line in words_in_code(sample, "sample.py")] == ["sample.py:7", "sample.py:9"]


@pytest.mark.parametrize("language", ["fr", "", "zh-Hant"])
def test_a_language_we_do_not_speak_gets_english(language: str) -> None:
    assert t("header.severity", language) == t("header.severity", "en")


def test_every_role_has_its_own_name_in_each_language() -> None:
    """The optional roles (ops, finance) are words like the core five: named in both catalogs, and no two roles
    share a name (the header and the forms show names, not ids)."""
    from bot.vocabulary import CORE_ROLES, Role

    assert [r for r in Role if r not in CORE_ROLES] == [Role.OPS, Role.FINANCE]
    for language in Language:
        names = [t(f"role.{role}", language) for role in Role]
        assert all(f"role.{role}" in catalog(language) for role in Role)
        assert len(set(names)) == len(names), names


def test_every_word_of_the_vocabulary_has_a_name_in_each_language() -> None:
    """A role, status, level, outlet, phase or refusal added to the code without its words fails here, not in
    front of someone at 3 a.m."""
    from bot.policy import POLICY, Need
    from bot.slack.ops import OPERATIONS
    from bot.vocabulary import (
        DataHarm,
        DataStatus,
        LegalGrade,
        MaintenancePhase,
        MaintenanceStatus,
        Outlet,
        Phase,
        Role,
        Severity,
        Stage,
        Status,
    )

    wanted = [f"role.{w}" for w in Role] + [f"status.{w}" for w in (*Status, *Stage)]
    wanted += [f"severity.{w}" for w in Severity] + [f"outlet.{w}" for w in Outlet]
    wanted += [f"levels.criteria.{w}" for w in Severity] + [f"legal_grade.name.{w}" for w in LegalGrade]
    wanted += [f"step.phase.{w}" for w in Phase] + [f"statement_facts.form.status.{w}" for w in DataStatus]
    wanted += [f"statement_facts.form.harm.{w}" for w in DataHarm] + [f"statement_facts.harm.{w}" for w in DataHarm]
    wanted += [f"statement_form.language_name.{w}" for w in Language] + [f"op.{kind}" for kind in OPERATIONS]
    wanted += [f"policy.not_member.{a}" for a, need in POLICY.items() if need in (Need.MEMBER, Need.HANDOVER, Need.REVIEWER)]
    wanted += [f"policy.not_manager.{a}" for a, need in POLICY.items() if need is Need.MANAGER]
    wanted += [f"maintenance.phase.{w}" for w in MaintenancePhase] + [f"maintenance.state.{w}" for w in MaintenanceStatus]
    for language in Language:
        missing = [key for key in wanted if key not in catalog(language)]
        assert not missing, f"{language}: no words for {missing}"
