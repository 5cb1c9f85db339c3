"""The tables a défi's files hold, in DESIGN.md's formats (`files.py` writes them).

Two kinds, never mixed: the tables for partners (the synthesis for a report, then DESIGN.md's
comparison, retention and questionnaire), whose every cell comes from the publication, through
the disclosure step, and so counts sent relevés only; and the pilot's microdata, one
pseudonymised row per relevé, sent or draft (its `statut` says which), downloaded apart under a
name and a first line that say it is confidential. No name, contact or free text in either:
foyers appear by code only, in the microdata alone.
"""

import re

import sqlalchemy as sa

from defi.extensions import db
from defi.figures.files import CHANGE_PERCENT
from defi.figures.files import CHANGE_POINTS
from defi.figures.files import DECIMAL_1
from defi.figures.files import DECIMAL_2
from defi.figures.files import DECIMAL_3
from defi.figures.files import EUROS
from defi.figures.files import INTEGER
from defi.figures.files import SHARE
from defi.figures.files import Layout
from defi.figures.files import Table
from defi.figures.indicators import indicator_keys
from defi.figures.indicators import indicator_labels
from defi.figures.indicators import meal_cost
from defi.figures.tables import ALL
from defi.figures.tables import SUBGROUPS
from defi.figures.tables import open_ranks
from defi.figures.tables import question_choices
from defi.formatting import NBSP
from defi.formatting import day
from defi.formatting import lazy_gettext as _l
from defi.formatting import today
from defi.models import Accompaniment
from defi.models import Answer
from defi.models import Choice
from defi.models import Entry
from defi.models import Group
from defi.models import Household
from defi.models import Producer
from defi.models import Purchase
from defi.models import Question
from defi.models import Recipe
from defi.models import Wave
from defi.models import Weighing

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
# The last column of the microdata: whether the relevé was sent (the figures count those
# alone) or is a draft. Machine words, as `accompagne`'s oui / non.
STATUS_COLUMN = "statut"
STATUS_VALUES = {"submitted": "envoye", "draft": "brouillon"}
ALL_GROUPS = "Tous"
MICRODATA_WARNING = (
    "CONFIDENTIEL : données pseudonymisées de chaque foyer, pour l'analyse du pilote seul. "
    "Ne pas transmettre ; pour les partenaires, utilisez comparaison.xlsx. "
    "Colonne statut : envoye (relevé envoyé) ou brouillon (pas encore envoyé) ; "
    "les chiffres publiés ne comptent que les relevés envoyés."
)
SYNTHESIS = "Synthèse"

# Each sheet's number formats, column by column (None: text or General).
COMPARISON_FORMATS = (None, None, None, INTEGER, INTEGER, DECIMAL_2, DECIMAL_2, DECIMAL_2,
                      INTEGER, DECIMAL_1)  # fmt: skip
RETENTION_FORMATS = (None, None, INTEGER, INTEGER, INTEGER, INTEGER)
QUESTIONNAIRE_FORMATS = (None, None, None, None, INTEGER, INTEGER, DECIMAL_2)
RAW_FORMATS = (None, None, None, INTEGER, INTEGER, INTEGER, DECIMAL_2, DECIMAL_2, DECIMAL_2,
               INTEGER, DECIMAL_2, DECIMAL_3, INTEGER, INTEGER)  # fmt: skip


def _scaled(key, value):
    """Shares and choices as percentages; everything else as computed."""
    if value is None:
        return None
    if key.startswith("part") or key.startswith("q_"):
        return round(value * 100, 2)
    return round(value, 2)


def partner_tables(challenge, k) -> list[Table]:
    """The partners' workbook: the synthesis for a report first, then DESIGN.md's tables."""
    from defi.figures import publication

    published = publication(challenge, k)
    return [synthesis_table(challenge, published, k)] + comparison_tables(challenge, k, published)


