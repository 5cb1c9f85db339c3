"""The style sheet parses as written: every block closed where it should be.

An unclosed `@media print {` once swallowed every rule after it, so that the roster's cards, the
projector's slides and the paper relevé were styled on paper only. A browser forgives it
silently; this test does not.
"""

import re
from pathlib import Path

CSS = Path(__file__).resolve().parent.parent / "static" / "app.css"


def blocks_depth(text: str) -> list[int]:
    """The nesting depth at the start of each line (comments and strings left out)."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
    text = re.sub(r'"[^"\n]*"|\'[^\'\n]*\'', '""', text)
    depths, depth = [], 0
    for line in text.split("\n"):
        depths.append(depth)
        for char in line:
            depth += {"{": 1, "}": -1}.get(char, 0)
            assert depth >= 0, f"app.css: a '}}' closes nothing near line {len(depths)}"
    depths.append(depth)
    return depths


def test_every_block_of_the_style_sheet_is_closed():
    assert blocks_depth(CSS.read_text(encoding="utf-8"))[-1] == 0


def test_each_section_of_the_style_sheet_starts_at_the_top_level():
    """A section's heading comment (at the start of a line) is never inside a block."""
    lines = CSS.read_text(encoding="utf-8").split("\n")
    depths = blocks_depth("\n".join(lines))
    inside = [n + 1 for n, line in enumerate(lines) if line.startswith("/* ") and depths[n]]
    assert inside == [], f"section headings inside a block at lines {inside}"


def test_the_check_finds_an_unclosed_block():
    assert blocks_depth("@media print {\n  .a { color: red; }\n/* next */\n.b { x: y; }\n")[-1] == 1
