"""CSV and XLSX files of tables, in DESIGN.md's exact formats.

CSV: UTF-8 with a BOM, `;` separator and decimal comma, so that a French spreadsheet opens it
as is. XLSX: one sheet per table, numbers as numbers, text always stored as text (openpyxl
would store a string starting with `=` as a formula and `#N/A` as an error: `to_xlsx` writes
the cells itself). In both, a text cell starting with `= + - @`, tab, CR or NUL gets a
leading `'` (formula injection, `formatting.neutralise`).

Every sheet is laid out for a person as well as a machine: its title and notes above the
table (`preamble`), a bold header row that stays in view (frozen panes), a filter on the
table, column widths, and a number format on every number (`Layout`).
"""

import csv
import io
import math
import zipfile
from dataclasses import dataclass
from dataclasses import field
from xml.sax.saxutils import escape

from defi.formatting import neutralise


@dataclass
class Layout:
    """How a table's XLSX sheet looks; the CSV has none of it.

    `formats` is each column's number format (None: General), `row_formats` each row's, in
    place of `formats` when a column holds different units; `widths` each column's width in
    characters (from the contents when empty); `bands` titles over several columns of the
    header, each merged over its columns: (title, first column, last column), counted from 1;
    `frozen_columns` the columns that stay in view when scrolling right; `wrapped` the
    columns whose long texts wrap.
    """

    formats: tuple = ()
    row_formats: list | None = None
    widths: tuple = ()
    bands: tuple = ()
    frozen_columns: int = 0
    wrapped: tuple = ()
    landscape: bool = False

    def format_of(self, index: int, column: int):
        """The number format of the row `index`'s column (both from 0), or None."""
        formats = self.formats if self.row_formats is None else self.row_formats[index]
        return formats[column] if column < len(formats) else None


@dataclass
class Table:
    name: str
    header: tuple
    rows: list
    # Lines above the header: in the CSV one line each (a warning), in the XLSX sheet its
    # title and notes, the first one in bold.
    preamble: tuple = ()
    layout: Layout = field(default_factory=Layout)


# Formats the exports share: whole numbers, two decimals, euros, a share stored as a ratio
# (0.25 shows "25,0 %" in a French spreadsheet), a change in points or in %.
INTEGER = "0"
DECIMAL_1 = "0.0"
DECIMAL_2 = "0.00"
DECIMAL_3 = "0.000"
EUROS = '#,##0.00 "€"'
SHARE = "0.0 %"
CHANGE_POINTS = '+0.0" pts";-0.0" pts";0.0" pts"'
CHANGE_PERCENT = "+0.0 %;-0.0 %;0.0 %"
# Widths, in characters, a computed column stays within.
NARROWEST, WIDEST = 8, 45
LINE_HEIGHT = 15  # points: a line of Calibri 11, the sheets' font


def csv_cell(value) -> str:
    """A cell as a French spreadsheet reads it: decimal comma, `oui`/`non`, text neutralised."""
    kind = type(value)  # by exact type first: a microdata file has 300,000 cells
    if kind is str:
        return neutralise(value)
    if kind is int:
        return str(value)
    if value is None:
        return ""
    if kind is float:
        return _csv_float(value)
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _csv_float(value)
    return neutralise(str(value))


def _csv_float(value: float) -> str:
    if value % 1:
        return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    return str(int(value))


