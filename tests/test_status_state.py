"""The status page's state from rows (pure functions, no database): which version a reader sees, when an incident
moves to history, what the day strip marks, what maintenance shows, what drills may touch; and the deployment lint's
check of a playbook's components."""

from __future__ import annotations

import html.parser
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.config import ConfigError, FileConfig, Settings
from bot.playbooks import SHIPPED_DIR
from bot.runtime import load_deployment_playbooks
from bot.statements.check import check_deployment
from bot.status_page.render import Look, render_all
from bot.status_page.state import Component, PageVersion, PublicState, Window, derive
from bot.vocabulary import ComponentState
from yingji.status_routes import choose_language

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # 15:00 in Shanghai
SALT = b"test salt"
COMPONENTS = [Component("checkout", {"zh": "下单", "en": "Checkout"}), Component("payment", {"zh": "支付", "en": "Payment"})]


def version(statement_id: int, hours_ago: float, *, incident: int = 7, stage: str = "investigating", lang: str = "zh",
            components: dict[str, str] | None = None, withdrawn_hours_ago: float | None = None,
            drill: bool = False) -> PageVersion:
    text = f"第 {statement_id} 版" if lang == "zh" else f"version {statement_id}"
    return PageVersion(statement_id, incident, drill, stage, lang, f"{text} headline", text, f"{text} banner", "t", "b",
                       components or {}, NOW - timedelta(hours=hours_ago),
                       NOW - timedelta(hours=withdrawn_hours_ago) if withdrawn_hours_ago is not None else None)


def window(number: int, starts_in: float, ends_in: float, components: tuple[str, ...], text: dict[str, str]) -> Window:
    """An approved window from `starts_in` to `ends_in` hours from now."""
    return Window(number, text, components, NOW + timedelta(hours=starts_in), NOW + timedelta(hours=ends_in))


def state(versions: list[PageVersion], windows: list[Window] = (), *, show_drills: bool = False) -> PublicState:
    return derive(versions, list(windows), COMPONENTS, now=NOW, tz=TZ, show_drills=show_drills, salt=SALT)


def test_a_reader_sees_the_newest_version_in_their_language_else_the_newest_in_the_other() -> None:
    s = state([version(1, 3), version(2, 2, lang="en"), version(3, 1)])
    [incident] = s.ongoing
    latest, earlier = incident.shown("zh")
    assert (latest.text, [u.text for u in earlier]) == ("第 3 版", ["第 1 版"])
    latest, earlier = incident.shown("en")
    assert (latest.text, earlier) == ("version 2", ())
    only_zh = state([version(1, 3), version(3, 1)]).ongoing[0]
    assert only_zh.shown("en")[0].text == "第 3 版" and only_zh.shown("en")[0].language == "zh"


def test_the_resolved_version_moves_the_incident_to_history_and_a_withdrawn_one_is_gone() -> None:
    s = state([version(1, 3, components={"checkout": "major_outage"}), version(2, 1, stage="resolved")])
    assert s.ongoing == () and [i.latest.text for i in s.resolved] == ["第 2 版"]
    assert s.overall is ComponentState.OPERATIONAL and s.banner("zh") is None
    back = state([version(1, 3, components={"checkout": "major_outage"}), version(2, 1, stage="resolved", withdrawn_hours_ago=0.5)])
    assert [i.latest.text for i in back.ongoing] == ["第 1 版"] and back.overall is ComponentState.MAJOR_OUTAGE
    assert state([version(1, 3, withdrawn_hours_ago=2)]).ongoing == ()


def test_components_follow_the_latest_version_and_the_worst_incident() -> None:
    s = state([version(1, 3, components={"checkout": "major_outage"}),
               version(2, 1, components={"checkout": "degraded", "payment": "degraded"}),
               version(5, 2, incident=8, components={"payment": "partial_outage", "ghost": "major_outage"})])
    states = {c.id: c.state for c in s.components}
    assert states == {"checkout": ComponentState.DEGRADED, "payment": ComponentState.PARTIAL_OUTAGE}
    assert s.overall is ComponentState.PARTIAL_OUTAGE
    assert s.banner("zh") == ("第 2 版 banner", "zh")  # the most recently updated incident's
    assert s.banner("en") == ("第 2 版 banner", "zh")  # none in English: the words there are