def comparison_tables(challenge, k, published=None) -> list[Table]:
    """The tables for the partners: comparison, retention and questionnaire, all groups and
    each group, every cell through the disclosure step. No relevé, no code."""
    from defi.figures import publication

    if published is None:
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
        Table("comparaison", COMPARISON_HEADER, comparison, layout=Layout(COMPARISON_FORMATS)),
        Table("retention", RETENTION_HEADER, retained, layout=Layout(RETENTION_FORMATS)),
        Table(
            "questionnaire",
            QUESTIONNAIRE_HEADER,
            questionnaire,
            layout=Layout(QUESTIONNAIRE_FORMATS),
        ),
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


# The synthesis: a sheet for a report, in French, one row per indicator and subgroup.

# What a share's row reads, for each place type (DESIGN.md's list); another place falls back
# on the pages' label.
PLACE_PHRASES = {
    "supermarche": _l("Part achetée en supermarché (%)"),
    "hard_discount": _l("Part achetée en hard-discount (%)"),
    "marche": _l("Part achetée au marché (%)"),
    "vente_directe": _l("Part achetée en vente directe / ferme (%)"),
    "amap": _l("Part achetée en AMAP / panier (%)"),
    "magasin_producteurs": _l("Part achetée en magasin de producteurs (%)"),
    "magasin_bio": _l("Part achetée en magasin bio (%)"),
    "epicerie_solidaire": _l("Part achetée en épicerie solidaire (%)"),
    "proximite": _l("Part achetée en commerce de proximité (%)"),
    "autoproduction": _l("Part venue de l'autoproduction / du jardin (%)"),
    "don": _l("Part venue de dons / du glanage (%)"),
}
RETENTION_ROW = "releves_envoyes"
# French typography in the sheet, as the `nbsp` filter on the pages: a wrapped label never
# starts a line with ":", "?" or "»".
_BREAKABLE = re.compile(r"[ ]+(?=[:;!?»])|(?<=«)[ ]+")


def typeset(text: str) -> str:
    return _BREAKABLE.sub(NBSP, text)


def synthesis_labels(choices) -> dict[str, str]:
    """Each synthesis row's French label, its unit in brackets."""
    from defi.formatting import gettext as _

    labels = {
        RETENTION_ROW: _("Foyers ayant envoyé leur relevé (nombre)"),
        "cout_repas_personne": _("Coût d'un repas par personne (€)"),
        "part_bio": _("Part du bio (%)"),
        "part_locale": _("Part du local (%)"),
        "gaspillage_kg_pers_an": _("Gaspillage (kg par personne et par an)"),
        "gaspillage_kg_pers_an_evitable": _("Gaspillage évitable (kg par personne et par an)"),
        "gaspillage_kg_pers_an_epluchures": _(
            "Gaspillage d'épluchures potentiellement évitables (kg par personne et par an)"
        ),
        "gaspillage_kg_pers_an_non_evitable": _(
            "Gaspillage non évitable (kg par personne et par an)"
        ),
        "recettes": _("Recettes partagées (par foyer)"),
        "producteurs": _("Adresses de producteurs collectées (par foyer)"),
    }
    pages = indicator_labels()
    for key in indicator_keys():
        if key.startswith("part_lieu_"):
            place = key.removeprefix("part_lieu_")
            phrase = PLACE_PHRASES.get(place)
            labels[key] = str(phrase) if phrase else f"{pages[key]} (%)"
        labels.setdefault(key, pages[key])
    for question, choice, text, label, _rank in choices:
        # "…manger mieux ? — nouveaux goûts", "…j'agis sur : achats locaux" (but "AMAP")
        if label[:2].istitle():
            label = label[0].lower() + label[1:]
        joined = f"{text} {label}" if text.rstrip().endswith(":") else f"{text} — {label}"
        labels[f"q_{question}_{choice}"] = _("%(choice)s (%% des foyers)", choice=joined)
    return {key: typeset(label) for key, label in labels.items()}


def is_share(key) -> bool:
    """Shares (of spending, of foyers) change in points; amounts and counts in %."""
    return key.startswith(("part", "q_"))


def unit_format(key):
    if key == RETENTION_ROW:
        return INTEGER
    if key == "cout_repas_personne":
        return EUROS
    return SHARE if is_share(key) else DECIMAL_1


def synthesis_value(cell):
    """The mean a cell publishes (a share as a ratio: the sheet shows it in %), or None."""
    return None if cell.hidden is not None else cell.mean


