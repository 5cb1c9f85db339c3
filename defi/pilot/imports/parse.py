"""Reading and checking the pilot's CSV of past relevés (DESIGN.md's format), before any
database work: the file's size, its encoding, its columns, each row's values. Every problem
of every line is noted (line, column, reason in French); one is enough to refuse the file."""

import csv
import functools
import io
import re
import sys
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from decimal import InvalidOperation

from defi.formatting import decimal as french_number
from defi.formatting import gettext as _
from defi.formatting import ngettext
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


# The problems a refused file lists: a file of 50,000 bad lines would make a page of them, and
# the first hundred say what is wrong with the others. The rest are counted.
MAX_PROBLEMS = 100
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong at a line of the file (None: the file or the import as a whole), in a
    column (a header name, or None), and why, in French."""

    line: int | None
    column: str | None
    reason: str

    def __str__(self):
        if self.line is None:
            return self.reason
        return _("Ligne %(line)d : ", line=self.line) + self.reason


class Problems:
    """The problems found so far: the first MAX_PROBLEMS kept, all counted."""

    def __init__(self):
        self.listed: list[Problem] = []
        self.count = 0

    def __bool__(self):
        return self.count > 0

    def add(self, line, column, message, **values):
        """Note a problem; `message` is formatted with `values`, whose control characters (a
        NUL byte in a code, say) show as "�" instead of reaching the page and the terminal."""
        self.count += 1
        if len(self.listed) < MAX_PROBLEMS:
            values = {
                name: CONTROL.sub("\ufffd", value) if isinstance(value, str) else value
                for name, value in values.items()
            }
            self.listed.append(Problem(line, column, message % values if values else message))

    def check(self):
        """Refuse the file if anything is wrong with it."""
        if self:
            raise ImportRejected(self.listed, self.count)


def problem_order(problem):
    """The import's own problems first, then line by line, column by column."""
    column = HEADER.index(problem.column) if problem.column in HEADER else -1
    return (problem.line or 0, column)


class ImportRejected(Exception):
    """The file is refused: `problems` (up to MAX_PROBLEMS) say where and why, in French, out
    of `count`; `message` says it all in a few lines of text (the command line's)."""

    def __init__(self, problems, count=None):
        if isinstance(problems, str):
            problems = [Problem(None, None, problems)]
        self.problems = sorted(problems, key=problem_order)
        self.count = max(count or 0, len(self.problems))
        self.more = self.count - len(self.problems)
        lines = [str(problem) for problem in self.problems]
        if self.more:
            lines.append(more_problems(self.more))
        self.message = "\n".join(lines)
        super().__init__(self.message)


def more_problems(count) -> str:
    return ngettext(
        "… et %(num)d autre problème, non listé : corrigez ceux-ci et importez de nouveau.",
        "… et %(num)d autres problèmes, non listés : corrigez ceux-ci et importez de nouveau.",
        count,
    )


def rejected(line, message, column=None, **values) -> ImportRejected:
    """The refusal of the file for one problem at a line."""
    return ImportRejected([Problem(line, column, message % values if values else message)])


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


def parse(data: bytes, problems: Problems) -> list[Row]:
    """Read and check the whole file: its good rows; what is wrong with the others goes into
    `problems`, line by line and column by column."""
    # Decoded whole to refuse a file that is not UTF-8, of which only the first line is kept.
    first = (decode(data).partition("\n")[0].splitlines() or [""])[0]
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    # Then decoded again as lines are read: io.StringIO would copy it at 4 bytes a character.
    lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(lines, delimiter=delimiter)
    header = tuple(cell.strip() for cell in next(reader, ()))
    if header != HEADER:
        problems.add(1, None, header_problem(header))
        return []
    rows = []
    try:
        read_rows(reader, rows, problems)
    except csv.Error:
        # The reader cannot go on past a malformed line (a stray quote, a NUL byte).
        problems.add(reader.line_num, None, _("le fichier CSV est mal formé à partir d'ici."))
    if not rows and not problems:
        problems.add(None, None, _("Le fichier ne contient aucune ligne de relevé."))
    return rows


def header_problem(header) -> str:
    """Why the first line is not the header: the columns expected, those missing or unknown."""
    message = _("les colonnes doivent être exactement : %(header)s.", header=";".join(HEADER))
    missing = [name for name in HEADER if name not in header]
    unknown = [name[:40] for name in header if name and name not in HEADER][:5]
    if missing:
        message += " " + _("Manquantes : %(names)s.", names=", ".join(missing))
    if unknown:
        message += " " + _("Inconnues : %(names)s.", names=", ".join(unknown))
    if not missing and not unknown:
        message += " " + _("Vérifiez leur ordre.")
    return message


