"""Rebuild the chart's CJK fonts from Debian's Noto Sans CJK: `python bot/chart/fonts/subset.py` (needs apt-get).

Run where `apt-get download` works; the sources are pinned, so the output is the same bytes every time.
The shipped fonts are a subset, so the wheel stays small: GB2312 (simplified Chinese, symbols and full-width forms)
plus the 8105 characters of the Table of General Standard Chinese Characters (通用规范汉字表, Unihan kTGH; it
holds the name characters GB2312 lacks, such as 镕 喆 堃 玥), ASCII, CJK punctuation and half/full-width forms.
"""

from __future__ import annotations

import bz2
import hashlib
import subprocess
import tempfile
from pathlib import Path

from fontTools import subset  # type: ignore[import-untyped]
from fontTools.ttLib import TTCollection, TTFont  # type: ignore[import-untyped]

HERE = Path(__file__).resolve().parent
FAMILY = "Yingji Sans SC"
SOURCES = ("fonts-noto-cjk=1:20220127+repack1-1", "unicode-data=15.0.0-1")
NOTO_DIR = "usr/share/fonts/opentype/noto"
UNIHAN = "usr/share/unicode/Unihan_OtherMappings.txt.bz2"
SC_FAMILY = "Noto Sans CJK SC"
RANGES = ((0x20, 0x7E), (0x3000, 0x303F), (0xFF00, 0xFFEF))
DROPPED_TABLES = ["BASE", "VORG", "vhea", "vmtx"]  # vertical and baseline data: the chart writes horizontally


def main() -> None:
    """Download the pinned packages, subset both weights into this folder and print what was written."""
    with tempfile.TemporaryDirectory() as tmp:
        root = _unpack(Path(tmp))
        codepoints = _codepoints(root / UNIHAN)
        for weight in ("Regular", "Bold"):
            out = HERE / f"YingjiSansSC-{weight}.otf"
            _subset(root / NOTO_DIR / f"NotoSansCJK-{weight}.ttc", weight, codepoints, out)
            print(f"{out.name}: {out.stat().st_size} bytes, sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}")


def _unpack(tmp: Path) -> Path:
    """The pinned .debs fetched with apt-get (no install) and unpacked into one tree."""
    subprocess.run(["apt-get", "download", *SOURCES], cwd=tmp, check=True)
    root = tmp / "root"
    for deb in sorted(tmp.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def _codepoints(unihan: Path) -> set[int]:
    """GB2312, the General Standard table, ASCII, CJK punctuation and half/full-width forms."""
    wanted = {cp for lo, hi in RANGES for cp in range(lo, hi + 1)} | _gb2312()
    with bz2.open(unihan, "rt", encoding="utf-8") as lines:
        wanted |= {int(line.split("\t")[0][2:], 16) for line in lines if line.split("\t")[1:2] == ["kTGH"]}
    return wanted


def _gb2312() -> set[int]:
    """Every character the GB2312 code table encodes (rows 0xA1-0xF7, cells 0xA1-0xFE)."""
    found = set()
    for row in range(0xA1, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                found.add(ord(bytes((row, cell)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return found


def _subset(ttc: Path, weight: str, codepoints: set[int], out: Path) -> None:
    """Keep only the wanted glyphs of the SC face, with no layout features or hints, under our own name."""
    font = _sc_face(ttc)
    options = subset.Options(layout_features=[], hinting=False, name_IDs=["*"], name_languages=["*"],
                             notdef_outline=True)
    options.drop_tables += DROPPED_TABLES
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    _rename(font, weight)
    font.recalcTimestamp = False  # same input, same bytes
    font.save(out)


def _sc_face(ttc: Path) -> TTFont:
    """The simplified-Chinese face of the collection, found by name rather than by a fixed index."""
    for index in range(len(TTCollection(ttc, lazy=True).fonts)):
        font = TTFont(ttc, fontNumber=index)
        if font["name"].getDebugName(1) == SC_FAMILY:
            return font
    raise SystemExit(f"{SC_FAMILY} not found in {ttc}")


def _rename(font: TTFont, weight: str) -> None:
    """A family name of our own, so a system-wide Noto install can never stand in for the subset."""
    postscript = f"{FAMILY.replace(' ', '')}-{weight}"
    names = {1: FAMILY, 2: weight, 3: f"2.004;yingji;{postscript}", 4: f"{FAMILY} {weight}", 6: postscript,
             10: f"A subset of Noto Sans CJK SC {weight} 2.004 for the yingji timeline chart."}
    table = font["name"]
    table.names = [record for record in table.names if record.nameID not in names]
    for name_id, text in names.items():
        table.setName(text, name_id, 3, 1, 0x409)
    cff = font["CFF "].cff
    cff.fontNames = [postscript]
    cff[postscript].FullName = f"{FAMILY} {weight}"
    cff[postscript].FamilyName = FAMILY


if __name__ == "__main__":
    main()
