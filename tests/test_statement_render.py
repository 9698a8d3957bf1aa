"""Statement templates and outlet rendering: tone rules, every outlet from one set of facts, limits flagged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.statements import render as render_module
from bot.statements.check import check_templates
from bot.statements.outlet_limits import DEFAULT_LIMITS, measure
from bot.statements.render import (
    SHIPPED_DIR,
    Facts,
    Rendered,
    TemplateProblem,
    render,
    template_dirs,
)
from bot.vocabulary import Language, Outlet, Stage, Tone

KEY = "INC-42"
BRAND = {"zh": "某某商城", "en": "Example Mall"}
FULL = {
    "zh": Facts(
        headline="部分用户付款后订单仍显示待支付",
        what_happened="部分用户使用支付宝付款后，订单仍显示待支付",
        affected="11月22日 08:30 以后用支付宝下单的部分用户",
        doing="已切换备用支付通道，并逐笔核对已扣款订单",
        customer_action="请勿重复付款；如已扣款，订单会在核对后自动更新",
        compensation="受影响订单赠送 10 元无门槛券",
        data="confirmed",
        data_harms=("leaked",),
        data_detail="收货手机号",
        next_update="11月23日 09:30",
        qa=(("我的订单还有效吗？", "有效。已付款的订单核对后会自动更新。"), ("我需要重新下单吗？", "不需要，请不要重复付款。")),
    ),
    "en": Facts(
        headline="Some paid orders still show as unpaid",
        what_happened="Some orders paid with Alipay still show as unpaid",
        affected="customers who paid with Alipay after 08:30 on 22 November",
        doing="We have switched to a backup payment channel and are checking every charged order",
        customer_action="Please do not pay again; charged orders will update after our check",
        compensation="A 10-yuan coupon for every affected order",
        data="confirmed",
        data_harms=("leaked",),
        data_detail="delivery phone numbers",
        next_update="23 Nov 09:30",
        qa=(("Is my order still valid?", "Yes. Paid orders update after our check."),
            ("Do I need to order again?", "No, please do not pay twice.")),
    ),
}
MINIMAL = {lang: Facts(what_happened=f.what_happened, next_update=f.next_update) for lang, f in FULL.items()}
WHERE = {"zh": "本公告", "en": "this notice"}

FORBIDDEN = {
    "zh": [
        r"预计",
        r"由于",
        r"因为",
        r"导致",
        r"\d+\s*(分钟|小时|天)内",
        r"马上",
        r"很快",
        r"尽快",
        r"(第三方|合作方|供应商|快递公司|支付宝|微信)(的)?(问题|故障|责任)",
    ],
    "en": [
        r"\bETA\b",
        r"\bwill be (fixed|resolved|restored|back)\b",
        r"\bdue to\b",
        r"\bcaused by\b",
        r"\bbecause\b",
        r"\bsoon\b",
        r"\bshortly\b",
        r"\bwithin \d",
        r"\bexpect",
        r"\bby (today|tonight|tomorrow)\b",
        r"\bpartner",
        r"\bthird[- ]party\b",
    ],
}
UNCLEAN = [
    r"[：:][ \t]*(?:$|[。，；、.,;:：])",  # a label with nothing after it
    r"[。，；、：]{2,}",
    r"[.,;:]{2,}",
    r"\s[,.;:，。；：]",
    r"^[，。；：,.;:]",
    r"\(\s*\)|（\s*）|【\s*】",
    r" {2,}",
    r"[ \t]+$",
    r"\n{3,}",
    r"None|\{\{|\{%|\}\}|%\}",
]


def _facts(lang: str, stage: str, base: dict[str, Facts], **changes: object) -> Facts:
    """The test facts for a stage: resolved has no next update unless a test gives one."""
    values = base[lang].as_dict() | changes
    if stage == "resolved" and "next_update" not in changes:
        values["next_update"] = ""
    return Facts.from_dict(values)


def _texts(rendered: Rendered) -> dict[str, str]:
    """The statement and every outlet's whole text, by name."""
    return {"statement": rendered.statement} | {name: outlet.text for name, outlet in rendered.outlets.items()}


def _assert_clean(text: str, where: str) -> None:
    """No dangling punctuation, empty labels, stray blank lines or template leftovers."""
    for pattern in UNCLEAN:
        match = re.search(pattern, text, flags=re.MULTILINE)
        assert match is None, f"{where}: /{pattern}/ matched {match.group(0)!r} in:\n{text}"


