"""The comparison page: the défi's publication laid out for the pilot (the printed report,
`report.py`, reuses its tables and charts).

Every figure here is a cell of `figures.publication` (one disclosure step over everything
published together), formatted in French: never a figure of its own. A suppressed cell reads
"effectif trop faible"; "—" means that nothing was collected; a wave still open says that its
figures are published when it closes.
"""

from dataclasses import dataclass

from defi.figures import REASONS
from defi.figures import derived
from defi.figures.disclosure import FEW
from defi.figures.disclosure import PROTECT
from defi.figures.indicators import indicator_keys
from defi.figures.indicators import indicator_labels
from defi.figures.indicators import is_ratio
from defi.figures.tables import ALL
from defi.figures.tables import OPEN
from defi.figures.tables import SUBGROUPS
from defi.figures.tables import open_ranks
from defi.formatting import decimal
from defi.formatting import euros
from defi.formatting import gettext as _
from defi.formatting import lazy_gettext as _l
from defi.formatting import ngettext
from defi.formatting import percent
from defi.formatting import today
from defi.models.collecte import CATEGORY_LABELS

SUPPRESSED = _l("effectif trop faible")
SUBGROUP_NAMES = {
    "tous": _l("Tous"),
    "accompagnes": _l("Accompagnés"),
    "non_accompagnes": _l("Non accompagnés"),
}
MAIN_KEYS = ("cout_repas_personne", "part_bio", "part_locale", "gaspillage_kg_pers_an",
             "recettes", "producteurs")  # fmt: skip
DEFAULT_KEY = "cout_repas_personne"


def is_share(key: str) -> bool:
    """A share (of spending, of foyers): shown in %, its change in points."""
    return key.startswith(("part_", "q_"))


@dataclass
class Indicator:
    """An indicator as the pilot chooses it: its French name with its unit, and its family."""

    key: str
    label: str
    family: str
    question: str = ""

    @property
    def share(self) -> bool:
        return is_share(self.key)

    @property
    def ratio(self) -> bool:
        return is_ratio(self.key)


def indicator_catalogue(choices) -> dict[str, Indicator]:
    """Every published indicator and questionnaire choice, in the order of the tables."""
    labels = indicator_labels()
    spending, places, waste = _("Achats et coût"), _("Lieux d'achat"), _("Gaspillage")
    sharing = _("Recettes et producteurs")
    catalogue = {}
    for key in indicator_keys():
        if key == "cout_repas_personne":
            label, family = labels[key], spending
        elif key.startswith("part_lieu_"):
            label, family = _("%(name)s (%% des dépenses)", name=labels[key]), places
        elif key.startswith("part_"):
            label, family = _("%(name)s (%% des dépenses)", name=labels[key]), spending
        elif key == "gaspillage_kg_pers_an":
            label, family = labels[key], waste
        elif key.startswith("gaspillage_"):
            category = str(CATEGORY_LABELS[key.removeprefix("gaspillage_kg_pers_an_")])
            label = _(
                "Gaspillage : %(category)s (kg par personne et par an)",
                category=category[0].lower() + category[1:],
            )
            family = waste
        else:
            label, family = _("%(name)s (nombre par foyer)", name=labels[key]), sharing
        catalogue[key] = Indicator(key, label, family)
    for question, choice, text, choice_label, _from_rank in choices:
        key = f"q_{question}_{choice}"
        label = _("%(choice)s (%% des foyers)", choice=choice_label)
        catalogue[key] = Indicator(key, label, text, question=text)
    return catalogue


def choose_indicator(asked: str | None, catalogue) -> tuple[str, str | None]:
    """The indicator asked for, or the default and why (an unknown value is never shown)."""
    if not asked:
        return DEFAULT_KEY, None
    if asked in catalogue:
        return asked, None
    return DEFAULT_KEY, _(
        "Cet indicateur n'est pas dans la liste : voici le coût par repas et par personne."
    )


def detail_scope(asked: str | None, groups) -> int | None:
    """The scope whose whole detail is asked for ("tous" or a group's id), or None."""
    if asked == "tous":
        return ALL
    ids = {str(group.id): group.id for group in groups}
    return ids.get(asked or "")


