"""CSV and XLSX files of tables, in DESIGN.md's exact formats.

CSV: UTF-8 with a BOM, `;` separator and decimal comma, so that a French spreadsheet opens it
as is. XLSX: one sheet per table, numbers as numbers, text always stored as text (openpyxl
would store a string starting with `=` as a formula and `#N/A` as an error: `to_xlsx` writes
the cells itself). In both, a text cell starting with `= + - @`, tab, CR or NUL gets a
leading `'` (formula injection, `formatting.neutralise`).
"""

import csv
import io
import math
import zipfile
from dataclasses import dataclass
from xml.sax.saxutils import escape

from defi.formatting import neutralise


@dataclass
class Table:
    name: str
    header: tuple
    rows: list
    # Lines written before the header of the CSV (a warning), never in the XLSX sheet.
    preamble: tuple = ()


def csv_cell(value) -> str:
    """A cell as a French spreadsheet reads it: decimal comma, `oui`/`non`, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")
            if value % 1
            else str(int(value))
        )
    return neutralise(str(value))


def to_csv(table: Table) -> bytes:
    """UTF-8 with BOM, `;`, decimal comma."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for line in table.preamble:
        writer.writerow([line])
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow(csv_cell(value) for value in row)
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def to_xlsx(tables: list[Table]) -> bytes:
    """One sheet per table; numbers stay numbers, text is always text, never a formula.

    openpyxl writes the workbook around the sheets (names, styles, properties). The sheets'
    rows, 400,000 cells for 10,000 foyers, are written here as the XML that openpyxl's
    write-only sheets hold (inline strings, numbers as `%.16g`), six times faster
    (bench/export.py). That XML has no formula element at all, and every text is an inline
    string, even `#N/A`, which openpyxl would store as an error. tests/test_exports.py checks
    the sheets byte for byte against openpyxl's own.
    """
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheets = [workbook.create_sheet(title=table.name) for table in tables]
    empty = io.BytesIO()
    workbook.save(empty)
    table_of = {
        sheet.path.removeprefix("/"): table for sheet, table in zip(sheets, tables, strict=True)
    }
    output = io.BytesIO()
    with (
        zipfile.ZipFile(empty) as source,
        zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename not in table_of:
                target.writestr(info, data)
                continue
            head, found, tail = data.decode().partition("<sheetData></sheetData>")
            if not found:
                raise RuntimeError(f"openpyxl wrote an empty sheet differently: {data[:300]!r}")
            with target.open(info.filename, "w") as part:
                part.write(f"{head}<sheetData>".encode())
                for rows in _sheet_rows(table_of[info.filename]):
                    part.write(rows.encode())
                part.write(f"</sheetData>{tail}".encode())
    return output.getvalue()


def _sheet_rows(table: Table, batch: int = 1000):
    """The sheet's `<row>` elements, header first, `batch` rows at a time."""
    from openpyxl.utils import get_column_letter

    rows = [table.header, *table.rows]
    letters = [get_column_letter(column) for column in range(1, max(map(len, rows)) + 1)]
    texts = {}  # text → its cell's XML after the reference (group names repeat thousands of times)
    for start in range(0, len(rows), batch):
        xml = []
        for number, row in enumerate(rows[start : start + batch], start + 1):
            xml.append(f'<row r="{number}">')
            for letter, value in zip(letters, row, strict=False):
                if value is None:
                    continue
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    # openpyxl.compat.safe_string: 16 significant digits; NaN and ∞ empty.
                    number_xml = f"<v>{value:.16g}</v>" if math.isfinite(value) else "<v />"
                    xml.append(f'<c r="{letter}{number}" t="n">{number_xml}</c>')
                    continue
                text = value if isinstance(value, str) else str(value)
                cell = texts.get(text)
                if cell is None:
                    cell = texts[text] = _text_cell(text)
                xml.append(f'<c r="{letter}{number}"{cell}')
            xml.append("</row>")
        yield "".join(xml)


def _text_cell(text: str) -> str:
    """An inline string cell, neutralised, after its reference: always text, never a formula."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils.exceptions import IllegalCharacterError

    text = neutralise(text)[:32767]  # the longest text a cell holds, as openpyxl cuts it
    if ILLEGAL_CHARACTERS_RE.search(text):
        raise IllegalCharacterError(f"{text} cannot be used in worksheets.")
    if not text:
        return ' t="inlineStr" />'
    # openpyxl.xml.functions.whitespace: keep the spaces around a text that is not blank.
    space = ' xml:space="preserve"' if text.strip() and text != text.strip() else ""
    return f' t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>'