ALL = [(stage, lang) for stage in Stage for lang in Language]


@pytest.mark.parametrize("variant", ["full", "minimal"])
@pytest.mark.parametrize(("stage", "lang"), ALL)
@pytest.mark.parametrize("brand", [True, False])
def test_every_template_renders_cleanly(stage: str, lang: str, variant: str, brand: bool) -> None:
    facts = _facts(lang, stage, FULL if variant == "full" else MINIMAL)
    rendered = render(stage, lang, facts, brand=BRAND[lang] if brand else "", key=KEY)
    assert set(rendered.outlets) == set(Outlet)
    paragraphs = rendered.statement.split("\n\n")
    assert 2 <= len(paragraphs) <= 7
    headline = facts.headline or facts.what_happened
    for name, text in _texts(rendered).items():
        assert text.strip(), f"{stage}.{lang} {name} is empty"
        _assert_clean(text, f"{stage}.{lang} {name} ({variant})")
    assert facts.what_happened in rendered.statement and rendered.statement in rendered.outlets["email"].text
    if stage != "resolved":  # the resolved banner says it is over under the notice's title, not the old headline
        for name in ("banner", "push", "social"):
            assert headline in rendered.outlets[name].text, f"{stage}.{lang} {name} lost the headline"
    for question, _ in facts.qa:
        assert question in rendered.outlets["script"].text
    for name in ("banner",):
        assert "\n" not in rendered.outlets[name].text
    assert "\n" not in rendered.outlets["push"].parts["title"]
    assert "\n" not in rendered.outlets["email"].parts["subject"]
    if not brand:
        assert not any(text.startswith(("：", ":", "【")) for text in _texts(rendered).values())


@pytest.mark.parametrize(("stage", "lang"), ALL)
def test_every_outlet_comes_from_the_same_facts(stage: str, lang: str) -> None:
    facts = _facts(lang, stage, FULL)
    rendered = render(stage, lang, facts, brand=BRAND[lang], key=KEY)
    email = rendered.outlets["email"]
    assert rendered.statement in email.parts["body"], "the email carries the canonical statement"
    assert BRAND[lang] in rendered.outlets["push"].parts["title"]
    assert BRAND[lang] in rendered.outlets["social"].text
    assert BRAND[lang] in email.parts["subject"]
    assert facts.customer_action in rendered.statement
    assert facts.compensation in rendered.statement and facts.compensation in rendered.outlets["script"].text


@pytest.mark.parametrize("variant", ["full", "minimal"])
@pytest.mark.parametrize("stage", [s for s in Stage if s != "resolved"])
@pytest.mark.parametrize("lang", Language)
def test_every_outlet_says_when_the_next_update_comes_and_where(stage: str, lang: str, variant: str) -> None:
    facts = _facts(lang, stage, FULL if variant == "full" else MINIMAL)
    rendered = render(stage, lang, facts, key=KEY)
    for name, text in _texts(rendered).items():
        assert facts.next_update in text, f"{stage}.{lang} {name} does not give the next update"
        if name not in ("banner", "push", "status_page"):  # too short for more than the time; the page is the where
            assert WHERE[lang] in text, f"{stage}.{lang} {name} does not say where"
    page = {"zh": "官网公告页", "en": "our status page"}[lang]
    on_page = render(stage, lang, Facts.from_dict(facts.as_dict() | {"where": page}), key=KEY)
    assert page in on_page.statement and WHERE[lang] not in on_page.statement


@pytest.mark.parametrize("lang", Language)
def test_resolved_says_final_update_or_when_the_review_follows(lang: str) -> None:
    final = render("resolved", lang, _facts(lang, "resolved", FULL), key=KEY)
    word = "最后一次更新" if lang == "zh" else "final update"
    assert word in final.statement and word in final.outlets["social"].text
    follow = render("resolved", lang, _facts(lang, "resolved", FULL, next_update="11月25日 18:00"), key=KEY)
    assert "11月25日 18:00" in follow.statement and word not in follow.statement
    assert ("复盘" if lang == "zh" else "review") in follow.statement


