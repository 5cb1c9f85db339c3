"""The pilot's tables and their CSV and XLSX files, in DESIGN.md's exact formats.

CSV: UTF-8 with a BOM, `;` separator and decimal comma, so that a French spreadsheet opens it
as is. XLSX: one sheet per table, numbers as numbers, text always stored as text (openpyxl
would store a string starting with `=` as a formula and `#N/A` as an error: `to_xlsx` writes
the cells itself). In both, a text cell starting with `= + - @`, tab, CR or NUL gets a
leading `'` (formula injection). No name, contact or free text: foyers appear by code only.
"""

import csv
import io
import math
import zipfile
from dataclasses import dataclass
from xml.sax.saxutils import escape

import sqlalchemy as sa

from defi.collecte.figures import sums_for
from defi.extensions import db
from defi.groups.progress import progress_by_scope
from defi.groups.progress import question_choices
from defi.groups.progress import retention
from defi.groups.progress import submitted_rows
from defi.indicators import SUBGROUPS
from defi.indicators import cost_per_meal_person
from defi.models import Accompaniment
from defi.models import Entry
from defi.models import Group
from defi.models import Household
from defi.models import Wave

COMPARISON_HEADER = (
    "indicateur", "groupe", "sous_groupe", "collecte", "n", "moyenne", "mediane",
    "ratio_global", "n_apparies", "evolution_pct",
)  # fmt: skip
RETENTION_HEADER = (
    "groupe", "sous_groupe", "inscrits", "actifs_collecte_1", "actifs_collecte_2",
    "actifs_collecte_3",
)  # fmt: skip
RAW_HEADER = (
    "foyer", "groupe", "accompagne", "collecte", "personnes", "jours", "depenses_eur",
    "dont_bio_eur", "dont_local_eur", "repas_convives", "cout_repas_personne_eur",
    "gaspillage_kg", "recettes", "producteurs",
)  # fmt: skip
QUESTIONNAIRE_HEADER = ("question", "choix", "groupe", "sous_groupe", "collecte", "n", "part_pct")
ALL_GROUPS = "Tous"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")


@dataclass
class Table:
    name: str
    header: tuple
    rows: list


def _scaled(key, value):
    """Shares and choices as percentages; everything else as computed."""
    if value is None:
        return None
    if key.startswith("part") or key.startswith("q_"):
        return round(value * 100, 2)
    return round(value, 2)


def comparison_tables(challenge, k):
    """The comparison, retention and questionnaire tables of a défi (all groups and each)."""
    groups = list(challenge.groups)
    scopes = [(ALL_GROUPS, [group.id for group in groups])]
    scopes += [(group.name, [group.id]) for group in groups]
    choices = question_choices(challenge.id)
    # Every relevé of the défi summed once, for the figures and for the raw data, and the
    # submitted ones read once, for the figures and the retention of every scope.
    sums = sums_for(
        sa.select(Entry.id)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Wave.challenge_id == challenge.id)
    )
    rows = submitted_rows([group.id for group in groups], challenge.id)
    tables = progress_by_scope(dict(scopes), challenge, k, choices=choices, rows=rows, sums=sums)
    comparison, questionnaire, kept = [], [], []
    for name, group_ids in scopes:
        table = tables[name]
        for key, by_wave in table.items():
            for rank, cells in by_wave.items():
                for subgroup in SUBGROUPS:
                    cell = cells[subgroup]
                    if cell is None:
                        row = (key, name, subgroup, rank, None, None, None, None, None, None)
                    else:
                        row = (
                            key,
                            name,
                            subgroup,
                            rank,
                            cell.n,
                            _scaled(key, cell.mean),
                            _scaled(key, cell.median),
                            _scaled(key, cell.pooled),
                            cell.paired_n,
                            None if cell.change_pct is None else round(cell.change_pct, 1),
                        )
                    comparison.append(row)
        kept.append((name, group_ids, table))
    for name, _group_ids, table in kept:
        for question, choice, _text, _label, from_rank in choices:
            key = f"q_{question}_{choice}"
            for rank, cells in table[key].items():
                if rank < from_rank:
                    continue
                for subgroup in SUBGROUPS:
                    cell = cells[subgroup]
                    questionnaire.append(
                        (
                            question,
                            choice,
                            name,
                            subgroup,
                            rank,
                            None if cell is None else cell.n,
                            None if cell is None else _scaled(key, cell.mean),
                        )  # fmt: skip
                    )
    retained = []
    for name, group_ids in scopes:
        counts = retention(group_ids, challenge, rows=rows)
        for subgroup in SUBGROUPS:
            submitted = counts[subgroup]["submitted"]
            retained.append(
                (name, subgroup, counts[subgroup]["enrolled"])
                + tuple(submitted.get(rank) for rank in (1, 2, 3))
            )
    return [
        Table("comparaison", COMPARISON_HEADER, comparison),
        Table("retention", RETENTION_HEADER, retained),
        Table("donnees", RAW_HEADER + choice_columns(choices), raw_rows(challenge, choices, sums)),
        Table("questionnaire", QUESTIONNAIRE_HEADER, questionnaire),
    ]


def choice_columns(choices):
    """One column per question of the défi, listing the ticked choices with `|`."""
    seen = []
    for question, *_rest in choices:
        if question not in seen:
            seen.append(question)
    return tuple(seen)


def raw_rows(challenge, choices, sums=None):
    """One row per foyer and wave with a relevé: the pseudonymous raw data (codes only)."""
    rows = db.session.execute(
        sa.select(
            Entry.id,
            Entry.cost_mode,
            Entry.persons,
            Entry.period_days,
            Entry.meal_covers,
            Household.code,
            Group.name,
            Wave.rank,
            Accompaniment.id.is_not(None),
        )
        .join(Household, Household.id == Entry.household_id)
        .join(Group, Group.id == Household.group_id)
        .join(Wave, Wave.id == Entry.wave_id)
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Wave.challenge_id == challenge.id)
        .order_by(Group.name, Household.code, Wave.rank)
    ).all()
    if not rows:
        return []
    if sums is None:
        sums = sums_for(
            sa.select(Entry.id)
            .join(Wave, Wave.id == Entry.wave_id)
            .where(Wave.challenge_id == challenge.id)
        )
    questions = choice_columns(choices)
    result = []
    for entry_id, cost_mode, persons, days, covers, code, group_name, rank, accompanied in rows:
        entry_sums = sums[entry_id]
        ticked = {question: [] for question in questions}
        for item in sorted(entry_sums.choices):
            question, choice = item.split(":", 1)
            ticked.setdefault(question, []).append(choice)
        spend = entry_sums.spend_total_cents if cost_mode != "direct" else None
        result.append(
            (
                code,
                group_name,
                "oui" if accompanied else "non",
                rank,
                persons,
                days,
                None if spend is None else spend / 100,
                None if spend is None else entry_sums.spend_organic_cents / 100,
                None if spend is None else entry_sums.spend_local_cents / 100,
                covers,
                cost_per_meal_person(entry_sums),
                None if entry_sums.waste_grams is None else entry_sums.waste_grams / 1000,
                entry_sums.recipes,
                entry_sums.producers,
            )
            + tuple("|".join(ticked.get(question, [])) for question in questions)
        )
    return result


def neutralise(text: str) -> str:
    """A text cell that a spreadsheet would read as a formula gets a leading quote."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


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
