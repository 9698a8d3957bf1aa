"""The legal facts in the shipped playbooks: a step the law requires cites its article, a deadline the law leaves at
"immediately" is shown as our own target, and the breach playbook carries every duty counsel listed (issue 23)."""

from __future__ import annotations

import re

import pytest

from bot.playbooks import SHIPPED_DIR, Playbook, Step, load_playbooks

# An article cited in a title: 第五十七条, 第 4 条, art. 57, arts. 33 and 34, req. 12.10.1.
ARTICLE = re.compile(r"第\s*[一二三四五六七八九十百零〇\d]+\s*条|\barts?\.\s*\d|\breq\.\s*\d")
PIPL = re.compile(r"PIPL|个人信息保护法")
CN_CLOCKS = ("cn-report-cii", "cn-report-other")
MEASURES = "国家网络安全事件报告管理办法 第四条"


@pytest.fixture(scope="module")
def shipped() -> dict[str, Playbook]:
    return load_playbooks([SHIPPED_DIR])


def _steps(shipped: dict[str, Playbook]) -> list[tuple[str, Step]]:
    return [(slug, step) for slug, pb in shipped.items() for step in pb.steps]


def test_every_step_a_clock_waits_on_cites_its_basis(shipped: dict[str, Playbook]) -> None:
    missing = [f"{slug}/{step.id}" for slug, step in _steps(shipped) if step.clock and not step.basis]
    assert not missing, f"a step that stops a regulatory clock names the article requiring it: {missing}"


def test_every_step_whose_title_cites_an_article_carries_a_basis(shipped: dict[str, Playbook]) -> None:
    missing = [f"{slug}/{step.id}" for slug, step in _steps(shipped)
               if (ARTICLE.search(step.title.zh) or ARTICLE.search(step.title.en)) and not step.basis]
    assert not missing, f"a title citing an article carries that article as its basis: {missing}"


def test_a_deadline_the_law_leaves_at_immediately_is_shown_as_our_target(shipped: dict[str, Playbook]) -> None:
    """PIPL art. 57 (and 消保法 art. 19) say 立即 and set no hours: a clock's minutes are our target, never the law."""
    seen = 0
    for slug, pb in shipped.items():
        for clock in pb.clocks:
            if PIPL.search(clock.name.zh + clock.name.en + clock.basis):
                assert clock.immediate, f"{slug}/{clock.id}: PIPL art. 57 sets no hours; the clock says immediately"
            if not clock.immediate:
                continue
            seen += 1
            assert "内部目标" in clock.name.zh and "our target" in clock.name.en, f"{slug}/{clock.id}: {clock.name}"
            assert "立即" in clock.basis and "sets no hours" in clock.basis and "own target" in clock.basis, clock.basis
            [stopper] = [s for s in pb.steps if s.clock == clock.id]
            assert "目标" in stopper.title.zh and "target" in stopper.title.en, f"{slug}/{stopper.id}"
    assert seen >= 3  # pipl-57, crpl-19-report, crpl-19-notify


def test_pipl_clock_is_named_as_counsel_asked(shipped: dict[str, Playbook]) -> None:
    clock = next(c for c in shipped["data-breach"].clocks if c.id == "pipl-57")
    assert clock.name.zh == "个人信息保护法第五十七条：立即采取补救措施并通知（内部目标 1 小时）"
    assert clock.minutes == 60 and clock.immediate
    step = shipped["data-breach"].step("notify-pipl")
    assert step.basis == "个人信息保护法 第五十七条" and "立即" in step.title.zh and "immediately" in step.title.en


def test_breach_tells_individuals_only_after_legal_decides(shipped: dict[str, Playbook]) -> None:
    pb = shipped["data-breach"]
    ids = [s.id for s in pb.steps]
    decide, gdpr34, notify = pb.step("decide-individuals"), pb.step("gdpr-34"), pb.step("notify-people")
    assert decide.owner == "legal" and decide.clock is None
    assert decide.basis is not None and "第五十七条第二款" in decide.basis and "GDPR art. 34" in decide.basis
    assert "记录" in decide.title.zh and "record" in decide.title.en
    assert ids.index("decide-individuals") < ids.index("notify-people")
    assert decide.due_minutes <= notify.due_minutes
    assert notify.owner == "comms"
    assert notify.basis is not None and "个人信息保护法 第五十七条" in notify.basis and "GDPR art. 34" in notify.basis
    # Art. 34: legal's, with no fixed-hour clock ("without undue delay"), and its exceptions in 34(3).
    assert gdpr34.owner == "legal" and gdpr34.clock is None and gdpr34.basis == "GDPR art. 34"
    assert "无不当延迟" in gdpr34.title.zh and "without undue delay" in gdpr34.title.en
    for word in ("加密", "不成比例", "公开通告"):
        assert word in gdpr34.title.zh, word
    for word in ("encrypted", "disproportionate effort", "public notice"):
        assert word in gdpr34.title.en, word