NOTHING_ABOUT_DATA = {"zh": ("个人信息", "用户数据"), "en": ("personal data", "customer data")}
SAID = {
    "zh": {
        "none": "经核查，本次事件未涉及用户个人信息。",
        "suspected": "部分用户的个人信息可能被泄露或篡改，涉及收货手机号，我们正在核实。",
        "confirmed": "本次事件中，部分用户的个人信息被泄露、篡改和丢失，涉及收货手机号。",
    },
    "en": {
        "none": "We have checked: no customer personal data was affected.",
        "suspected": "Some customers' personal data may have been leaked or altered (delivery phone numbers). We are confirming this.",
        "confirmed": "Some customers' personal data was leaked, altered and lost in this incident (delivery phone numbers).",
    },
}
HARMS = {"none": [], "suspected": ["altered", "leaked"], "confirmed": ["lost", "leaked", "altered"]}


@pytest.mark.parametrize("data", ["unknown", "not_applicable"])
@pytest.mark.parametrize(("stage", "lang"), ALL)
def test_nothing_is_said_about_personal_data_until_a_person_chose(stage: str, lang: str, data: str) -> None:
    facts = _facts(lang, stage, FULL, data=data, data_harms=[], data_detail="")
    for name, text in _texts(render(stage, lang, facts, key=KEY)).items():
        assert not any(word in text for word in NOTHING_ABOUT_DATA[lang]), f"{stage}.{lang} {name} speaks of data"


@pytest.mark.parametrize("data", ["none", "suspected", "confirmed"])
@pytest.mark.parametrize(("stage", "lang"), ALL)
def test_personal_data_is_said_as_chosen(stage: str, lang: str, data: str) -> None:
    facts = _facts(lang, stage, FULL, data=data, data_harms=HARMS[data])
    rendered = render(stage, lang, facts, key=KEY)
    assert SAID[lang][data] in rendered.statement
    assert SAID[lang][data] in rendered.outlets["script"].text
    others = [said for status, said in SAID[lang].items() if status != data]
    assert not any(said in rendered.statement for said in others), "only one answer on data"
    if data != "none":
        harm = "泄露" if lang == "zh" else "leaked"
        assert harm in rendered.outlets["social"].text
        assert "丢失" not in SAID[lang]["suspected"] and "lost" not in SAID[lang]["suspected"], "only the harms chosen"


def test_old_versions_data_lost_no_is_read_as_unknown() -> None:
    """A version stored before data status had data_lost "no" by default: nobody checked, so nothing is said."""
    assert Facts.from_dict({"data_lost": "no"}).data == "unknown"
    assert Facts.from_dict({"data_lost": "unknown"}).data == "unknown"
    assert Facts.from_dict({"data_lost": "yes"}) == Facts(data="confirmed")
    assert Facts.from_dict({"data_lost": "yes", "data": "none"}).data == "none"
    old = render("investigating", "zh", Facts.from_dict(MINIMAL["zh"].as_dict() | {"data_lost": "no"}))
    assert "个人信息" not in old.statement


@pytest.mark.parametrize("variant", ["full", "minimal"])
@pytest.mark.parametrize(("stage", "lang"), ALL)
@pytest.mark.parametrize("tone", Tone)
def test_no_guessed_cause_no_promised_time_no_key(stage: str, lang: str, variant: str, tone: str) -> None:
    facts = _facts(lang, stage, FULL if variant == "full" else MINIMAL, tone=tone)
    rendered = render(stage, lang, facts, brand=BRAND[lang], key=KEY)
    for name, text in _texts(rendered).items():
        assert KEY not in text, f"{stage}.{lang} {name} shows the internal key"
        for pattern in FORBIDDEN[lang]:
            assert not re.search(pattern, text, flags=re.IGNORECASE), f"{stage}.{lang} {name}: /{pattern}/"


APOLOGY = {"zh": "歉", "en": "sorry"}