def synthesis_change(key, first, cell):
    """The paired foyers' change from the first wave: in points for a share, as a ratio for
    an amount (the sheet shows it in %); None unless both ends and the change are published.
    """
    if first.hidden is not None or cell.hidden is not None or first.mean is None:
        return None
    if cell.mean is None or not cell.paired_n:
        return None
    if is_share(key):
        return None if cell.change_delta is None else cell.change_delta * 100
    return None if cell.change_pct is None else cell.change_pct / 100


def synthesis_table(challenge, published, k, on=None) -> Table:
    """The partners' first sheet: title, défi, date, what is counted, then one row per
    indicator and subgroup (the questionnaire in its order), start / mid / end and the change
    from the start for all groups and each group. Every figure is the publication's; a hidden
    one stays empty."""
    from defi.formatting import gettext as _

    on = on or today()
    waves = list(challenge.waves)
    first, later = (waves[0] if waves else None), waves[1:]
    scopes = [(_("Tous les groupes"), ALL)] + [(group.name, group.id) for group in challenge.groups]
    subgroups = {
        "tous": _("tous"),
        "accompagnes": _("accompagnés"),
        "non_accompagnes": _("non accompagnés"),
    }
    header, bands = [_("Indicateur"), _("Foyers")], []
    for name, _scope in scopes:
        start = len(header) + 1
        header += [wave.label.capitalize() for wave in waves]
        header += [
            _("Évolution %(first)s → %(wave)s", first=first.label, wave=wave.label)
            for wave in later
        ]
        if len(header) >= start:
            bands.append((name, start, len(header)))
    labels = synthesis_labels(published.choices)
    keys = [RETENTION_ROW] + indicator_keys([(q, c) for q, c, *_rest in published.choices])
    rows, formats = [], []
    for key in keys:
        for subgroup, subgroup_name in subgroups.items():
            row = [labels[key], subgroup_name]
            for _name, scope in scopes:
                row += _synthesis_cells(published, key, scope, subgroup, first, waves)
            rows.append(tuple(row))
            change = CHANGE_POINTS if is_share(key) else CHANGE_PERCENT
            per_scope = [unit_format(key)] * len(waves) + [change] * len(later)
            formats.append((None, None, *per_scope * len(scopes)))
    notes = _synthesis_notes(challenge, waves, k, on)
    value_width, change_width = 11, 14
    widths = [58, 16] + ([value_width] * len(waves) + [change_width] * len(later)) * len(scopes)
    return Table(
        SYNTHESIS,
        tuple(header),
        rows,
        preamble=tuple(notes),
        layout=Layout(
            row_formats=formats,
            widths=tuple(widths),
            bands=tuple(bands),
            frozen_columns=2,
            wrapped=(0,),
            landscape=True,
        ),
    )


def _synthesis_notes(challenge, waves, k, on):
    """The Synthèse's title, défi, date, and what its figures count."""
    from defi.formatting import gettext as _

    notes = [
        _("Synthèse des résultats"),
        challenge.name,
        _("Export du %(day)s", day=day(on)),
        _(
            "Chiffres : moyenne des foyers qui ont envoyé leur relevé de la collecte ; "
            "les relevés en brouillon (pas encore envoyés) ne sont pas comptés."
        ),
        _(
            "Cellule vide : effectif trop faible (moins de %(k)d foyers, ou chiffre masqué "
            "pour qu'on ne puisse pas le retrouver par soustraction), ou rien de collecté.",
            k=k,
        ),
        _(
            "Évolution : sur les foyers présents aux deux collectes (leur nombre est dans la "
            "feuille comparaison, colonne n_apparies) ; en points (pts) pour les parts, en % "
            "pour les montants."
        ),
    ]
    withheld = open_ranks(challenge, on)
    notes += [
        _(
            "Collecte « %(wave)s » en cours : ses chiffres seront publiés à sa clôture.",
            wave=w.label,
        )
        for w in waves
        if w.rank in withheld
    ]
    return [typeset(note) for note in notes]