def test_the_day_strip_marks_each_days_worst_state_while_shown() -> None:
    s = state([version(1, 50, components={"checkout": "major_outage"}),      # two days ago, 13:00 local
               version(2, 40, components={"checkout": "degraded"}),
               version(3, 30, stage="resolved"),                               # yesterday, 09:00 local: over
               version(9, 20, incident=8, components={"payment": "partial_outage"}, withdrawn_hours_ago=19)])
    checkout = next(c for c in s.components if c.id == "checkout").days
    payment = next(c for c in s.components if c.id == "payment").days
    assert len(checkout) == 90 and s.days[-1] == NOW.astimezone(TZ).date()
    assert checkout[-3:] == (ComponentState.MAJOR_OUTAGE, ComponentState.DEGRADED, ComponentState.OPERATIONAL)
    assert payment[-2:] == (ComponentState.OPERATIONAL, ComponentState.OPERATIONAL)  # withdrawn an hour later: gone
    assert set(checkout[:-3]) == {ComponentState.OPERATIONAL}


def local(day: int, hour: float) -> datetime:
    """A moment in Shanghai on December `day` 2026 (NOW is the 3rd, 15:00 there)."""
    return datetime(2026, 12, day, tzinfo=TZ) + timedelta(hours=hour)


def on_page(statement_id: int, *spans: tuple[datetime, datetime | None], components: dict[str, str],
            incident: int = 7, stage: str = "investigating", drill: bool = False) -> PageVersion:
    """A version with its stays on the page, as the timeline gives them; withdrawn when its last stay ended."""
    text = f"第 {statement_id} 版"
    return PageVersion(statement_id, incident, drill, stage, "zh", text, text, text, "t", "b", components, spans[0][0],
                       spans[-1][1], spans)


def strip(versions: list[PageVersion], component: str = "checkout", days: int = 4) -> tuple[ComponentState, ...]:
    """The last `days` days of one component's strip (1st to 3rd December when 3)."""
    return next(c for c in state(versions).components if c.id == component).days[-days:]


OK, DEG, PART, MAJOR = (ComponentState.OPERATIONAL, ComponentState.DEGRADED, ComponentState.PARTIAL_OUTAGE,
                        ComponentState.MAJOR_OUTAGE)


def test_the_strip_marks_only_the_spans_a_version_was_on_the_page_not_the_gap_after_a_withdrawal() -> None:
    crossing = on_page(1, (local(1, 23), None), components={"checkout": "major_outage"})  # 23:00 local, 15:00 UTC
    assert strip([crossing]) == (OK, MAJOR, MAJOR, MAJOR)  # the span crosses midnights in Shanghai, not in UTC
    before_midnight = on_page(1, (local(1, 22), local(1, 23.5)), (local(3, 9), None), components={"checkout": "degraded"})
    assert strip([before_midnight]) == (OK, DEG, OK, DEG)  # off the page all of the 2nd: nothing claimed then
    same_day = on_page(1, (local(2, 9), local(2, 10)), (local(2, 14), None), components={"checkout": "partial_outage"})
    assert strip([same_day]) == (OK, OK, PART, PART)
    gap = on_page(2, (local(1, 8), local(1, 9)), (local(2, 8), local(2, 9)), (local(3, 8), None),
                  components={"payment": "major_outage"}, incident=8)
    replaced = on_page(3, (local(1, 20), None), components={"payment": "degraded"}, incident=8)
    assert strip([gap], "payment") == (OK, MAJOR, MAJOR, MAJOR)
    assert strip([gap, replaced], "payment") == (OK, MAJOR, DEG, DEG)  # from the 1st, 20:00 v3 is the newest shown
    assert strip([gap, replaced, crossing], "checkout") == (OK, MAJOR, MAJOR, MAJOR)  # incidents do not mix