@pytest.mark.parametrize(("stage", "lang"), ALL)
def test_each_kind_of_incident_has_its_tone(stage: str, lang: str) -> None:
    def statement(tone: str) -> str:
        return render(stage, lang, _facts(lang, stage, MINIMAL, tone=tone), key=KEY).statement

    def count(text: str) -> int:
        return text.lower().count(APOLOGY[lang])

    assert count(statement("service")) == 1, "a fault of ours: apologise once"
    assert ("不便" if lang == "zh" else "inconvenience") in statement("service")
    breach = statement("breach")
    assert count(breach) == 1 and ("不便" not in breach and "inconvenience" not in breach), "a risk, not an inconvenience"
    assert ("承担应有的责任" if lang == "zh" else "take responsibility") in breach
    assert count(statement("rumour")) == 0, "no apology for a rumour: it would read as an admission"
    assert count(statement("disaster")) == 0 and count(statement("fraud")) == 0
    assert statement("fraud").startswith("谨防诈骗" if lang == "zh" else "Scam alert")
    assert ("停止使用" if lang == "zh" else "stop using") in statement("safety")
    normal = "恢复正常" if lang == "zh" else "working"
    for tone in ("breach", "rumour", "fraud", "safety"):
        assert normal not in statement(tone), f"{tone}: only a fault of our service is over when it works again"
    assert (normal in statement("service")) == (stage == "resolved")


@pytest.mark.parametrize(("stage", "lang"), ALL)
def test_script_is_the_playbooks_questions_then_only_what_is_true_of_any_incident(stage: str, lang: str) -> None:
    q, a = ("问：", "答：") if lang == "zh" else ("Q: ", "A: ")

    def script(**changes: object) -> list[str]:
        text = render(stage, lang, _facts(lang, stage, FULL, **changes), key=KEY).outlets["script"].text
        lines = [line for line in text.splitlines() if line.strip()]
        assert len(lines) % 2 == 0, text
        for index, line in enumerate(lines):
            assert line.startswith(q if index % 2 == 0 else a), line
        return lines[::2]

    full = script()
    assert full[:2] == [q + question for question, _ in FULL[lang].qa], "the playbook's own questions first"
    assert len(full) == 5, "then when we say more, compensation and personal data (both chosen here)"
    bare = script(compensation="", data="unknown", data_harms=[], data_detail="")
    assert len(bare) == 3, "no compensation or data question when nobody chose them"
    assert not any("扣款" in line or "charged twice" in line for line in bare), "no payment question for every kind"
    if stage != "resolved":
        answers = render(stage, lang, _facts(lang, stage, FULL), key=KEY).outlets["script"].text
        assert ("不对结束时间做猜测" if lang == "zh" else "do not guess") in answers


def test_measure_counts_what_a_reader_counts() -> None:
    assert measure("中文") == 2 and len("中文".encode()) == 6
    assert measure("abc") == 3
    assert measure("e\u0301") == 1  # composed by NFC
    assert measure("a\u0332") == 1  # a combining mark with no precomposed form
    assert measure("👍🏽") == 1
    assert measure("👨\u200d👩\u200d👧") == 1
    assert measure("❤\ufe0f") == 1
    assert measure("🇨🇳") == 1 and measure("🇨🇳🇺🇸") == 2
    assert measure("") == 0


def test_a_sixty_character_chinese_banner_fits_exactly() -> None:
    overhead = measure(render("investigating", "zh", Facts(headline="", next_update="09:30")).outlets["banner"].text)
    fits = Facts(headline="中" * (60 - overhead), next_update="09:30")
    banner = render("investigating", "zh", fits).outlets["banner"]
    assert banner.length == 60 and banner.limit == 60 and not banner.over and not banner.problems
    too_long = render("investigating", "zh", Facts(headline="中" * (61 - overhead), next_update="09:30"))
    assert too_long.outlets["banner"].over and "banner" in too_long.flagged
    assert too_long.outlets["banner"].problems == ["网站横幅 61/60 字，超出 1 字"]


@pytest.mark.parametrize(("stage", "lang"), ALL)
def test_example_facts_fit_every_outlet(stage: str, lang: str) -> None:
    rendered = render(stage, lang, _facts(lang, stage, FULL, data="none", data_harms=[]), brand=BRAND[lang], key=KEY)
    assert rendered.flagged == [], {n: o.problems for n, o in rendered.outlets.items()}


@pytest.mark.parametrize(("stage", "lang"), ALL)
def test_over_long_facts_are_flagged_never_cut(stage: str, lang: str) -> None:
    long_fact = ("部分用户下单后页面长时间无响应" * 8) if lang == "zh" else ("Some checkout pages do not load " * 10).strip()
    facts = _facts(lang, stage, FULL, headline=long_fact, compensation=long_fact)
    rendered = render(stage, lang, facts, brand=BRAND[lang], key=KEY)
    for name in ("banner", "push", "social") if stage != "resolved" else ("social",):  # resolved: no headline
        outlet = rendered.outlets[name]
        assert outlet.over and name in rendered.flagged
        assert long_fact in outlet.text, f"{name} was truncated"
        assert outlet.problems
    assert rendered.flagged == [n for n in Outlet if n in rendered.flagged], "draft order"
    assert "email" not in rendered.flagged and "script" not in rendered.flagged