def _synthesis_cells(published, key, scope, subgroup, first, waves):
    """One scope's start / mid / end and changes of a row."""
    if key == RETENTION_ROW:
        counts = published.retention[scope][subgroup]
        return [counts.submitted.get(wave.rank) for wave in waves] + [None] * (len(waves) - 1)
    if first is None:  # a défi without a collecte yet
        return []
    by_rank = published.tables[scope][key]
    start = by_rank[first.rank][subgroup]
    values = [synthesis_value(by_rank[wave.rank][subgroup]) for wave in waves]
    changes = [synthesis_change(key, start, by_rank[wave.rank][subgroup]) for wave in waves[1:]]
    return values + changes


def microdata_table(challenge) -> Table:
    """The pseudonymised raw rows, one per foyer and wave: the pilot's own, never a partner's."""
    choices = question_choices(challenge.id)
    questions = choice_columns(choices)
    return Table(
        "donnees",
        RAW_HEADER + questions + (STATUS_COLUMN,),
        raw_rows(challenge, choices),
        preamble=(MICRODATA_WARNING,),
        layout=Layout(RAW_FORMATS, frozen_columns=1),
    )


def choice_columns(choices):
    """One column per question of the défi, listing the ticked choices with `|`."""
    seen = []
    for question, *_rest in choices:
        if question not in seen:
            seen.append(question)
    return tuple(seen)


def raw_rows(challenge, choices):
    """One row per foyer and wave with a relevé, sent or draft: the pseudonymous raw data
    (codes only), its status last.

    Its own two queries, not `sums_for`: the microdata needs no share by place or category,
    and a défi of 10,000 foyers has some 17,000 relevés and 85,000 ticked choices, read here
    as plain rows with each sum already made by the database.
    """
    connection = db.session.connection()
    ticked = {
        (entry_id, question): "|".join(sorted(keys.split("|"))) if "|" in keys else keys
        for entry_id, question, keys in connection.execute(answers_statement(challenge.id))
    }
    questions = choice_columns(choices)
    result = []
    for (
        entry_id, status, cost_mode, persons, days, covers, direct_cents,
        declared_total, declared_organic, declared_local, declared_waste, declared_recipes,
        declared_producers, total, organic, local, waste, recipes, producers,
        code, group_name, rank, accompanied,
    ) in connection.execute(raw_statement(challenge.id)):  # fmt: skip
        if cost_mode == "totals":
            total, organic, local = declared_total or 0, declared_organic or 0, declared_local or 0
        elif cost_mode == "direct":
            total = organic = local = None
        else:
            total, organic, local = int(total or 0), int(organic or 0), int(local or 0)
        if declared_waste is not None:
            waste = declared_waste
        result.append(
            (
                code,
                group_name,
                "oui" if accompanied else "non",
                rank,
                persons,
                days,
                None if total is None else total / 100,
                None if organic is None else organic / 100,
                None if local is None else local / 100,
                covers,
                meal_cost(cost_mode, direct_cents, total or 0, covers),
                None if waste is None else int(waste) / 1000,
                declared_recipes if declared_recipes is not None else recipes or 0,
                declared_producers if declared_producers is not None else producers or 0,
            )
            + tuple(ticked.get((entry_id, question), "") for question in questions)
            + (STATUS_VALUES[status],)
        )
    return result


def answers_statement(challenge_id):
    """(relevé, question, its ticked choices joined by the database with the column's own
    `|`, in the database's order: `raw_rows` sorts them, as the file lists them)."""
    return (
        sa.select(Answer.entry_id, Question.key, sa.func.aggregate_strings(Choice.key, "|"))
        .join(Question, Question.id == Answer.question_id)
        .join(Choice, Choice.id == Answer.choice_id)
        .where(Question.challenge_id == challenge_id)
        .group_by(Answer.entry_id, Question.key)
    )


