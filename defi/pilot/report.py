"""The printed report: the défi's publication on 2 A4 pages, for the partners.

Like the comparison (`comparison.py`, whose tables and charts it reuses), it formats published
cells only. It shows the waves whose figures are published, and says why the others are not
there yet.
"""

from dataclasses import dataclass

from defi.figures.tables import ALL
from defi.formatting import gettext as _
from defi.pilot.comparison import MAIN_KEYS
from defi.pilot.comparison import Indicator
from defi.pilot.comparison import Shown
from defi.pilot.comparison import change_rank
from defi.pilot.comparison import change_shown
from defi.pilot.comparison import grouped_chart
from defi.pilot.comparison import hidden_text
from defi.pilot.comparison import indicator_catalogue
from defi.pilot.comparison import published_waves
from defi.pilot.comparison import question_tables
from defi.pilot.comparison import retention_rows
from defi.pilot.comparison import scopes_of
from defi.pilot.comparison import show_value

# The indicators the report draws, in its 2 × 2 grid.
REPORT_CHARTS = ("cout_repas_personne", "part_bio", "part_locale", "gaspillage_kg_pers_an")


@dataclass
class ReportRow:
    indicator: Indicator
    cells: list  # per scope: Shown per published wave, then the change


def report_rows(challenge, published, catalogue, waves, to_rank) -> list[ReportRow]:
    """The main indicators, per scope: the mean at each published wave and the change."""
    rows = []
    for key in MAIN_KEYS:
        cells = []
        for scope, _name in scopes_of(challenge):
            for wave in waves:
                cell = published.tables[scope][key][wave.rank]["tous"]
                if cell.hidden:
                    cells.append(Shown(hidden_text(cell.hidden), True))
                else:
                    cells.append(Shown(show_value(key, cell.mean) if cell.n else "—"))
            if to_rank is not None:
                cell = published.tables[scope][key][to_rank]["tous"]
                cells.append(change_shown(key, cell))
        rows.append(ReportRow(catalogue[key], cells))
    return rows


@dataclass
class Report:
    day: object
    scopes: list
    waves: list  # the waves whose figures are published
    withheld: list  # sentences about the others
    change_rank: int | None
    retention: list
    rows: list
    charts: list
    questions: list


def withheld_sentences(challenge, day) -> list[str]:
    """Why a wave's figures are not in the report yet."""
    shown = {wave.rank for wave in published_waves(challenge, day)}
    sentences = []
    for wave in challenge.waves:
        if wave.rank in shown:
            continue
        if wave.is_open(day):
            sentences.append(
                _(
                    "La collecte %(rank)d (%(label)s) est en cours : ses chiffres seront "
                    "publiés à sa clôture.",
                    rank=wave.rank,
                    label=wave.label,
                )
            )
        else:
            sentences.append(
                _(
                    "La collecte %(rank)d (%(label)s) n'a pas encore commencé.",
                    rank=wave.rank,
                    label=wave.label,
                )
            )
    return sentences


def printed_report(challenge, published, day) -> Report:
    """The report's tables and charts, from the publication, for the waves it publishes."""
    waves = published_waves(challenge, day)
    catalogue = indicator_catalogue(published.choices)
    rank = change_rank(waves)
    scopes = scopes_of(challenge)
    charts = [
        grouped_chart(catalogue[key], published, scopes, waves, uid=f"report-{key}")
        for key in REPORT_CHARTS
    ]
    return Report(
        day=day,
        scopes=scopes,
        waves=waves,
        withheld=withheld_sentences(challenge, day),
        change_rank=rank,
        retention=retention_rows(challenge, published),
        rows=report_rows(challenge, published, catalogue, waves, rank),
        charts=charts,
        questions=question_tables(published, ALL, waves, rank),
    )
