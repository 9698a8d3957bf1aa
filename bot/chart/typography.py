"""Fonts and text for the chart: families that can draw Chinese, and text measured and cleaned to fit without tofu."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font
from matplotlib.text import Text

from bot.chart.model import DPI

_log = logging.getLogger(__name__)

LATIN_FAMILY = "DejaVu Sans"  # bundled with matplotlib, so present everywhere
CJK_FAMILY = "Yingji Sans SC"  # our subset of Noto Sans CJK SC; fonts/README.md says how it is made
FONTS_DIR = Path(__file__).resolve().parent / "fonts"
CJK_FONT_FILES = (FONTS_DIR / "YingjiSansSC-Regular.otf", FONTS_DIR / "YingjiSansSC-Bold.otf")


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
    """Register the CJK font shipped in this package once per process, so Chinese draws on a machine with no
    fonts installed; if the files are missing, text is cleaned so it never shows tofu boxes."""
    latin = _charmap(_path_of(LATIN_FAMILY))
    try:
        cjk = set().union(*(_register(path) for path in CJK_FONT_FILES))
    except (OSError, RuntimeError) as error:  # a broken install: draw "…" for Chinese rather than fail a summary
        _log.warning("chart: the shipped CJK font cannot be loaded (%s); Chinese shows as …", error)
        return Fonts((LATIN_FAMILY,), frozenset(latin))
    return Fonts((LATIN_FAMILY, CJK_FAMILY), frozenset(latin | cjk))


def _register(path: Path) -> set[int]:
    """Add one shipped font file to matplotlib's font list (once) and return the code points it draws."""
    if not any(entry.fname == str(path) for entry in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(path)
    return _charmap(path)


def _path_of(family: str) -> Path:
    """The file matplotlib draws a family's regular face from."""
    return Path(font_manager.findfont(FontProperties(family=family), fallback_to_default=False))


def _charmap(path: Path) -> set[int]:
    """The code points one font file can draw."""
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