def test_a_version_withdrawn_and_never_published_again_marks_no_day() -> None:
    only = on_page(1, (local(2, 9), local(2, 11)), components={"checkout": "major_outage"})
    assert strip([only]) == (OK, OK, OK, OK) and state([only]).ongoing == () and state([only]).resolved == ()
    later = on_page(2, (local(2, 12), None), components={"checkout": "degraded"})
    assert strip([only, later]) == (OK, OK, DEG, DEG)  # what the page shows now: v2, never v1's claim
    republished = on_page(1, (local(2, 9), local(2, 11)), (local(3, 8), None), components={"checkout": "major_outage"})
    assert strip([republished]) == (OK, OK, MAJOR, MAJOR)  # put back: its stays count again, the gap still not
    resolved = on_page(3, (local(3, 10), None), components={}, stage="resolved")
    assert strip([republished, resolved]) == (OK, OK, MAJOR, MAJOR) and state([republished, resolved]).ongoing == ()


def test_drills_never_mark_a_day_whatever_their_spans() -> None:
    drill = on_page(1, (local(1, 9), local(1, 10)), (local(2, 9), None), components={"checkout": "major_outage"},
                    drill=True)
    assert strip([drill]) == (OK, OK, OK, OK)
    shown = derive([drill], [], COMPONENTS, now=NOW, tz=TZ, show_drills=True, salt=SALT)
    assert [i.drill for i in shown.ongoing] == [True] and set(shown.components[0].days) == {OK}


def test_maintenance_is_scheduled_active_or_past_and_marks_its_components() -> None:
    windows = [window(1, -1, 1, ("checkout",), {"en": "DB upgrade"}), window(2, 24, 26, ("payment",), {"zh": "支付维护"}),
               window(3, -2400, -2376, ("payment",), {"zh": "太久以前"}), window(4, -72, -71, (), {"zh": "全站维护"})]
    s = state([], windows)
    assert [w.window.text_in("zh") for w in s.active] == [("DB upgrade", "en")]
    assert [w.window.text_in("zh")[0] for w in s.upcoming] == ["支付维护"]
    assert [w.window.text_in("zh")[0] for w in s.completed] == ["全站维护"]  # 100 days ago is past the history
    assert {c.id: c.state for c in s.components} == {"checkout": ComponentState.MAINTENANCE,
                                                     "payment": ComponentState.OPERATIONAL}
    assert s.overall is ComponentState.MAINTENANCE and s.banner("en") == ("DB upgrade", "en")
    assert s.next_boundary == NOW + timedelta(hours=1)  # the active window ends before midnight
    assert next(c for c in s.components if c.id == "checkout").days[-1] is ComponentState.MAINTENANCE


def test_drills_are_shown_only_when_asked_and_never_touch_components_or_the_banner() -> None:
    drill = version(1, 1, components={"checkout": "major_outage"}, drill=True)
    assert state([drill]).ongoing == ()
    shown = state([drill], show_drills=True)
    assert [i.drill for i in shown.ongoing] == [True]
    assert shown.overall is ComponentState.OPERATIONAL and shown.banner("zh") is None
    assert set(shown.components[0].days) == {ComponentState.OPERATIONAL}


def test_public_ids_are_opaque_and_stable() -> None:
    first = state([version(11, 3, incident=4242)]).ongoing[0]
    later = state([version(11, 3, incident=4242, withdrawn_hours_ago=1), version(12, 1, incident=4242)]).ongoing[0]
    assert first.public_id == later.public_id and "4242" not in first.public_id and first.public_id != "11"
    assert derive([version(11, 3)], [], COMPONENTS, now=NOW, tz=TZ, show_drills=False,
                  salt=b"another").ongoing[0].public_id != first.public_id