def read_rows(reader, rows, problems):
    """Append the file's good rows to `rows`, its problems to `problems`."""
    seen = {}  # {(code, rank): line}
    shared = {}  # rows share equal choices, rather than hold a copy each
    # The same few choices are named in every row: each name is folded once, for this file.
    fold_name = functools.cache(fold)
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(HEADER):
            message = _("%(n)d colonnes au lieu de %(m)d.")
            problems.add(line, None, message, n=len(cells), m=len(HEADER))
            continue
        cells = dict(zip(HEADER, (cell.strip() for cell in cells), strict=True))
        row = parse_row(line, cells, problems, fold_name)
        if row is None:
            continue
        key = (row.code, row.rank)
        if key in seen:
            problems.add(
                line,
                "collecte",
                _("le foyer %(code)s a déjà une ligne pour la collecte %(rank)d (ligne %(n)d)."),
                code=row.code,
                rank=row.rank,
                n=seen[key],
            )
            continue
        seen[key] = line
        row.choices = shared.setdefault(row.choices, row.choices)
        rows.append(row)


# What a cell's check returns when the cell is wrong (the problem is noted): the checks that
# compare it with other cells of its row are then left out.
BAD = object()


def parse_row(line, cells, problems, fold_name=fold) -> Row | None:
    """The row of a line, or None if any of its cells is wrong (each noted in `problems`)."""
    before = problems.count

    def fail(column, message, **values):
        problems.add(line, column, message, **values)
        return BAD

    code = cells["foyer"]
    if not CODE.match(code):
        fail(
            "foyer",
            _("le code foyer « %(value)s » n'est pas valable (lettres, chiffres, tirets)."),
            value=code[:30],
        )
    group = strip(cells["groupe"])
    if not group or len(group) > 120:
        fail("groupe", _("le groupe est vide ou trop long."))
    if cells["accompagne"] not in ("oui", "non"):
        fail("accompagne", _("accompagne doit valoir oui ou non."))
    rank = integer(cells, "collecte", fail, 1, 3, required=True)
    persons = integer(cells, "personnes", fail, 1, 40, required=True)
    days = integer(cells, "jours", fail, 1, 366)
    spend = decimal(cells, "depenses_eur", fail, Decimal("1000000"))
    organic = decimal(cells, "dont_bio_eur", fail, Decimal("1000000"))
    local = decimal(cells, "dont_local_eur", fail, Decimal("1000000"))
    covers = integer(cells, "repas_convives", fail, 1, 100000)
    cost = decimal(cells, "cout_repas_personne_eur", fail, Decimal("50"))
    waste = decimal(cells, "gaspillage_kg", fail, Decimal("5000"), places=3)
    recipes = integer(cells, "recettes", fail, 0, 1000)
    producers = integer(cells, "producteurs", fail, 0, 1000)
    if spend is not BAD:
        for part, name in ((organic, "dont_bio_eur"), (local, "dont_local_eur")):
            if part not in (None, BAD) and (spend is None or part > spend):
                fail(name, _("%(name)s ne peut pas dépasser depenses_eur."), name=name)
    if BAD not in (cost, spend, covers) and cost is None and (spend is None or not covers):
        fail(
            "cout_repas_personne_eur",
            _("il faut cout_repas_personne_eur, ou bien depenses_eur et repas_convives."),
        )
    if problems.count > before:
        return None
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


def integer(cells, name, fail, low, high, required=False):
    """The whole number of a cell, None if empty, BAD if wrong."""
    text = cells[name]
    if text == "":
        if required:
            return fail(name, _("%(name)s est obligatoire."), name=name)
        return None
    if not INTEGER.fullmatch(text):
        message = _("%(name)s doit être un nombre entier (« %(value)s »).")
        return fail(name, message, name=name, value=text[:20])
    value = int(text)
    if not low <= value <= high:
        message = _("%(name)s doit être entre %(low)d et %(high)d.")
        return fail(name, message, name=name, low=low, high=high)
    return value


def decimal(cells, name, fail, maximum, places=2):
    """The number of a cell (a comma or a point), None if empty, BAD if wrong."""
    text = cells[name]
    if text == "":
        return None
    cleaned = text.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if not DECIMAL.fullmatch(cleaned):
        return fail(
            name,
            _("%(name)s doit être un nombre, avec une virgule ou un point (« %(value)s »)."),
            name=name,
            value=text[:20],
        )
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return fail(name, _("%(name)s doit être un nombre."), name=name)
    if value > maximum:
        return fail(name, _("%(name)s dépasse %(max)s."), name=name, max=maximum)
    return round(value, places)


def cents(value):
    return None if value is None else int((value * 100).to_integral_value())
