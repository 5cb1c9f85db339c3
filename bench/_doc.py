"""Write a benchmark's figures into its own section of docs/PERFORMANCE.md.

Each benchmark owns the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; the prose
around the markers (how to read the figures, before/after notes) is written by hand and kept.
"""

from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "PERFORMANCE.md"


def write_section(name: str, text: str, doc: Path = DOC) -> None:
    """Replace the section `name` of the document with `text` (Markdown).

    Raises ValueError when the markers are missing, rather than guessing where the figures go.
    """
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    content = doc.read_text(encoding="utf-8")
    if content.count(start) != 1 or content.count(end) != 1:
        raise ValueError(f"{doc.name} needs exactly one {start} and one {end}")
    before, rest = content.split(start)
    _old, after = rest.split(end)
    doc.write_text(f"{before}{start}\n{text.strip()}\n{end}{after}", encoding="utf-8")
    print(f"(written to {doc.parent.name}/{doc.name}, section {name})")


def code(label: str) -> str:
    """A page's label as Markdown: `/collecte/recettes?q=soupe` (htmx search)."""
    path, space, note = label.partition(" (")
    return f"`{path}`" + (f" ({note}" if space else "")


def markdown_table(header, rows, align) -> str:
    """A Markdown table; `align` is a string of `l` and `r`, one letter per column."""
    rule = ["---:" if side == "r" else "---" for side in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