def show_value(key: str, number) -> str:
    """A published figure in French: "2,41 €", "19,1 %", "14,4" (kg or a count per foyer)."""
    if number is None:
        return "—"
    if key == "cout_repas_personne":
        return euros(number)
    if is_share(key):
        return percent(number)
    return decimal(number, 1)


def _signed(number: float) -> str:
    sign = "+" if number > 0 else "-" if number < 0 else ""
    return sign + decimal(abs(number), 1)


def show_change(key: str, cell) -> tuple[str, bool]:
    """(text, hidden) of a cell's change since the first wave, on its paired foyers: in points
    for a share, in % for an amount."""
    if cell.change_hidden in (FEW, PROTECT):
        return str(SUPPRESSED), True
    if is_share(key) and cell.change_delta is not None:
        points = cell.change_delta * 100
        text = ngettext(
            "%(value)s point", "%(value)s points", int(abs(points)), value=_signed(points)
        )
    elif cell.change_pct is not None:
        text = _signed(cell.change_pct) + " %"
    elif cell.change_hidden:
        return str(REASONS[cell.change_hidden]), True
    else:
        return "—", False
    return _("%(change)s (n = %(n)d)", change=text, n=cell.paired_n), False


def change_shown(key: str, cell) -> "Shown":
    """A cell's change as printed: hidden with its figure, "—" when nothing was collected."""
    if cell.hidden:
        return Shown(hidden_text(cell.hidden), True)
    return Shown(*show_change(key, cell)) if cell.n else Shown("—")


def hidden_text(reason: str) -> str:
    """Why a figure is not shown: suppressed ("effectif trop faible") or not yet published."""
    return str(SUPPRESSED if reason in (FEW, PROTECT) else REASONS.get(reason, SUPPRESSED))


@dataclass
class Shown:
    """One cell of a table as printed; `span` rows when a hidden figure covers its wave."""

    text: str
    hidden: bool = False
    span: int = 1


@dataclass
class StatRow:
    label: str
    cells: list  # Shown, or None where a cell above covers it


@dataclass
class WaveRows:
    """A wave's rows; or, when no column has a figure for the same reason (a wave still open,
    not started), that reason once, in `note`."""

    wave: object
    rows: list
    note: str | None = None


@dataclass
class Column:
    scope: int
    scope_name: str
    subgroup: str

    @property
    def subgroup_name(self) -> str:
        return str(SUBGROUP_NAMES[self.subgroup])


@dataclass
class Comparison:
    """One indicator, every scope side by side: a column per scope × subgroup, a block of rows
    per wave (n, mean, median, pooled ratio, change since the first wave), and its chart."""

    indicator: Indicator
    scopes: list
    subgroups: list
    columns: list
    waves: list
    chart: "Chart"


def scopes_of(challenge) -> list[tuple[int, str]]:
    """Each group, then all groups together (the territory)."""
    return [(group.id, group.name) for group in challenge.groups] + [(ALL, _("Tous les groupes"))]


def has_accompanied(published) -> bool:
    """Whether the défi publishes subgroups: it has accompanied foyers (a hidden count too)."""
    return published.retention[ALL]["accompagnes"].enrolled != 0


def compare(challenge, published, indicator: Indicator, scopes=None) -> Comparison:
    """The side-by-side table and chart of one indicator, from the publication."""
    key = indicator.key
    scopes = scopes or scopes_of(challenge)
    subgroups = list(SUBGROUPS) if has_accompanied(published) else ["tous"]
    columns = [Column(scope, name, sub) for scope, name in scopes for sub in subgroups]
    first = challenge.waves[0].rank if challenge.waves else None
    waves = []
    for wave in challenge.waves:
        labels = [_("Foyers (n)"), _("Moyenne"), _("Médiane")]
        if indicator.ratio:
            labels.append(_("Ratio global"))
        if wave.rank != first:
            labels.append(_("Évolution depuis le début"))
        rows = [StatRow(label, []) for label in labels]
        cells = [published.tables[col.scope][key][wave.rank][col.subgroup] for col in columns]
        if len({cell.hidden for cell in cells}) == 1 and cells[0].hidden == OPEN:
            waves.append(WaveRows(wave, [], hidden_text(OPEN)))
            continue
        for cell in cells:
            _fill(rows, key, cell, indicator.ratio, wave.rank != first)
        waves.append(WaveRows(wave, rows))
    title = _("%(label)s : moyenne des foyers à chaque collecte", label=indicator.label)
    chart = grouped_chart(indicator, published, scopes, challenge.waves, title=title)
    return Comparison(indicator, scopes, subgroups, columns, waves, chart)


