"""Reading and checking the pilot's CSV of past relevés (DESIGN.md's format), before any
database work: the file's size, its encoding, its columns, each row's values. One bad row
rejects the file with its line number and the reason in French."""

import csv
import functools
import io
import re
import sys
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from decimal import InvalidOperation

from flask_babel import gettext as _

from defi.formatting import decimal as french_number
from defi.forms import strip

HEADER = (
    "foyer", "groupe", "accompagne", "collecte", "personnes", "jours", "depenses_eur",
    "dont_bio_eur", "dont_local_eur", "repas_convives", "cout_repas_personne_eur",
    "gaspillage_kg", "recettes", "producteurs", "manger_mieux", "j_agis_sur", "maintien",
)  # fmt: skip
QUESTION_COLUMNS = ("manger_mieux", "j_agis_sur", "maintien")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")
INTEGER = re.compile(r"\d{1,7}")
DECIMAL = re.compile(r"\d{1,9}(\.\d+)?")
# A whole territory's history is at most about 30,000 rows (10,000 foyers over the years, 3
# collectes each). 50,000 leaves room for it, and is imported in about 10 s with under 50 MB of
# Python objects (docs/PERFORMANCE.md, import). The 20 MB upload limit alone lets 200,000 rows
# through, which took a worker past its timeout and 500 MB: more rows than this are refused.
MAX_IMPORT_ROWS = 50_000
# The relevé's columns that an import writes, in the order of Row.entry.
ENTRY_COLUMNS = (
    "persons", "period_days", "meal_covers", "cost_mode", "direct_cost_cents",
    "spend_total_cents", "spend_organic_cents", "spend_local_cents", "declared_waste_grams",
    "declared_recipes", "declared_producers", "status",
)  # fmt: skip


