"""`yingji playbooks check`: every playbook × stage × language rendered with its defaults says only what a person
chose, fits its outlets, and the lint fails — naming playbook, stage, language and outlet — on each kind of defect."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.playbooks import SHIPPED_DIR, Playbook, load_playbooks
from bot.statements.check import DATA_CLAIMS, check_deployment, check_playbooks, default_facts
from bot.statements.render import SHIPPED_DIR as TEMPLATES_DIR
from bot.statements.render import Facts, render
from bot.vocabulary import Language, Stage
from yingji.cli import main

SHIPPED = load_playbooks([SHIPPED_DIR])
CASES = [(slug, stage, lang) for slug in SHIPPED for stage in Stage for lang in Language]
DATA_WORDS = {"zh": ("个人信息", "用户数据"), "en": ("personal data", "personal information")}
COMPENSATION_WORDS = {"zh": ("补偿", "赔付"), "en": ("compensat",)}


def test_the_shipped_playbooks_and_templates_pass_the_lint() -> None:
    assert check_deployment() == []


def test_the_command_passes_on_the_shipped_set(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YINGJI_CONFIG", raising=False)
    assert main(["playbooks", "check"]) == 0
    assert "all valid" in capsys.readouterr().out


@pytest.mark.parametrize(("slug", "stage", "lang"), CASES)
def test_a_statement_drafted_with_all_defaults_claims_nothing_a_person_did_not(slug: str, stage: str, lang: str) -> None:
    """What the form prefills — data status unknown, no compensation — says nothing about either."""
    playbook = SHIPPED[slug]
    facts = default_facts(playbook, lang, stage, where="")
    assert (facts.data, facts.data_harms, facts.data_detail, facts.compensation) == ("unknown", (), "", "")
    rendered = render(stage, lang, facts)
    assert all(not claims for claims in rendered.claims.values()), rendered.claims
    texts = [rendered.statement, *(outlet.text for outlet in rendered.outlets.values())]
    for text in texts:
        for pattern in DATA_CLAIMS[lang]:
            assert not pattern.search(text), f"{slug} {stage} {lang}: {pattern.pattern}"
    for text in _template_only(stage, lang).values():  # the words the templates add: none about data or compensation
        assert not any(word in text.lower() for word in DATA_WORDS[lang] + COMPENSATION_WORDS[lang]), text


def _template_only(stage: str, lang: str) -> dict[str, str]:
    """Every outlet rendered with empty facts: only what the template itself says."""
    rendered = render(stage, lang, Facts(next_update="" if stage == Stage.RESOLVED else "09:30"))
    return {"statement": rendered.statement} | {name: outlet.text for name, outlet in rendered.outlets.items()}


@pytest.mark.parametrize("slug", sorted(SHIPPED))
def test_each_kind_of_incident_has_its_own_questions(slug: str) -> None:
    qa = SHIPPED[slug].statement.qa
    assert 2 <= len(qa) <= 5
    script = render("investigating", "zh", default_facts(SHIPPED[slug], "zh", "investigating", "")).outlets["script"].text
    assert script.startswith("问：" + qa[0].q.zh)
    charged_twice = "重复扣款" in script
    assert charged_twice == any("重复扣款" in item.q.zh for item in qa), "the payment question only where it belongs"


# --- one test per kind of defect -----------------------------------------------------------------------------


def _playbook_dir(tmp_path: Path, slug: str = "data-breach", **statement: Any) -> Path:
    """A deployment directory with one shipped playbook copied under a new slug, its statement changed."""
    data = yaml.safe_load((SHIPPED_DIR / f"{slug}.yaml").read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["slug"] = "custom"
    data["statement"].update(statement)
    directory = tmp_path / "playbooks"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "custom.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return directory


def _template_dir(tmp_path: Path, stage: str, lang: str, old: str, new: str) -> Path:
    """A template directory overriding one shipped template with one change."""
    directory = tmp_path / "templates"
    directory.mkdir(parents=True, exist_ok=True)
    text = (TEMPLATES_DIR / f"{stage}.{lang}.j2").read_text(encoding="utf-8")
    assert old in text
    (directory / f"{stage}.{lang}.j2").write_text(text.replace(old, new, 1), encoding="utf-8")
    return directory


def _findings(problems: list[str], *words: str) -> list[str]:
    return [p for p in problems if all(w in p for w in words)]


def test_the_lint_fails_on_an_outlet_over_its_limit(tmp_path: Path) -> None:
    headline = {"zh": "谨" * 40, "en": "Be careful " * 8}
    directory = _playbook_dir(tmp_path, "site-outage", tone="fraud", headline=headline)  # lead + 40 characters
    problems = check_deployment([directory])
    assert _findings(problems, "custom investigating zh banner", "over its limit", "/60")
    assert not _findings(problems, "site-outage")
    limited = check_playbooks({"site-outage": SHIPPED["site-outage"]}, limits={"push": 30})
    assert _findings(limited, "site-outage identified zh push.body: over its limit")


def test_the_lint_fails_on_a_phrase_repeated(tmp_path: Path) -> None:
    """The wrapper that made 我们发现我们发现…: a template that says what the fact already says."""
    directory = _playbook_dir(tmp_path, what_happened={"zh": "我们发现部分用户无法登录。", "en": "We found that some customers cannot sign in."})
    assert check_deployment([directory]) == []
    templates = _template_dir(tmp_path, "investigating", "zh", "{% block statement %}\n{{ tone.lead }}{{ what_happened }}",
                              "{% block statement %}\n{{ tone.lead }}我们发现{{ what_happened }}")
    problems = check_deployment([directory], templates_dir=templates)
    assert _findings(problems, "custom investigating zh statement: repeats the phrase '我们发现'")
    assert _findings(problems, "custom investigating zh email: repeats")
    twice = _playbook_dir(tmp_path, "site-outage", doing={"zh": "我们正在逐笔核对已扣款订单。我们正在逐笔核对已扣款订单。", "en": "We are checking."})
    assert _findings(check_deployment([twice]), "custom identified zh statement: repeats the phrase")


def test_the_lint_fails_on_an_unfilled_placeholder(tmp_path: Path) -> None:
    templates = _template_dir(tmp_path, "monitoring", "en", "{{ doing }}", "Affected data: {{ data_detail }}\n{{ doing }}")
    problems = check_deployment(templates_dir=templates)
    assert _findings(problems, "monitoring.en.j2", "unfilled placeholder")
    assert _findings(problems, "data-breach monitoring en statement: unfilled placeholder ':'")
    raw = _playbook_dir(tmp_path, "site-outage", customer_action={"zh": "请联系 {{ phone }}。", "en": "Call None."})
    problems = check_deployment([raw])
    assert _findings(problems, "custom investigating zh statement: unfilled placeholder '{{'")
    assert _findings(problems, "custom investigating en statement: unfilled placeholder 'None'")


def test_the_lint_fails_on_a_claim_no_person_set(tmp_path: Path) -> None:
    """A template that tells customers no personal data was lost although nobody checked fails, wrapped or not."""
    unwrapped = _template_dir(tmp_path, "investigating", "zh", "{{ tone.closing }}",
                              "经核查，本次事件没有造成用户个人信息丢失或泄露。{{ tone.closing }}")
    problems = check_deployment(templates_dir=unwrapped)
    assert _findings(problems, "natural-disaster investigating zh statement: a claim no person set", "个人信息")
    assert _findings(problems, "investigating.zh.j2 (service, data unknown) statement: a claim no person set")
    wrapped = _template_dir(tmp_path / "w", "identified", "en", "{{ tone.closing }}",
                            '{% call claim("compensation") %}Every customer gets a coupon.{% endcall %} {{ tone.closing }}')
    problems = check_deployment(templates_dir=wrapped)
    assert _findings(problems, "site-outage identified en statement: a claim no person set: claim('compensation')")
    typo = _template_dir(tmp_path / "t", "identified", "zh", "{{ tone.closing }}",
                         '{% call claim("refund") %}退款{% endcall %}{{ tone.closing }}')
    assert _findings(check_deployment(templates_dir=typo), "identified.zh.j2", "claim('refund')")
    said = _playbook_dir(tmp_path, "natural-disaster",
                         what_happened={"zh": "台风影响配送，用户个人信息没有泄露。", "en": "A typhoon delays deliveries; no customer data was leaked."})
    problems = check_deployment([said])
    assert _findings(problems, "custom investigating zh statement: a claim no person set", "个人信息没有泄露")
    assert _findings(problems, "custom investigating en statement: a claim no person set", "no customer data was leaked")


def test_the_lint_fails_on_a_forbidden_phrase(tmp_path: Path) -> None:
    directory = _playbook_dir(tmp_path, "site-outage", doing={"zh": "由于机房断电导致故障，预计 2 小时内恢复。", "en": "We expect to restore it within 2 hours."})
    problems = check_deployment([directory])
    assert _findings(problems, "custom investigating zh statement: forbidden phrase")
    assert _findings(problems, "custom investigating en statement: forbidden phrase")
    normal = _playbook_dir(tmp_path / "n", "data-breach",
                           customer_action={"zh": "一切已恢复正常。", "en": "Everything is back to normal."})
    problems = check_deployment([normal])
    assert _findings(problems, "custom resolved zh statement: forbidden phrase '恢复正常'")
    assert not _findings(problems, "custom investigating zh statement: forbidden")  # only the resolved stage is over


def test_the_lint_names_a_broken_playbook_or_template_and_the_command_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("YINGJI_CONFIG", raising=False)
    directory = _playbook_dir(tmp_path, "site-outage", tone="cheerful")
    assert main(["playbooks", "check", str(directory)]) == 1
    out = capsys.readouterr().out
    assert "custom.yaml: statement.tone" in out and "problem(s)" in out
    assert main(["playbooks", "check", str(tmp_path / "nowhere")]) == 1
    config = tmp_path / "yingji.yaml"
    config.write_text(yaml.safe_dump({"playbooks_dir": "playbooks", "public_updates": {"zh": "官网公告页"}}), encoding="utf-8")
    monkeypatch.setenv("YINGJI_CONFIG", str(config))
    assert main(["playbooks", "check"]) == 1  # the deployment's playbooks_dir is checked too
    assert "custom.yaml" in capsys.readouterr().out


def test_a_headline_is_one_short_line(tmp_path: Path) -> None:
    directory = _playbook_dir(tmp_path, "site-outage", headline={"zh": "长" * 41, "en": "ok"})
    problems = check_deployment([directory])
    assert any(re.search(r"custom\.yaml: statement\.headline: .*at most 40 characters in zh", p) for p in problems)


def test_where_the_next_update_appears_comes_from_the_config() -> None:
    page = {"zh": "官网公告页", "en": "our status page"}
    playbooks: dict[str, Playbook] = {"site-outage": SHIPPED["site-outage"]}
    assert check_playbooks(playbooks, public_updates=page) == []
    facts = default_facts(SHIPPED["site-outage"], "en", "identified", where=page["en"])
    statement = render("identified", "en", facts).statement
    assert "see our status page" in statement and "this notice" not in statement