def _fill(rows, key, cell, ratio, with_change):
    """Append one column's cells to a wave's rows (a hidden figure: one cell over all rows)."""
    if cell.hidden:
        rows[0].cells.append(Shown(hidden_text(cell.hidden), True, len(rows)))
        for row in rows[1:]:
            row.cells.append(None)
        return
    texts = [Shown(str(cell.n) if cell.n is not None else "—")]
    texts += [Shown(show_value(key, cell.mean)), Shown(show_value(key, cell.median))]
    if ratio:
        texts.append(Shown(show_value(key, cell.pooled)))
    if with_change:
        texts.append(change_shown(key, cell))
    for row, text in zip(rows, texts, strict=True):
        row.cells.append(text)


# Charts drawn on the server: bars of the mean of each scope, clustered by wave.

CHART_WIDTH, CHART_HEIGHT = 640, 250
AXIS_Y, TOP_Y = 205, 30  # the axis line and the top of the tallest bar


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    text: str


@dataclass
class Chart:
    """A bar chart: its title, its text alternative and what to draw, in SVG units.

    `marks` are (x, text) where a scope has no bar: "×" for a suppressed figure, "—" where
    nothing was collected, or one line for a wave whose figures are not published yet."""

    uid: str
    title: str
    description: str
    bars: list
    labels: list  # (x, wave label)
    legend: list  # (series class, name)
    marks: list
    suppressed: bool = False  # whether a "×" needs its key
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    axis_y: int = AXIS_Y
    values_shown: bool = True


def series_class(scope: int, index: int) -> str:
    return "series-all" if scope == ALL else f"series-{index % 6 + 1}"


def grouped_chart(indicator: Indicator, published, scopes, waves, uid=None, title=None) -> Chart:
    """Each scope's mean at each wave, bars clustered by wave; hidden figures draw no bar."""
    key = indicator.key
    cells = {
        (scope, wave.rank): published.tables[scope][key][wave.rank]["tous"]
        for scope, _name in scopes
        for wave in waves
    }
    means = [cell.mean for cell in cells.values() if cell.mean is not None]
    top = max(means, default=0)
    slot = (CHART_WIDTH - 20) / max(len(waves), 1)
    bar = min(56.0, (slot - 24) / max(len(scopes), 1))
    chart = Chart(uid or f"chart-{key}", title or indicator.label, "", [], [], [], [])
    sentences = []
    for position, wave in enumerate(waves):
        middle = 10 + position * slot + slot / 2
        start = middle - bar * len(scopes) / 2
        chart.labels.append((round(middle, 1), wave.label))
        column = [cells[(scope, wave.rank)] for scope, _name in scopes]
        if all(cell.hidden == OPEN for cell in column):
            chart.marks.append((round(middle, 1), _("collecte en cours")))
            sentences.append(f"{wave.label.capitalize()} : {hidden_text(OPEN)}.")
            continue
        parts = []
        for index, ((scope, name), cell) in enumerate(zip(scopes, column, strict=True)):
            text = hidden_text(cell.hidden) if cell.hidden else show_value(key, cell.mean)
            parts.append(f"{name} {text}")
            x = round(start + index * bar + 2, 1)
            if cell.mean is not None and top > 0:
                height = round(cell.mean / top * (AXIS_Y - TOP_Y), 1)
                series = series_class(scope, index)
                chart.bars.append(Bar(x, AXIS_Y - height, round(bar - 4, 1), height, series, text))
            else:
                chart.marks.append((round(x + (bar - 4) / 2, 1), "×" if cell.hidden else "—"))
                chart.suppressed = chart.suppressed or bool(cell.hidden)
        sentences.append(f"{wave.label.capitalize()} : {', '.join(parts)}.")
    chart.legend = [(series_class(scope, i), name) for i, (scope, name) in enumerate(scopes)]
    chart.description = _("Moyenne des foyers, par collecte.") + " " + " ".join(sentences)
    chart.values_shown = bar >= 40
    return chart


# Foyers engaged, per scope and subgroup, side by side.