def test_breach_notifies_every_eu_authority_and_documents_either_way(shipped: dict[str, Playbook]) -> None:
    pb = shipped["data-breach"]
    step = pb.step("notify-gdpr")
    assert step.clock == "gdpr-33" and step.owner == "legal"
    assert step.basis is not None and "GDPR art. 33" in step.basis and "(5)" in step.basis
    assert "每一个成员国的监管机构" in step.title.zh and "every member state" in step.title.en
    assert "一站式" in step.title.zh and "one-stop shop" in step.title.en
    assert "迟延理由" in step.title.zh and "reasons for any delay" in step.title.en  # art. 33(1), later than 72 h
    assert "不太可能" in step.title.zh and "unlikely to result in a risk" in step.title.en  # the exception
    assert "第三十三条第五款" in step.title.zh and "art. 33(5)" in step.title.en  # documented either way
    everything = " ".join([*(s.title.zh + s.title.en + (s.basis or "") for s in pb.steps),
                           *(c.name.zh + c.name.en + c.basis for c in pb.clocks),
                           *(d.zh + d.en for d in pb.duties.values())])
    for wrong in ("牵头监管机构", "lead supervisory authority", "lead authority"):
        assert wrong not in everything, wrong


def test_breach_reports_crime_and_card_data(shipped: dict[str, Playbook]) -> None:
    pb = shipped["data-breach"]
    police = pb.step("police-report")
    assert police.owner == "legal" and police.basis == "网络数据安全管理条例 第十一条"
    assert "公安机关" in police.title.zh and "police" in police.title.en
    cards = pb.step("card-schemes")
    assert cards.owner in ("legal", "finance") and cards.owner in pb.roles
    assert cards.basis == "PCI DSS v4.0 req. 12.10.1" and cards.clock is None  # each brand sets its own deadline
    assert "收单机构" in cards.title.zh and "卡组织" in cards.title.zh
    assert "acquirer" in cards.title.en and "card brand" in cards.title.en
    assert "目标" in cards.title.zh and "our own target" in cards.title.en


def test_cii_reporting_is_worded_as_the_measures_word_it(shipped: dict[str, Playbook]) -> None:
    """The measures speak of an incident 涉及关键信息基础设施 at 较大 or above, not of 关键信息基础设施运营者."""
    with_cii = sorted(slug for slug, pb in shipped.items() if any(c.id == "cn-report-cii" for c in pb.clocks))
    assert with_cii == ["cyber-attack", "data-breach", "payment-failure", "ransomware", "site-outage"]
    for slug in with_cii:
        pb = shipped[slug]
        clocks = {c.id: c for c in pb.clocks}
        for clock_id in CN_CLOCKS:
            assert "国家网络安全事件报告管理办法" in clocks[clock_id].basis and "第四条" in clocks[clock_id].basis
            [step] = [s for s in pb.steps if s.clock == clock_id]
            assert step.basis == MEASURES, f"{slug}/{step.id}"
            assert step.title.zh.startswith("较大及以上网络安全事件"), f"{slug}/{step.id}"
            assert step.title.en.startswith("A relatively major or worse incident"), f"{slug}/{step.id}"
        cii = next(s for s in pb.steps if s.clock == "cn-report-cii")
        assert "涉及关键信息基础设施" in cii.title.zh and "involving critical information infrastructure" in cii.title.en
        assert "涉及关键信息基础设施" in clocks["cn-report-cii"].name.zh
        assert "involving critical information infrastructure" in clocks["cn-report-cii"].name.en
        [grade] = [s for s in pb.steps if s.asks == "legal_grade"]
        assert grade.basis == MEASURES and "《国家网络安全事件报告管理办法》第四条" in grade.title.zh
        text = " ".join([*(s.title.zh + s.title.en for s in pb.steps), *(c.name.zh + c.name.en for c in pb.clocks),
                         *(d.zh + d.en for d in pb.duties.values())])
        assert "关键信息基础设施运营者" not in text and "significant or above" not in text, slug
        assert "《网络安全事件报告管理办法》" not in text, f"{slug}: the measures' title starts with 国家"


def test_the_recall_report_presents_no_unverified_limit_as_law(shipped: dict[str, Playbook]) -> None:
    step = shipped["product-safety-recall"].step("report-serious")
    assert step.basis == "消费品召回管理暂行规定"
    assert "我们的目标" in step.title.zh and "our own target" in step.title.en
    assert "工作日" not in step.title.zh and "working day" not in step.title.en