def test_push_title_and_email_subject_have_their_own_limits() -> None:
    rendered = render(
        "investigating", "en", MINIMAL["en"], brand="An Extremely Long Brand Name Limited", limits={"email_subject": 30}
    )
    push, email = rendered.outlets["push"], rendered.outlets["email"]
    assert set(push.parts) == {"title", "body"} and set(email.parts) == {"subject", "body"}
    assert push.over and push.length <= push.limit, "the body fits; only the title is over"
    assert any(p.startswith("push title ") and "/40 characters" in p for p in push.problems)
    assert email.over and any(p.startswith("email subject ") for p in email.problems)
    assert rendered.flagged == ["push", "email"]


def test_limits_are_configurable_and_checked() -> None:
    rendered = render("investigating", "zh", MINIMAL["zh"], limits={"banner": 10})
    assert rendered.flagged == ["banner"] and rendered.outlets["banner"].limit == 10
    assert render("investigating", "zh", MINIMAL["zh"]).outlets["social"].limit == DEFAULT_LIMITS["social"]
    with pytest.raises(ValueError, match="bogus"):
        render("investigating", "zh", MINIMAL["zh"], limits={"bogus": 3})
    with pytest.raises(ValueError, match="positive"):
        render("investigating", "zh", MINIMAL["zh"], limits={"banner": 0})


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="stage"):
        render("closed", "zh", MINIMAL["zh"])
    with pytest.raises(ValueError, match="language"):
        render("investigating", "fr", MINIMAL["zh"])
    with pytest.raises(ValueError, match="data must be"):
        render("investigating", "zh", Facts(what_happened="x", data="maybe"))
    with pytest.raises(ValueError, match="data_harms"):
        render("investigating", "zh", Facts(what_happened="x", data="confirmed", data_harms=("stolen",)))
    with pytest.raises(ValueError, match="tone"):
        render("investigating", "zh", Facts(what_happened="x", tone="cheerful"))


def test_facts_round_trip_and_ignore_unknown_keys() -> None:
    facts = Facts.from_dict({"what_happened": "网站无法打开", "severity": "sev1", "affected": None, "data_lost": ""})
    assert facts == Facts(what_happened="网站无法打开", data="unknown")
    assert Facts.from_dict(FULL["zh"].as_dict()) == FULL["zh"]
    assert Facts.from_dict({"data_harms": "lost, leaked"}).data_harms == ("leaked", "lost")


def test_facts_are_printed_as_the_sentences_they_are() -> None:
    facts = Facts(what_happened="网站无法打开。", doing="正在排查", customer_action="请稍后再试！", next_update="10:00")
    rendered = render("investigating", "zh", facts)
    for text in _texts(rendered).values():
        _assert_clean(text, "punctuated facts")
    assert "网站无法打开。" in rendered.statement and "正在排查。" in rendered.statement
    assert "请稍后再试！" in rendered.statement


@pytest.mark.parametrize(("stage", "lang"), ALL)
def test_no_wrapper_doubles_a_phrase(stage: str, lang: str) -> None:
    """A fact that already begins the way a wrapper would (我们发现…) is printed once, as written."""
    from bot.statements.check import repeated

    found = "我们发现部分用户无法登录。" if lang == "zh" else "We have found that some customers cannot sign in."
    rendered = render(stage, lang, _facts(lang, stage, MINIMAL, what_happened=found), key=KEY)
    for name, text in _texts(rendered).items():
        assert repeated(text) is None, f"{stage}.{lang} {name}: {repeated(text)!r}"
    assert rendered.statement.count("我们发现" if lang == "zh" else "We have found") == 1


def _write_template(directory: Path, name: str, statement: str) -> Path:
    """A complete template whose statement block is given and whose other blocks are harmless."""
    harmless = "{{ headline }} {{ next_update }} {{ where }}"
    blocks = "".join(
        f"{{% block {block} %}}{'Notice' if block in ('push_title', 'email_subject') else harmless}{{% endblock %}}\n"
        for block in ("banner", "push_title", "push_body", "social", "email_subject", "email_body", "script")
    )
    path = directory / name
    path.write_text(f"{{% block statement %}}{statement}{{% endblock %}}\n{blocks}", encoding="utf-8")
    return path