def to_csv(table: Table) -> bytes:
    """UTF-8 with BOM, `;`, decimal comma."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for line in table.preamble:
        writer.writerow([line])
    writer.writerow(table.header)
    cell = csv_cell
    writer.writerows([cell(value) for value in row] for row in table.rows)
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def to_xlsx(tables: list[Table]) -> bytes:
    """One sheet per table; numbers stay numbers, text is always text, never a formula.

    openpyxl writes the workbook around the sheets (names, styles, layout, properties). The
    sheets' rows, 400,000 cells for 10,000 foyers, are written here as the XML that openpyxl's
    write-only sheets hold (inline strings, numbers as `%.16g`), six times faster
    (bench/export.py). That XML has no formula element at all, and every text is an inline
    string, even `#N/A`, which openpyxl would store as an error. tests/test_exports.py checks
    the sheets byte for byte against openpyxl's own, styles and layout included.
    """
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    laid_out = []
    for table in tables:
        sheet = workbook.create_sheet(title=table.name)
        _lay_out(sheet, table)
        # Styles are written with the workbook, before the rows: each one the rows use is
        # registered now, in the order openpyxl would meet them.
        laid_out.append((sheet, table, {key: _style_id(sheet, key) for key in style_keys(table)}))
    empty = io.BytesIO()
    workbook.save(empty)
    # A sheet's path is known once the workbook is saved.
    sheets = {sheet.path.removeprefix("/"): (table, ids) for sheet, table, ids in laid_out}
    output = io.BytesIO()
    with (
        zipfile.ZipFile(empty) as source,
        zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename not in sheets:
                target.writestr(info, data)
                continue
            head, found, tail = data.decode().partition("<sheetData></sheetData>")
            if not found:
                raise RuntimeError(f"openpyxl wrote an empty sheet differently: {data[:300]!r}")
            with target.open(info.filename, "w") as part:
                part.write(f"{head}<sheetData>".encode())
                for rows in _sheet_rows(*sheets[info.filename]):
                    part.write(rows.encode())
                part.write(f"</sheetData>{tail}".encode())
    return output.getvalue()


def header_row(table: Table) -> int:
    """The sheet's row of the header (from 1): after the preamble and a blank row, and the
    bands."""
    return len(table.preamble) + bool(table.preamble) + bool(table.layout.bands) + 1


def sheet_lines(table: Table):
    """(row number, kind, values) of every line of the sheet, in order.

    Kinds: "title" (the preamble's first line), "note", "blank" (the row between the
    preamble and the table), "band", "header", and a data row's index in `table.rows`.
    """
    for number, line in enumerate(table.preamble, 1):
        yield number, "title" if number == 1 else "note", (line,)
    if table.preamble:
        yield len(table.preamble) + 1, "blank", ()
    header = header_row(table)
    if table.layout.bands:
        band = [None] * len(table.header)
        for title, first, _last in table.layout.bands:
            band[first - 1] = title
        yield header - 1, "band", band
    yield header, "header", table.header
    for index, row in enumerate(table.rows):
        yield header + 1 + index, index, row


def cell_style(table: Table, kind, column: int):
    """The style of a cell, as a key: (role, number format, wraps), None for none at all."""
    if kind in ("title", "band", "header"):
        return (kind, None, kind == "header")
    if kind in ("note", "blank"):
        return None
    number_format = table.layout.format_of(kind, column)
    wraps = column in table.layout.wrapped
    if number_format is None and not wraps:
        return None
    return ("cell", number_format, wraps)


def style_keys(table: Table) -> list:
    """The styles of the cells written (never an empty one), in the order they first appear.

    Without `row_formats`, a column's data cells share one style: the rows are read until
    every column has shown one (the first row, mostly), not all 400,000 cells.
    """
    keys = {}
    columns = len(table.header)
    found = set()
    for _number, kind, values in sheet_lines(table):
        for column, value in enumerate(values):
            if value is not None:
                key = cell_style(table, kind, column)
                if key is not None:
                    keys.setdefault(key, None)
                if isinstance(kind, int):
                    found.add(column)
        if isinstance(kind, int) and table.layout.row_formats is None and len(found) >= columns:
            break
    return list(keys)


def style_cell(cell, key):
    """Give an openpyxl cell the style `key` stands for (fonts, fill, alignment, format)."""
    from openpyxl.styles import Alignment
    from openpyxl.styles import Font
    from openpyxl.styles import PatternFill

    role, number_format, wraps = key
    if role == "title":
        cell.font = Font(name="Calibri", size=14, bold=True)
    elif role in ("band", "header"):
        cell.font = Font(name="Calibri", size=11, bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    if role == "band":
        cell.alignment = Alignment(horizontal="center")
    elif wraps:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    if number_format is not None:
        cell.number_format = number_format
    return cell


def _style_id(sheet, key):
    from openpyxl.cell import WriteOnlyCell

    if key is None:
        return None
    return style_cell(WriteOnlyCell(sheet), key).style_id


def column_widths(table: Table) -> list[float]:
    """Each column's width: the layout's, or the longest of its header and first 200 cells',
    within NARROWEST and WIDEST."""
    if table.layout.widths:
        return list(table.layout.widths)
    widths = []
    for column, title in enumerate(table.header):
        longest = len(str(title)) + 2
        for row in table.rows[:200]:
            value = row[column] if column < len(row) else None
            if isinstance(value, float):
                value = f"{value:.2f}"
            if value is not None:
                longest = max(longest, len(str(value)) + 2)
        widths.append(min(max(longest, NARROWEST), WIDEST))
    return widths


def header_height(table: Table) -> int | None:
    """The header row's height in points when a title wraps over several lines, else None
    (a row of one line)."""
    lines = max(
        math.ceil(len(str(title)) / max(width - 2, 1))
        for title, width in zip(table.header, column_widths(table), strict=False)
    )
    return LINE_HEIGHT * lines if lines > 1 else None


def _lay_out(sheet, table: Table):
    """Widths, frozen header, filter, merged bands and page set-up of a table's sheet."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.cell_range import CellRange

    layout = table.layout
    for column, width in enumerate(column_widths(table), 1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    header = header_row(table)
    sheet.freeze_panes = f"{get_column_letter(layout.frozen_columns + 1)}{header + 1}"
    last = get_column_letter(len(table.header))
    sheet.auto_filter.ref = f"A{header}:{last}{header + len(table.rows)}"
    for _title, first, end in layout.bands:
        if end > first:
            sheet.merged_cells.add(
                CellRange(min_col=first, max_col=end, min_row=header - 1, max_row=header - 1)
            )
    if layout.landscape:
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.print_title_rows = f"{header - bool(layout.bands)}:{header}"


def _sheet_rows(table: Table, style_ids: dict, batch: int = 1000):
    """The sheet's `<row>` elements, preamble and header first, `batch` rows at a time."""
    from openpyxl.utils import get_column_letter

    widest = max([len(table.header), *map(len, table.rows)])
    letters = [get_column_letter(column) for column in range(1, widest + 1)]

    def styles(kind):
        """Each column's ` s="…"` attribute on this line (empty when unstyled)."""
        ids = (style_ids.get(cell_style(table, kind, column)) for column in range(widest))
        return ["" if style is None else f' s="{style}"' for style in ids]

    # Without row formats every data row has its columns' styles: computed once.
    data_styles = styles(0) if table.layout.row_formats is None and table.rows else None
    height = header_height(table)
    # A header over several lines gets their height (a spreadsheet may not fit it itself).
    tall = {} if height is None else {header_row(table): f' ht="{height}" customHeight="1"'}
    texts = {}  # (text, style) → its cell's XML after the reference (names repeat many times)
    xml = []
    for count, (number, kind, row) in enumerate(sheet_lines(table), 1):
        line_styles = data_styles if isinstance(kind, int) and data_styles else styles(kind)
        xml.append(f'<row r="{number}"{tall.get(number, "")}>')
        for letter, styled, value in zip(letters, line_styles, row, strict=False):
            if value is None:
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                # openpyxl.compat.safe_string: 16 significant digits; NaN and ∞ empty.
                number_xml = f"<v>{value:.16g}</v>" if math.isfinite(value) else "<v />"
                xml.append(f'<c r="{letter}{number}"{styled} t="n">{number_xml}</c>')
                continue
            text = value if isinstance(value, str) else str(value)
            cell = texts.get((text, styled))
            if cell is None:
                cell = texts[(text, styled)] = styled + _text_cell(text)
            xml.append(f'<c r="{letter}{number}"{cell}')
        xml.append("</row>")
        if count % batch == 0:
            yield "".join(xml)
            xml = []
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