class ImportRejected(Exception):
    """The file is refused; `message` says where and why, in French."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def rejected(line, message, **values) -> ImportRejected:
    """The refusal of the file at a line: "Ligne 3 : " and the reason."""
    return ImportRejected(_("Ligne %(line)d : ", line=line) + message % values)


@dataclass(slots=True)  # compact: a file holds up to MAX_IMPORT_ROWS of them
class Row:
    """A checked line of the file."""

    line: int
    code: str
    group: str
    accompanied: bool
    rank: int
    persons: int
    entry: tuple  # the relevé's values, in the order of ENTRY_COLUMNS
    choices: tuple  # the names of the ticked choices, a tuple for each of QUESTION_COLUMNS
    answers: frozenset = frozenset()  # {(question id, choice id)}, once checked


def fold(text):
    plain = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")


def check_size(data: bytes):
    """Refuse a file of more than MAX_IMPORT_ROWS rows, before decoding or parsing it."""
    # A CSV line ends with \r\n, \n or \r: counting these bytes (a few ms for 20 MB) bounds the
    # number of rows from above. Only a file over the cap by this count has its lines read, as
    # blank lines are skipped by the import and do not count.
    ends = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    if ends <= MAX_IMPORT_ROWS:
        return
    # Every \r made a \n, lines split at C speed; a \r\n then adds a blank line, not counted.
    lines = io.BytesIO(data.replace(b"\r", b"\n"))
    rows = sum(1 for line in lines if line.strip(b' \t\n;,"')) - 1  # minus the header
    if rows > MAX_IMPORT_ROWS:
        raise ImportRejected(
            _(
                "Le fichier compte %(rows)s lignes de relevé ; un import en accepte %(max)s au "
                "plus. Découpez-le, par exemple un fichier par groupe, et importez les fichiers "
                "l'un après l'autre.",
                rows=french_number(rows, digits=0),
                max=french_number(MAX_IMPORT_ROWS, digits=0),
            )
        )


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportRejected(
            _("Le fichier n'est pas en UTF-8. Enregistrez-le en « CSV UTF-8 ».")
        ) from error


def parse(data: bytes) -> list[Row]:
    """Read and check the whole file; raise ImportRejected at the first bad line."""
    # Decoded whole to refuse a file that is not UTF-8, of which only the first line is kept.
    first = (decode(data).partition("\n")[0].splitlines() or [""])[0]
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    # Then decoded again as lines are read: io.StringIO would copy it at 4 bytes a character.
    lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(lines, delimiter=delimiter)
    header = tuple(cell.strip() for cell in next(reader, ()))
    if header != HEADER:
        raise ImportRejected(
            _(
                "Ligne 1 : les colonnes doivent être exactement : %(header)s.",
                header=";".join(HEADER),
            )
        )
    try:
        return read_rows(reader)
    except csv.Error as error:
        raise ImportRejected(
            _("Ligne %(line)d : le fichier CSV est mal formé.", line=reader.line_num)
        ) from error


def read_rows(reader) -> list[Row]:
    rows, seen = [], set()
    shared = {}  # rows share equal choices, rather than hold a copy each
    # The same few choices are named in every row: each name is folded once, for this file.
    fold_name = functools.cache(fold)
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(HEADER):
            raise rejected(line, _("%(n)d colonnes au lieu de %(m)d."), n=len(cells), m=len(HEADER))
        cells = dict(zip(HEADER, (cell.strip() for cell in cells), strict=True))
        row = parse_row(line, cells, fold_name)
        key = (row.code, row.rank)
        if key in seen:
            raise rejected(
                line,
                _("le foyer %(code)s a déjà une ligne pour la collecte %(rank)d."),
                code=row.code,
                rank=row.rank,
            )
        seen.add(key)
        row.choices = shared.setdefault(row.choices, row.choices)
        rows.append(row)
    if not rows:
        raise ImportRejected(_("Le fichier ne contient aucune ligne de relevé."))
    return rows


def parse_row(line, cells, fold_name=fold) -> Row:
    def fail(message, **values):
        raise rejected(line, message, **values)

    code = cells["foyer"]
    if not CODE.match(code):
        fail(
            _("le code foyer « %(value)s » n'est pas valable (lettres, chiffres, tirets)."),
            value=code[:30],
        )
    group = strip(cells["groupe"])
    if not group or len(group) > 120:
        fail(_("le groupe est vide ou trop long."))
    if cells["accompagne"] not in ("oui", "non"):
        fail(_("accompagne doit valoir oui ou non."))
    rank = integer(cells["collecte"], fail, "collecte", 1, 3, required=True)
    persons = integer(cells["personnes"], fail, "personnes", 1, 40, required=True)
    days = integer(cells["jours"], fail, "jours", 1, 366)
    spend = decimal(cells["depenses_eur"], fail, "depenses_eur", Decimal("1000000"))
    organic = decimal(cells["dont_bio_eur"], fail, "dont_bio_eur", Decimal("1000000"))
    local = decimal(cells["dont_local_eur"], fail, "dont_local_eur", Decimal("1000000"))
    covers = integer(cells["repas_convives"], fail, "repas_convives", 1, 100000)
    cost = decimal(cells["cout_repas_personne_eur"], fail, "cout_repas_personne_eur", Decimal("50"))
    waste = decimal(cells["gaspillage_kg"], fail, "gaspillage_kg", Decimal("5000"), places=3)
    recipes = integer(cells["recettes"], fail, "recettes", 0, 1000)
    producers = integer(cells["producteurs"], fail, "producteurs", 0, 1000)
    for part, name in ((organic, "dont_bio_eur"), (local, "dont_local_eur")):
        if part is not None and (spend is None or part > spend):
            fail(_("%(name)s ne peut pas dépasser depenses_eur."), name=name)
    if cost is None and (spend is None or not covers):
        fail(_("il faut cout_repas_personne_eur, ou bien depenses_eur et repas_convives."))
    direct = spend is None  # the cost per meal was given, not the sums of a paper sheet
    values = {
        "persons": persons,
        "period_days": days,
        "meal_covers": covers,
        "cost_mode": "direct" if direct else "totals",
        "direct_cost_cents": cents(cost) if direct else None,
        "spend_total_cents": None if direct else cents(spend),
        "spend_organic_cents": None if direct else cents(organic or Decimal(0)),
        "spend_local_cents": None if direct else cents(local or Decimal(0)),
        "declared_waste_grams": None if waste is None else int(waste * 1000),
        "declared_recipes": recipes if recipes is not None else 0,
        "declared_producers": producers if producers is not None else 0,
        "status": "submitted",
    }
    choices = tuple(
        tuple(fold_name(item) for item in cells[column].split("|") if item.strip())
        for column in QUESTION_COLUMNS
    )
    entry = tuple(values[column] for column in ENTRY_COLUMNS)
    accompanied = cells["accompagne"] == "oui"
    # Group names repeat from row to row: interned, they are held once.
    return Row(line, code.upper(), sys.intern(group), accompanied, rank, persons, entry, choices)


def integer(text, fail, name, low, high, required=False):
    if text == "":
        if required:
            fail(_("%(name)s est obligatoire."), name=name)
        return None
    if not INTEGER.fullmatch(text):
        fail(_("%(name)s doit être un nombre entier (« %(value)s »)."), name=name, value=text[:20])
    value = int(text)
    if not low <= value <= high:
        fail(_("%(name)s doit être entre %(low)d et %(high)d."), name=name, low=low, high=high)
    return value


def decimal(text, fail, name, maximum, places=2):
    if text == "":
        return None
    cleaned = text.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if not DECIMAL.fullmatch(cleaned):
        fail(
            _("%(name)s doit être un nombre, avec une virgule ou un point (« %(value)s »)."),
            name=name,
            value=text[:20],
        )
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        fail(_("%(name)s doit être un nombre."), name=name)
    if value > maximum:
        fail(_("%(name)s dépasse %(max)s."), name=name, max=maximum)
    return round(value, places)


def cents(value):
    return None if value is None else int((value * 100).to_integral_value())