def test_every_response_renders_and_the_page_is_well_formed() -> None:
    s = state([version(1, 3, components={"checkout": "major_outage"}), version(2, 2, lang="en")],
              [window(1, -1, 1, ("checkout",), {"zh": "<b>维护</b>"})])
    look = Look({"zh": "示例商城 & 服务状态", "en": "Shop status"}, "https://cdn.example/logo.png", "#0a7cff", None, SALT)
    rendered = render_all(s, look)
    assert set(rendered) == {("page", "zh"), ("page", "en"), ("feed", "zh"), ("feed", "en"), ("json", ""), ("banner", "")}
    page = rendered["page", "zh"].decode()
    assert "&lt;b&gt;维护&lt;/b&gt;" in page and "<b>维护" not in page  # autoescaped
    assert "示例商城 &amp; 服务状态" in page and "--accent:#0a7cff" in page
    checker = _Tags()
    checker.feed(page)
    assert checker.open == [] and checker.problems == []
    hostile = PageVersion(5, 9, False, "investigating", "zh", "h", "t", "</script><b>出错</b>", "", "", {}, NOW)
    script = render_all(state([hostile]), look)["banner", ""].decode()
    assert "</script><b>" not in script and "\\u003c/script\\u003e\\u003cb\\u003e" in script and "innerHTML" not in script
    assert len(rendered["page", "en"]) < 40_000  # light on bytes: 90-day strips and all


class _Tags(html.parser.HTMLParser):
    """Every element closed in order (void elements aside)."""

    VOID = frozenset({"meta", "link", "img", "br", "hr", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.problems.append(tag)


@pytest.mark.parametrize(("asked", "accept", "default", "expected"), [
    ("en", "zh", "zh", ("en", False)), ("ZH", None, "en", ("zh", False)), (None, "en-GB,en;q=0.9", "zh", ("en", True)),
    (None, "de, zh-Hant;q=0.3, en;q=0.2", "en", ("zh", True)), (None, "zh;q=0, en;q=0.1", "zh", ("en", True)),
    (None, "en;q=0, fr", "zh", ("zh", True)), (None, "q=bogus;;,", "zh", ("zh", True)), ("xx", None, "en", ("en", True)),
])
def test_the_language_is_asked_else_negotiated_else_the_deployments(asked, accept, default, expected) -> None:
    assert choose_language(asked, accept, default) == expected


def test_a_playbooks_components_must_be_the_deployments(tmp_path: Path) -> None:
    data = yaml.safe_load((SHIPPED_DIR / "payment-failure.yaml").read_text(encoding="utf-8"))
    data["components"] = ["checkout", "warehouse"]
    own = tmp_path / "own"
    own.mkdir()
    (own / "payment-failure.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    problems = check_deployment([own], components=["checkout"])
    assert problems == ["payment-failure: components: 'warehouse' is not a status-page component of this deployment "
                        "(checkout)"]
    assert check_deployment([own], components=["checkout", "warehouse"]) == []
    assert check_deployment() == []  # the shipped playbooks name no component: ids are each deployment's own
    file = FileConfig.model_validate({"playbooks_dir": str(own), "status_page": {"components": [
        {"id": "checkout", "name": {"zh": "下单", "en": "Checkout"}}]}})
    with pytest.raises(ConfigError, match="warehouse"):
        load_deployment_playbooks(Settings(bot_token="x", signing_secret="y", file=file))


def test_a_component_or_role_named_twice_in_yingji_yaml_is_refused_by_id() -> None:
    import pydantic

    from bot.config import FileConfig

    name = {"zh": "支付", "en": "Payment"}
    for given, said in (({"status_page": {"components": [{"id": "payment", "name": name}] * 2}}, "each component id once: payment"),
                        ({"roles": [{"id": "warehouse", "name": name}] * 2}, "each role id once: warehouse")):
        try:
            FileConfig.model_validate(given)
        except pydantic.ValidationError as exc:
            assert said in str(exc)
        else:
            raise AssertionError(f"{given} was accepted")
