"""The chart draws Chinese with the font shipped in the package, on a machine with no fonts installed."""

from __future__ import annotations

import logging
import unicodedata
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib
import pytest
from matplotlib import font_manager
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font, LoadFlags

import bot.chart
from bot.chart import ChartData, Mark, render_timeline, typography

T0 = datetime(2026, 11, 11, 15, 40, tzinfo=UTC)
TITLE = "双十一支付回调超时：华东区退款（朱镕基）"
NAMES = ("张伟", "王芳", "陈喆", "李堃")
PACKAGE_FONTS = Path(bot.chart.__file__).resolve().parent / "fonts"
MPL_DATA = Path(matplotlib.get_data_path()).resolve()


def chart(title: str = TITLE, names: tuple[str, ...] = NAMES) -> ChartData:
    """A short incident whose title and role holders are Chinese."""
    at = [T0 + timedelta(minutes=m) for m in (0, 30, 60, 90, 120)]
    return ChartData(key="INC-1", title=title, start=T0, end=at[-1], tz=ZoneInfo("Asia/Shanghai"),
                     statuses=[Mark(at[0], "investigating"), Mark(at[3], "resolved")],
                     severities=[Mark(at[0], "sev2")],
                     handovers=[Mark(moment, f"commander: {name}") for moment, name in zip(at, names, strict=False)],
                     steps_done=[], statements=[])


def is_cjk(ch: str) -> bool:
    """Wide characters: Hanzi and full-width punctuation, which DejaVu Sans cannot draw."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


def forget_fonts() -> None:
    """Drop every cache that remembers which font file a family resolved to."""
    typography.fonts.cache_clear()
    font_manager.fontManager._findfont_cached.cache_clear()


@pytest.fixture
def fresh_machine() -> Iterator[None]:
    """Matplotlib sees only the fonts it bundles, as on a machine with none installed."""
    manager = font_manager.fontManager
    everything = manager.ttflist
    manager.ttflist = [entry for entry in everything if Path(entry.fname).resolve().is_relative_to(MPL_DATA)]
    forget_fonts()
    try:
        yield
    finally:
        manager.ttflist = everything
        forget_fonts()


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[tuple[str, Path, int]]]]:
    """Every text the Agg renderer draws, with the font file and glyph index each character is drawn from."""
    seen: list[tuple[str, list[tuple[str, Path, int]]]] = []
    original = RendererAgg.draw_text

    def spy(self: RendererAgg, gc: Any, x: float, y: float, s: str, prop: FontProperties, angle: float,
            ismath: bool = False, mtext: Any = None) -> None:
        if not ismath:
            items = self._prepare_font(prop)._layout(s, flags=LoadFlags.NO_HINTING)
            seen.append((s, [(item.char, Path(item.ft_object.fname), item.glyph_index) for item in items]))
        original(self, gc, x, y, s, prop, angle, ismath, mtext)

    monkeypatch.setattr(RendererAgg, "draw_text", spy)
    return seen


def test_shipped_fonts_are_in_the_installed_package() -> None:
    assert typography.CJK_FONT_FILES, "no CJK font configured"
    for path in typography.CJK_FONT_FILES:
        assert path.parent == PACKAGE_FONTS, f"{path} is not loaded from the package"
        assert path.is_file(), f"{path} is missing from the installed package: check package-data"
        assert FT2Font(path).family_name == typography.CJK_FAMILY
    assert (PACKAGE_FONTS / "OFL.txt").is_file(), "the font licence must ship next to the fonts"


def test_families_resolve_to_shipped_and_bundled_files(fresh_machine: None) -> None:
    fonts = typography.fonts()
    assert fonts.families == (typography.LATIN_FAMILY, typography.CJK_FAMILY)
    regular, bold = typography.CJK_FONT_FILES
    found = font_manager.findfont
    assert Path(found(FontProperties(family=typography.CJK_FAMILY), fallback_to_default=False)) == regular
    assert Path(found(FontProperties(family=typography.CJK_FAMILY, weight="bold"), fallback_to_default=False)) == bold
    assert Path(found(FontProperties(family=typography.LATIN_FAMILY))).resolve().is_relative_to(MPL_DATA)
    assert all(ord(ch) in fonts.drawable for ch in TITLE + "".join(NAMES))


def test_chinese_title_and_names_are_drawn_from_the_shipped_font(
        fresh_machine: None, drawn: list[tuple[str, list[tuple[str, Path, int]]]],
        caplog: pytest.LogCaptureFixture) -> None:
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        render_timeline(chart())
    assert not [str(w.message) for w in caught], "matplotlib warned while drawing (a missing glyph?)"
    assert not caplog.records, "matplotlib logged a warning (a font family not found?)"
    texts = [text for text, _ in drawn]
    assert f"INC-1 {TITLE}" in texts, f"the title was not drawn whole: {texts}"
    assert all(f"commander: {name}" in texts for name in NAMES), texts
    glyphs = [glyph for _, glyphs in drawn for glyph in glyphs if is_cjk(glyph[0])]
    assert {ch for ch, _, _ in glyphs} >= set(TITLE.replace(" ", "") + "".join(NAMES))
    for ch, path, index in glyphs:
        assert path in typography.CJK_FONT_FILES, f"{ch!r} drawn from {path}"
        assert index != 0, f"{ch!r} drawn as .notdef (tofu)"


def test_characters_outside_the_subset_become_an_ellipsis_without_warnings(
        fresh_machine: None, drawn: list[tuple[str, list[tuple[str, Path, int]]]]) -> None:
    fonts = typography.fonts()
    rare = "\U0002a6a5🔥"  # a CJK Extension B ideograph outside the subset, and an emoji
    assert not any(ord(ch) in fonts.drawable for ch in rare)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        render_timeline(chart(title=f"支付{rare}超时 café Ω", names=(f"张{rare}伟",)))
    assert not [str(w.message) for w in caught]
    texts = [text for text, _ in drawn]
    assert "INC-1 支付…超时 café Ω" in texts and "commander: 张…伟" in texts, texts
    latin = [path for _, glyphs in drawn for ch, path, _ in glyphs if ch in "caféΩ"]
    assert latin and all(path.resolve().is_relative_to(MPL_DATA) for path in latin)


def test_a_missing_font_file_degrades_to_ellipses(fresh_machine: None, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(typography, "CJK_FONT_FILES", (PACKAGE_FONTS / "absent.otf",))
    with caplog.at_level(logging.WARNING, logger="bot.chart.typography"):
        fonts = typography.fonts()
    assert fonts.families == (typography.LATIN_FAMILY,)
    assert "cannot be loaded" in caplog.text
    assert typography.drawable("commander: 张伟", fonts) == "commander: …"
    assert render_timeline(chart())[:8] == b"\x89PNG\r\n\x1a\n"