def raw_statement(challenge_id):
    """The défi's relevés with their sums, in the microdata's order."""

    def per_entry(model, *aggregates, where=()):
        return (
            sa.select(model.entry_id, *aggregates)
            .join(Entry, Entry.id == model.entry_id)
            .join(Wave, Wave.id == Entry.wave_id)
            .where(Wave.challenge_id == challenge_id, *where)
            .group_by(model.entry_id)
            .subquery()
        )

    spend = per_entry(
        Purchase,
        sa.func.sum(Purchase.total_cents).label("total"),
        sa.func.sum(Purchase.organic_cents).label("organic"),
        sa.func.sum(Purchase.local_cents).label("local"),
    )
    waste = per_entry(Weighing, sa.func.sum(Weighing.grams).label("grams"))
    recipes = per_entry(Recipe, sa.func.count().label("n"), where=(Recipe.title != "",))
    producers = per_entry(Producer, sa.func.count().label("n"), where=(Producer.name != "",))
    return (
        sa.select(
            Entry.id,
            Entry.status,
            Entry.cost_mode,
            Entry.persons,
            Entry.period_days,
            Entry.meal_covers,
            Entry.direct_cost_cents,
            Entry.spend_total_cents,
            Entry.spend_organic_cents,
            Entry.spend_local_cents,
            Entry.declared_waste_grams,
            Entry.declared_recipes,
            Entry.declared_producers,
            spend.c.total,
            spend.c.organic,
            spend.c.local,
            waste.c.grams,
            recipes.c.n,
            producers.c.n,
            Household.code,
            Group.name,
            Wave.rank,
            Accompaniment.id.is_not(None),
        )
        .join(Household, Household.id == Entry.household_id)
        .join(Group, Group.id == Household.group_id)
        .join(Wave, Wave.id == Entry.wave_id)
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .outerjoin(spend, spend.c.entry_id == Entry.id)
        .outerjoin(waste, waste.c.entry_id == Entry.id)
        .outerjoin(recipes, recipes.c.entry_id == Entry.id)
        .outerjoin(producers, producers.c.entry_id == Entry.id)
        .where(Wave.challenge_id == challenge_id)
        .order_by(Group.name, Household.code, Wave.rank)
    )


# The network's files: every territory's défis side by side, for its coordinator.

NETWORK_ALL = "Tous les territoires"
NETWORK_COMPARISON_HEADER = ("territoire", "defi", *COMPARISON_HEADER)
NETWORK_RETENTION_HEADER = ("territoire", "defi", *RETENTION_HEADER)


def network_tables(net) -> list[Table]:
    """The comparison and retention of every territory's défis, each group and all groups,
    then every territory's current défi together: DESIGN.md's tables with the territory and
    the défi first. Each défi's cells are its own publication's, as its pilot's files hold
    them (indicators only); the total's are shown where every défi it adds up shows its own
    (`figures.network`)."""
    from defi.figures.network import NETWORK
    from defi.figures.network import RANKS

    parts = []  # (territory, défi, tables by scope, retention by scope, [(scope, name)])
    for territory, challenges in net.territories:
        for challenge in challenges:
            published = net.publications[challenge.id]
            names = [(group.id, group.name) for group in challenge.groups] + [(ALL, ALL_GROUPS)]
            parts.append(
                (territory.name, challenge.name, published.tables, published.retention, names)
            )
    side = net.side_by_side
    if NETWORK in side.tables:
        parts.append((NETWORK_ALL, "", side.tables, side.retention, [(NETWORK, ALL_GROUPS)]))
    comparison, retained = [], []
    for territory, defi, tables, retention, names in parts:
        for scope, name in names:
            for key, by_rank in tables[scope].items():
                if key.startswith("q_"):
                    continue  # each territory's questionnaire is its own
                for rank, cells in by_rank.items():
                    for subgroup in SUBGROUPS:
                        figures = _figures(key, cells[subgroup])
                        comparison.append((territory, defi, key, name, subgroup, rank, *figures))
            for subgroup in SUBGROUPS:
                counts = retention[scope][subgroup]
                sent = tuple(counts.submitted.get(rank) for rank in RANKS)
                retained.append((territory, defi, name, subgroup, counts.enrolled, *sent))
    return [
        Table(
            "comparaison",
            NETWORK_COMPARISON_HEADER,
            comparison,
            layout=Layout((None, None, *COMPARISON_FORMATS), frozen_columns=2),
        ),
        Table(
            "retention",
            NETWORK_RETENTION_HEADER,
            retained,
            layout=Layout((None, None, *RETENTION_FORMATS), frozen_columns=2),
        ),
    ]