def test_an_override_directory_replaces_one_template(tmp_path: Path) -> None:
    _write_template(tmp_path, "investigating.zh.j2", "本店公告：{{ what_happened }}下次更新 {{ next_update }}，见{{ where }}。")
    assert template_dirs(tmp_path) == [tmp_path, SHIPPED_DIR] and template_dirs(None) == [SHIPPED_DIR]
    overridden = render("investigating", "zh", MINIMAL["zh"], override_dir=tmp_path)
    assert overridden.statement.startswith("本店公告：")
    shipped = render("identified", "zh", MINIMAL["zh"], override_dir=tmp_path)
    assert shipped.statement == render("identified", "zh", MINIMAL["zh"]).statement
    assert check_templates(tmp_path) == []


def test_sandbox_escape_is_refused(tmp_path: Path) -> None:
    _write_template(tmp_path, "investigating.zh.j2", "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateProblem, match=r"investigating\.zh\.j2.*unsafe"):
        render("investigating", "zh", MINIMAL["zh"], override_dir=tmp_path)
    _write_template(tmp_path, "identified.zh.j2", "{% set seen = [] %}{{ seen.append(1) }}")
    with pytest.raises(TemplateProblem, match=r"identified\.zh\.j2"):
        render("identified", "zh", MINIMAL["zh"], override_dir=tmp_path)


def test_a_typo_in_a_template_is_an_error_naming_the_file(tmp_path: Path) -> None:
    _write_template(tmp_path, "monitoring.en.j2", "{{ what_hapened }}")
    with pytest.raises(TemplateProblem, match=r"monitoring\.en\.j2.*what_hapened"):
        render("monitoring", "en", MINIMAL["en"], override_dir=tmp_path)
    problems = check_templates(tmp_path)
    assert problems and all("monitoring.en.j2" in p for p in problems)


def test_broken_or_incomplete_templates_are_reported(tmp_path: Path) -> None:
    (tmp_path / "resolved.en.j2").write_text("{% block statement %}{% if %}{% endblock %}", encoding="utf-8")
    (tmp_path / "resolved.zh.j2").write_text("{% block statement %}已解决{% endblock %}", encoding="utf-8")
    with pytest.raises(TemplateProblem, match=r"resolved\.en\.j2:1"):
        render("resolved", "en", MINIMAL["en"], override_dir=tmp_path)
    with pytest.raises(TemplateProblem, match=r"resolved\.zh\.j2: missing block\(s\) banner"):
        render("resolved", "zh", MINIMAL["zh"], override_dir=tmp_path)
    problems = check_templates(tmp_path)
    assert any("resolved.en.j2" in p for p in problems) and any("resolved.zh.j2" in p for p in problems)


def test_a_missing_template_is_a_template_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render_module, "SHIPPED_DIR", tmp_path / "shipped")
    with pytest.raises(TemplateProblem, match=r"investigating\.en\.j2: template not found"):
        render("investigating", "en", MINIMAL["en"], override_dir=tmp_path / "nowhere")
    assert any("does not exist" in p for p in check_templates(tmp_path / "nowhere"))


def test_check_templates_on_the_shipped_set_finds_nothing() -> None:
    assert sorted(p.name for p in SHIPPED_DIR.glob("*.j2")) == sorted(f"{s}.{lang}.j2" for s in Stage for lang in Language)
    assert check_templates() == []


def test_a_next_update_in_another_year_shows_its_year() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from bot.statements.facts import show_time

    tz, now = ZoneInfo("Asia/Shanghai"), datetime(2026, 12, 31, 14, 0, tzinfo=UTC)  # 22:00 on New Year's Eve
    assert show_time(datetime(2026, 12, 31, 15, 0, tzinfo=UTC), tz, "en", now) == "23:00"
    assert show_time(datetime(2026, 12, 31, 17, 0, tzinfo=UTC), tz, "en", now) == "Jan 01 2027, 01:00"
    assert show_time(datetime(2026, 12, 31, 17, 0, tzinfo=UTC), tz, "zh", now) == "2027年1月1日 01:00"
