"""Tests for the playbook schema, the loader's error messages, and the quality of the shipped playbooks."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.playbooks import (
    SHIPPED_DIR,
    Playbook,
    PlaybookError,
    Text,
    check_dir,
    load_playbook,
    load_playbooks,
)
from bot.vocabulary import Phase, Role
from tests.helpers import StackFactory

SLUGS = (
    "site-outage",
    "payment-failure",
    "data-breach",
    "cyber-attack",
    "traffic-surge",
    "order-anomaly",
    "inventory-anomaly",
    "logistics-disruption",
    "after-sales-surge",
    "public-opinion",
    "cross-border-platform",
    "natural-disaster",
    "supply-chain-interruption",
    "coupon-campaign-failure",
    "product-safety-recall",
    "mispriced-orders",
    "fraud-scam",
    "ransomware",
    "warehouse-fire",
    "epidemic",
)
CJK = re.compile(r"[\u4e00-\u9fff]")
# The breach carries more duties in law than any other scenario (PIPL, the CAC measures, GDPR arts. 33 and 34, the
# police, the card brands): its checklist may run longer than the others'.
MAX_STEPS = {"data-breach": 18}


@pytest.fixture(scope="module")
def shipped() -> dict[str, Playbook]:
    """All shipped playbooks, loaded once."""
    return load_playbooks([SHIPPED_DIR])


def texts(node: Any) -> list[Text]:
    """Every Text inside a model, so bilingual checks cannot miss a field."""
    if isinstance(node, Text):
        return [node]
    if isinstance(node, list):
        return [t for item in node for t in texts(item)]
    if isinstance(node, dict):
        return [t for item in node.values() for t in texts(item)]
    if hasattr(node, "__pydantic_fields__"):
        return [t for name in type(node).model_fields for t in texts(getattr(node, name))]
    return []


def minimal(slug: str = "mini") -> dict[str, Any]:
    """A small valid playbook as a dict, to break one field at a time."""
    t = {"zh": "文字", "en": "text"}
    return {
        "slug": slug,
        "name": dict(t),
        "description": dict(t),
        "default_severity": "sev3",
        "roles": ["commander", "tech"],
        "duties": {"commander": dict(t), "tech": dict(t)},
        "steps": [
            {"id": "look", "phase": "detect", "title": dict(t), "owner": "tech", "due_minutes": 10},
            {"id": "decide", "phase": "respond", "title": dict(t), "owner": "commander", "due_minutes": 20},
        ],
        "statement": {"tone": "service", "headline": dict(t), "what_happened": dict(t), "doing": dict(t),
                      "customer_action": dict(t), "affected": dict(t), "qa": [{"q": dict(t), "a": dict(t)}] * 2,
                      "compensation": [dict(t)]},
        "clocks": [],
    }


def write(directory: Path, data: Any, slug: str = "mini") -> Path:
    """Write a playbook (dict or raw YAML text) to directory/<slug>.yaml."""
    path = directory / f"{slug}.yaml"
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path, **kwargs: Any) -> str:
    """Load a file that must be refused and return the error message."""
    with pytest.raises(PlaybookError) as info:
        load_playbook(path, **kwargs)
    assert isinstance(info.value, ValueError)
    return str(info.value)


# --- shipped playbooks -------------------------------------------------------------------------


def test_all_twenty_ship_and_are_valid(shipped: dict[str, Playbook]) -> None:
    assert sorted(shipped) == sorted(SLUGS)
    assert list(shipped) == sorted(shipped)
    assert check_dir(SHIPPED_DIR) == []
    assert sorted(p.stem for p in SHIPPED_DIR.glob("*.yaml")) == sorted(SLUGS)


@pytest.mark.parametrize("slug", SLUGS)
def test_every_text_is_bilingual(shipped: dict[str, Playbook], slug: str) -> None:
    pb = shipped[slug]
    found = texts(pb)
    hints = pb.statement
    statement = 4 + (hints.affected is not None) + 2 * len(hints.qa) + len(hints.compensation)  # headline … qa
    expected = 2 + len(pb.duties) + len(pb.steps) + statement + len(pb.clocks)
    assert len(found) == expected, "the walk reached every text field"
    for text in found:
        assert CJK.search(text.zh), f"{slug}: zh has no Chinese: {text.zh!r}"
        assert not CJK.search(text.en), f"{slug}: en has Chinese: {text.en!r}"


@pytest.mark.parametrize("slug", SLUGS)
def test_steps_cover_the_closed_loop(shipped: dict[str, Playbook], slug: str) -> None:
    pb = shipped[slug]
    assert 7 <= len(pb.steps) <= MAX_STEPS.get(slug, 15)
    assert {s.phase for s in pb.steps} == set(Phase)
    assert "commander" in pb.roles
    assert {s.owner for s in pb.steps} == set(pb.roles), "every role owns at least one step"
    assert set(pb.duties) == set(pb.roles)
    assert len(pb.statement.compensation) >= 1


@pytest.mark.parametrize("slug", SLUGS)
def test_time_limits_make_sense(shipped: dict[str, Playbook], slug: str) -> None:
    pb = shipped[slug]
    first = min(s.due_minutes for s in pb.steps)
    assert first <= {"sev1": 15, "sev2": 30, "sev3": 60, "sev4": 120}[pb.default_severity]
    detect = max(s.due_minutes for s in pb.steps if s.phase == "detect")
    review = min(s.due_minutes for s in pb.steps if s.phase == "review")
    assert detect < review
    assert review >= 24 * 60, "reviews happen after the dust settles"
    assert [s.due_minutes for s in pb.steps] == sorted(s.due_minutes for s in pb.steps), "checklist in time order"


def test_only_the_breach_is_private_and_legal_heavy_ones_need_legal(shipped: dict[str, Playbook]) -> None:
    assert [s for s, p in shipped.items() if p.private] == ["data-breach"]
    for slug in ("data-breach", "cyber-attack", "cross-border-platform"):
        assert shipped[slug].legal_review and "legal" in shipped[slug].roles
    for pb in shipped.values():
        if pb.legal_review:
            assert "legal" in pb.roles


def test_data_breach_has_the_four_clocks_each_stopped_by_legal(shipped: dict[str, Playbook]) -> None:
    pb = shipped["data-breach"]
    assert pb.default_severity == "sev1" and pb.private and pb.legal_review
    clocks = {c.id: c for c in pb.clocks}
    assert set(clocks) == {"pipl-57", "cn-report-cii", "cn-report-other", "gdpr-33"}
    assert clocks["pipl-57"].immediate and clocks["pipl-57"].applies_to is None
    assert (clocks["cn-report-cii"].minutes, clocks["cn-report-cii"].applies_to) == (60, "cii-operator")
    assert (clocks["cn-report-other"].minutes, clocks["cn-report-other"].applies_to) == (240, "other-operator")
    # The CN clocks wait for legal's grade (较大 or above), never our severity.
    assert clocks["cn-report-cii"].min_severity is None and clocks["cn-report-other"].min_severity is None
    assert clocks["cn-report-cii"].min_legal_grade == clocks["cn-report-other"].min_legal_grade == "relatively-major"
    assert (clocks["gdpr-33"].minutes, clocks["gdpr-33"].applies_to) == (72 * 60, "gdpr")
    for clock in pb.clocks:
        stoppers = [s for s in pb.steps if s.clock == clock.id]
        assert len(stoppers) == 1 and stoppers[0].owner == "legal"
        assert stoppers[0].due_minutes <= clock.minutes
    first_change = min(s.due_minutes for s in pb.steps if s.id == "contain")
    assert pb.step("preserve-evidence").due_minutes <= first_change, "evidence before changes"


def test_cyber_attack_has_the_cn_reporting_clocks(shipped: dict[str, Playbook]) -> None:
    pb = shipped["cyber-attack"]
    assert {c.id for c in pb.clocks} == {"cn-report-cii", "cn-report-other"}
    for clock in pb.clocks:
        assert [s.owner for s in pb.steps if s.clock == clock.id] == ["legal"]
    assert pb.clocks_for("sev1", {"cii-operator", "other-operator"}) == []  # our severity starts none of them
    assert [c.id for c in pb.clocks if c.applies_at_grade("relatively-major", {"cii-operator"})] == ["cn-report-cii"]
    assert [c.id for c in pb.clocks if c.applies_at_grade("general", {"cii-operator", "other-operator"})] == []


def test_clock_selection_by_severity_and_deployment_tags(shipped: dict[str, Playbook]) -> None:
    pb = shipped["data-breach"]
    assert [c.id for c in pb.clocks_for("sev1")] == ["pipl-57"]
    assert [c.id for c in pb.clocks_for("sev1", ["other-operator", "gdpr"])] == ["pipl-57", "gdpr-33"]
    assert [c.id for c in pb.clocks_for("sev4", ["other-operator"])] == ["pipl-57"]
    graded = [c.id for c in pb.clocks if c.applies_at_grade("major", ["other-operator", "gdpr"])]
    assert graded == ["cn-report-other"]
    assert [c.id for c in pb.clocks if c.applies_at_grade("not-reportable", ["other-operator", "cii-operator"])] == []


def test_coupon_campaign_keeps_issued_coupons_valid(shipped: dict[str, Playbook]) -> None:
    pb = shipped["coupon-campaign-failure"]
    pause = pb.step("pause-issuance")
    assert "已领取的券保持有效" in pause.title.zh and "stay valid" in pause.title.en
    assert "继续有效" in pb.step("pause-notice").title.zh
    assert "继续有效" in pb.statement.headline.zh and "remain valid" in pb.statement.headline.en
    assert "作废" in pb.duties["commander"].zh and "never to void" in pb.duties["commander"].en
    assert pb.step("resume-notice").phase == "recover"
    assert pb.step("reconcile-coupons").owner == "tech"


def test_payment_failure_is_concrete(shipped: dict[str, Playbook]) -> None:
    pb = shipped["payment-failure"]
    zh = " ".join(t.zh for t in texts(pb))
    for word in ("支付宝", "微信支付", "银联", "重复扣款", "原路退款", "查单"):
        assert word in zh
    assert pb.step("switch-channel").phase == "respond"


def test_text_get_picks_language() -> None:
    text = Text(zh="支付故障", en="Payment failure")
    assert text.get("zh") == text.get("zh-CN") == "支付故障"
    assert text.get("en") == text.get("fr") == "Payment failure"


# --- refusing broken files ---------------------------------------------------------------------


def test_minimal_playbook_loads(tmp_path: Path) -> None:
    pb = load_playbook(write(tmp_path, minimal()))
    assert pb.slug == "mini" and pb.step("look").owner == "tech" and pb.clocks == []


def test_unknown_step_owner_is_refused(tmp_path: Path) -> None:
    data = minimal()
    data["steps"][1]["owner"] = "janitor"
    path = write(tmp_path, data)
    msg = refused(path)
    assert msg == f"{path}: steps.1.owner: expected one of the playbook's roles: commander, tech (got 'janitor')"


def test_unknown_role_is_refused_unless_configured(tmp_path: Path) -> None:
    data = minimal()
    data["roles"].append("warehouse")
    data["duties"]["warehouse"] = {"zh": "盘点", "en": "Count stock"}
    data["steps"][0]["owner"] = "warehouse"
    path = write(tmp_path, data)
    assert f"{path}: roles.2: expected one of the known roles: {', '.join(Role)} (got 'warehouse')" in refused(path)
    pb = load_playbook(path, known_roles=(*Role, "warehouse"))
    assert pb.step("look").owner == "warehouse"


def test_missing_english_text_is_refused(tmp_path: Path) -> None:
    data = minimal()
    del data["steps"][0]["title"]["en"]
    data["name"]["en"] = "   "
    path = write(tmp_path, data)
    lines = refused(path).splitlines()
    assert f"{path}: steps.0.title.en: Field required" in lines
    assert any(line.startswith(f"{path}: name.en: String should have at least 1 character") for line in lines)


def test_bad_severity_is_refused(tmp_path: Path) -> None:
    data = minimal()
    data["default_severity"] = "sev5"
    path = write(tmp_path, data)
    msg = refused(path)
    assert msg.startswith(f"{path}: default_severity: Input should be 'sev1', 'sev2', 'sev3' or 'sev4'")
    assert "'sev5'" in msg


def test_duplicate_step_id_is_refused(tmp_path: Path) -> None:
    data = minimal()
    data["steps"][1]["id"] = "look"
    path = write(tmp_path, data)
    assert refused(path) == f"{path}: steps.1.id: expected a step id unique in this playbook (got 'look')"


def test_yaml_syntax_error_names_path_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "slug: mini\nname: {zh: 名字, en: Name}\nroles: [commander, tech\nsteps: []\n")
    msg = refused(path)
    assert msg.startswith(f"{path}: line ") and "YAML syntax error" in msg
    assert re.search(r"line [34], column \d+", msg)


def test_non_mapping_and_empty_files_are_refused(tmp_path: Path) -> None:
    listed = write(tmp_path, "- slug: mini\n")
    assert refused(listed) == f"{listed}: (top level): expected a mapping of playbook fields, got a list"
    empty = write(tmp_path, "", slug="empty")
    assert "got an empty file" in refused(empty)


def test_reference_problems_each_get_a_line(tmp_path: Path) -> None:
    data = minimal()
    data["slug"] = "other"
    data["steps"][0]["clock"] = "pipl-57"
    data["steps"][1]["due_minutes"] = 0
    path = write(tmp_path, data)
    lines = refused(path).splitlines()
    assert lines[0] == f"{path}: slug: expected the file name without extension, 'mini' (got 'other')"
    assert f"{path}: steps.1.due_minutes: Input should be greater than 0 (got 0)" in lines
    data["steps"][1]["due_minutes"] = 5
    data["duties"]["legal"] = {"zh": "法务", "en": "Legal"}
    data["clocks"] = [{"id": "gdpr-33", "name": {"zh": "通知", "en": "Notify"}, "basis": "GDPR art. 33", "minutes": 4320}]
    lines = refused(write(tmp_path, data)).splitlines()
    assert any(": duties.legal: expected a duty only for roles in `roles`" in line for line in lines)
    assert any(": steps.0.clock: expected the id of a clock in `clocks` (gdpr-33) (got 'pipl-57')" in line for line in lines)
    assert any(": clocks.0.id: expected a step whose `clock` stops this clock" in line for line in lines)


def test_unknown_keys_and_missing_duties_are_refused(tmp_path: Path) -> None:
    data = minimal()
    data["steps"][0]["due_minute"] = 5
    path = write(tmp_path, data)
    assert f"{path}: steps.0.due_minute: expected no such field here" in refused(path)
    data = minimal()
    del data["duties"]["tech"]
    path = write(tmp_path, data)
    assert refused(path) == f"{path}: duties.tech: expected a duty for every role in `roles`"


# --- directories and overrides -----------------------------------------------------------------


def test_override_dir_replaces_a_shipped_slug_and_adds_a_new_one(tmp_path: Path) -> None:
    shipped_pf = load_playbook(SHIPPED_DIR / "payment-failure.yaml")
    custom = yaml.safe_load((SHIPPED_DIR / "payment-failure.yaml").read_text(encoding="utf-8"))
    custom["default_severity"] = "sev1"
    custom["name"] = {"zh": "支付故障（本公司版）", "en": "Payment failure (our version)"}
    write(tmp_path, custom, slug="payment-failure")
    write(tmp_path, minimal("store-flood"), slug="store-flood")

    merged = load_playbooks([SHIPPED_DIR, tmp_path])
    assert list(merged) == sorted([*SLUGS, "store-flood"])
    assert merged["payment-failure"].default_severity == "sev1" != shipped_pf.default_severity
    assert merged["payment-failure"].name.en == "Payment failure (our version)"
    assert merged["site-outage"] == load_playbook(SHIPPED_DIR / "site-outage.yaml")
    assert load_playbooks([tmp_path, SHIPPED_DIR])["payment-failure"] == shipped_pf


def test_load_playbooks_reports_every_bad_file(tmp_path: Path) -> None:
    write(tmp_path, "a: [\n", slug="broken")
    bad = copy.deepcopy(minimal("bad"))
    bad["default_severity"] = "high"
    write(tmp_path, bad, slug="bad")
    with pytest.raises(PlaybookError) as info:
        load_playbooks([SHIPPED_DIR, tmp_path])
    assert len(info.value.problems) == 2
    assert any(p.startswith(str(tmp_path / "broken.yaml")) for p in info.value.problems)
    assert any(p.startswith(f"{tmp_path / 'bad.yaml'}: default_severity:") for p in info.value.problems)


def test_check_dir_never_raises(tmp_path: Path) -> None:
    assert check_dir(tmp_path) == []
    write(tmp_path, "{{{", slug="x")
    write(tmp_path, "just a string", slug="y")
    (tmp_path / "y.yml").write_text("slug: y\n", encoding="utf-8")
    problems = check_dir(tmp_path)
    assert len(problems) == 3
    assert any("YAML syntax error" in p for p in problems)
    assert any("got a str" in p for p in problems)
    assert any("expected one file per slug" in p for p in problems)
    assert check_dir(tmp_path / "missing") == [f"{tmp_path / 'missing'}: expected a directory of playbook YAML files"]


async def test_a_playbook_sets_its_own_update_cadence_else_the_severitys(make_stack: StackFactory) -> None:
    stack = await make_stack(config={"cadence_minutes": {"sev2": 45}})
    rt = stack.rt
    assert rt.playbooks["natural-disaster"].cadence_minutes == 120 and rt.playbooks["payment-failure"].cadence_minutes is None
    assert rt.cadence("sev1", "natural-disaster") == 120  # the playbook's own, whatever the severity
    assert rt.cadence("sev1", "payment-failure") == 15  # the severity's default
    assert rt.cadence("sev2", "payment-failure") == 45  # the severity's, as yingji.yaml overrides it
    assert rt.cadence("sev4", "payment-failure") is None and rt.cadence("sev2", "removed-since") == 45


async def test_a_step_the_law_requires_shows_its_article_beside_its_title(make_stack: StackFactory) -> None:
    from sqlmodel import select

    from bot.models import Step
    from tests.helpers import declare

    stack = await make_stack()
    basis = next(s.basis for s in stack.rt.playbooks["fraud-scam"].steps if s.id == "block-accounts")
    assert basis
    incident = await declare(stack, "declare sev2 fraud-scam 冒充客服退款诈骗")
    async with stack.rt.sessions() as session:
        steps = {s.step_key: s.title for s in (await session.exec(select(Step).where(Step.incident_id == incident.id))).all()}
    assert steps["block-accounts"].endswith(f"（依据：{basis}）")
    assert "依据" not in steps["collect-reports"]  # a step of our own cites nothing
