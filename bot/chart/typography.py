"""Fonts and text for the chart: families that can draw Chinese, and text measured and cleaned to fit without tofu."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font
from matplotlib.text import Text

from bot.chart.model import DPI

LATIN_FAMILY = "DejaVu Sans"
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)


@dataclass(frozen=True)
class Fonts:
    """The families every text is drawn with, and the characters they can draw between them."""

    families: tuple[str, ...]
    drawable: frozenset[int]

    def props(self, size: float, weight: str = "normal") -> FontProperties:
        """Font properties with the CJK family as a per-glyph fallback behind the Latin one."""
        return FontProperties(family=list(self.families), size=size, weight=weight)


@lru_cache(maxsize=1)
def fonts() -> Fonts:
    """Find a system CJK font once per process (e.g. Debian's fonts-wqy-microhei or fonts-noto-cjk);
    without one, text is cleaned so it never shows tofu boxes."""
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    cjk = next((name for name in CJK_FAMILIES if name in installed), None)
    families = (LATIN_FAMILY, cjk) if cjk else (LATIN_FAMILY,)
    drawable: set[int] = set()
    for family in families:
        drawable |= _charmap(family)
    return Fonts(families, frozenset(drawable))


def _charmap(family: str) -> set[int]:
    """The code points one installed family can draw."""
    path = font_manager.findfont(FontProperties(family=family), fallback_to_default=False)
    return set(FT2Font(path).get_charmap())


def drawable(text: str, fonts: Fonts) -> str:
    """One line of text the fonts can draw: each run of characters they cannot becomes one "…"."""
    kept = "".join(ch if ch == " " or ord(ch) in fonts.drawable else "…" for ch in " ".join(text.split()))
    return re.sub(r"…(?:\s*…)+", "…", kept)


def text_px(text: str, size_pt: float) -> float:
    """Estimated width in pixels, generous so bold text fits too: wide (CJK) characters take a full em."""
    em = size_pt * DPI / 72
    return sum(em if unicodedata.east_asian_width(ch) in ("W", "F") else 0.66 * em for ch in text)


def clip(text: str, size_pt: float, max_px: float) -> str:
    """Shorten text with "…" so it fits in max_px."""
    if text_px(text, size_pt) <= max_px:
        return text
    while text and text_px(text + "…", size_pt) > max_px:
        text = text[:-1]
    return text.rstrip() + "…"


def text(where: Axes | Figure, x: float, y: float, text: str, props: FontProperties, **style: object) -> Text:
    """Place literal text: never parsed as mathtext, since titles may contain "$"."""
    return where.text(x, y, text, fontproperties=props, parse_math=False, **style)  # type: ignore[arg-type]