@dataclass
class RetentionRow:
    subgroup: str
    enrolled: Shown
    submitted: list  # Shown per wave

    @property
    def subgroup_name(self) -> str:
        return str(SUBGROUP_NAMES[self.subgroup])


@dataclass
class RetentionScope:
    name: str
    rows: list


def _count(counts, column) -> Shown:
    if column in counts.hidden:
        return Shown(hidden_text(counts.hidden[column]), True)
    value = counts.enrolled if column == "enrolled" else counts.submitted[column]
    return Shown(str(value))


def retention_rows(challenge, published, scopes=None) -> list[RetentionScope]:
    """Foyers enrolled and relevés sent at each wave, per scope and subgroup."""
    subgroups = SUBGROUPS if has_accompanied(published) else ("tous",)
    result = []
    for scope, name in scopes or scopes_of(challenge):
        rows = []
        for subgroup in subgroups:
            counts = published.retention[scope][subgroup]
            submitted = [_count(counts, wave.rank) for wave in challenge.waves]
            rows.append(RetentionRow(subgroup, _count(counts, "enrolled"), submitted))
        result.append(RetentionScope(name, rows))
    return result


# The questionnaire, in its own order.


@dataclass
class QuestionTable:
    text: str
    rows: list  # StatRow: a choice, then its share per wave and its change (points)


def question_tables(published, scope, waves, change_rank=None) -> list[QuestionTable]:
    """Per question, in the questionnaire's order: the share of foyers that ticked each choice
    at each wave ("—" where the question was not asked), and its change to `change_rank`."""
    tables: dict[str, QuestionTable] = {}
    for question, choice, text, label, from_rank in published.choices:
        table = tables.setdefault(question, QuestionTable(text, []))
        cells = published.tables[scope][f"q_{question}_{choice}"]
        row = StatRow(label, [])
        for wave in waves:
            row.cells.append(_share(cells[wave.rank]["tous"], wave.rank < from_rank))
        if change_rank is not None:
            cell = cells[change_rank]["tous"]
            asked = from_rank == waves[0].rank if waves else False
            row.cells.append(change_shown("q_", cell) if asked else Shown("—"))
        table.rows.append(row)
    return list(tables.values())


def _share(cell, not_asked) -> Shown:
    if not_asked:
        return Shown("—")
    if cell.hidden:
        return Shown(hidden_text(cell.hidden), True)
    return Shown(show_value("q_", cell.mean) if cell.n else "—")


# One scope's whole detail: every indicator, its subgroups, the questionnaire.


def change_rank(waves):
    """The wave a table's change runs to: the last of `waves` after the first, or None."""
    return waves[-1].rank if len(waves) > 1 else None


@dataclass
class Detail:
    scope: int
    name: str
    retention: list
    comparisons: list
    charted: set
    questions: list


def scope_detail(challenge, published, catalogue, scope) -> Detail:
    """Every indicator of one group (or all groups together), as the comparison shows one."""
    name = dict(scopes_of(challenge))[scope]
    scopes = [(scope, name)]
    comparisons = [
        compare(challenge, published, indicator, scopes)
        for key, indicator in catalogue.items()
        if not key.startswith("q_")
    ]
    day = today()
    return Detail(
        scope=scope,
        name=name,
        retention=retention_rows(challenge, published, scopes),
        comparisons=comparisons,
        charted=set(MAIN_KEYS),
        questions=question_tables(
            published, scope, challenge.waves, change_rank(published_waves(challenge, day))
        ),
    )


def published_waves(challenge, day):
    """The waves whose figures are published (closed or open by hand no more, and started)."""
    withheld = open_ranks(challenge, day)
    return [w for w in challenge.waves if w.rank not in withheld and w.opens_on <= day]


def page_tables(challenge, published, catalogue, key, detail) -> dict:
    """The comparison page's tables: the indicator `key` side by side, the retention, and the
    detail of one scope (None: none), each made once per publication (figures.derived)."""
    return {
        "comparison": derived(
            published, ("comparison", key), lambda: compare(challenge, published, catalogue[key])
        ),
        "retention": derived(
            published, ("retention",), lambda: retention_rows(challenge, published)
        ),
        "detail": None
        if detail is None
        else derived(
            published,
            ("detail", detail),
            lambda: scope_detail(challenge, published, catalogue, detail),
        ),
    }
