"""The tables a défi's files hold, in DESIGN.md's formats (`files.py` writes them).

Two kinds, never mixed: the tables for partners (comparison, retention, questionnaire), whose
every cell comes from the publication, through the disclosure step; and the pilot's microdata,
one pseudonymised row per relevé, downloaded apart under a name and a first line that say it
is confidential. No name, contact or free text in either: foyers appear by code only.
"""

import sqlalchemy as sa

from defi.extensions import db
from defi.figures.files import Table
from defi.figures.indicators import cost_per_meal_person
from defi.figures.sums import sums_for
from defi.figures.tables import ALL
from defi.figures.tables import SUBGROUPS
from defi.figures.tables import question_choices
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
MICRODATA_WARNING = (
    "CONFIDENTIEL : données pseudonymisées de chaque foyer, pour l'analyse du pilote seul. "
    "Ne pas transmettre ; pour les partenaires, utilisez comparaison.xlsx."
)


def _scaled(key, value):
    """Shares and choices as percentages; everything else as computed."""
    if value is None:
        return None
    if key.startswith("part") or key.startswith("q_"):
        return round(value * 100, 2)
    return round(value, 2)


def comparison_tables(challenge, k) -> list[Table]:
    """The tables for the partners: comparison, retention and questionnaire, all groups and
    each group, every cell through the disclosure step. No relevé, no code."""
    from defi.figures import publication

    published = publication(challenge, k)
    names = {ALL: ALL_GROUPS} | {group.id: group.name for group in challenge.groups}
    ranks = [wave.rank for wave in challenge.waves]
    comparison, questionnaire, retained = [], [], []
    for scope, table in published.tables.items():
        name = names[scope]
        for key, by_rank in table.items():
            for rank, cells in by_rank.items():
                for subgroup in SUBGROUPS:
                    comparison.append((key, name, subgroup, rank, *_figures(key, cells[subgroup])))
        for question, choice, _text, _label, from_rank in published.choices:
            key = f"q_{question}_{choice}"
            for rank in ranks:
                if rank < from_rank:
                    continue
                for subgroup in SUBGROUPS:
                    cell = table[key][rank][subgroup]
                    questionnaire.append(
                        (question, choice, name, subgroup, rank, cell.n, _scaled(key, cell.mean))
                    )
        for subgroup in SUBGROUPS:
            counts = published.retention[scope][subgroup]
            retained.append(
                (name, subgroup, counts.enrolled)
                + tuple(counts.submitted.get(rank) for rank in (1, 2, 3))
            )
    return [
        Table("comparaison", COMPARISON_HEADER, comparison),
        Table("retention", RETENTION_HEADER, retained),
        Table("questionnaire", QUESTIONNAIRE_HEADER, questionnaire),
    ]


def _figures(key, cell):
    """n, mean, median, pooled ratio, paired n and change of a cell; all empty when hidden."""
    if cell.hidden is not None:
        return (None,) * 6
    change = None if cell.change_pct is None else round(cell.change_pct, 1)
    return (
        cell.n,
        _scaled(key, cell.mean),
        _scaled(key, cell.median),
        _scaled(key, cell.pooled),
        cell.paired_n,
        change,
    )


def microdata_table(challenge) -> Table:
    """The pseudonymised raw rows, one per foyer and wave: the pilot's own, never a partner's."""
    choices = question_choices(challenge.id)
    return Table(
        "donnees",
        RAW_HEADER + choice_columns(choices),
        raw_rows(challenge, choices),
        preamble=(MICRODATA_WARNING,),
    )


def choice_columns(choices):
    """One column per question of the défi, listing the ticked choices with `|`."""
    seen = []
    for question, *_rest in choices:
        if question not in seen:
            seen.append(question)
    return tuple(seen)


def raw_rows(challenge, choices):
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
