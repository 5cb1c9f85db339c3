"""The network's figures: every territory's défis, and the current ones added up.

A network's coordinator reads, for every territory, each of its défis (all groups, each group,
accompanied or not) exactly as the défi's pilot reads them: the défi's own publication
(`figures.publication`), through its own disclosure step. It also reads the network's total:
every territory's current défi together.

Défis hold disjoint sets of foyers, so the disclosure step can be taken défi by défi: a sum and
difference of shown figures that rests on 1 to K-1 foyers, cut to the foyers of one défi, is
such a combination of that défi's own figures, which its step has ruled out (and so for an
insider, a group's facilitators or a structure's referents, whose foyers are all of one défi).
The total is then shown only where every défi it adds up shows the same figure, for all its
groups or for each of them (`hide_total`): as a sum over foyers (a count, a mean's numerator),
the total is then in the span of what is shown. Its median and pooled ratio are not sums, but
they rest on every foyer of every défi, never on fewer than K. Otherwise it is hidden, and a wave
still open in one of them withholds the total at that wave ("publié à la clôture").
Only indicators are compared, not the questionnaires, which each territory writes its own way.
"""

from dataclasses import dataclass

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app

from defi.extensions import db
from defi.figures import cache
from defi.figures import derived
from defi.figures import kept_per_version
from defi.figures import publication
from defi.figures.disclosure import PROTECT
from defi.figures.tables import ALL
from defi.figures.tables import OPEN
from defi.figures.tables import SUBGROUPS
from defi.figures.tables import Cell
from defi.figures.tables import Publication
from defi.figures.tables import Retention
from defi.figures.tables import build
from defi.figures.tables import open_ranks
from defi.figures.tables import read_releves
from defi.formatting import today
from defi.models import Challenge
from defi.models import Territory

NETWORK = ALL  # the scope of every territory's current défi together, in `Network.side_by_side`
RANKS = (1, 2, 3)


def defi_scope(challenge_id: int):
    """A défi's scope in `Network.side_by_side`, beside the network's total."""
    return ("defi", challenge_id)


@dataclass
class Network:
    """What the coordinator reads: each défi's publication, and the total of the current ones.

    `territories` are (territory, its défis, the latest first); `current` the ids of the défis
    the territories run now; `publications` each défi's own, by id; `side_by_side` the current
    défis' figures for all groups (`defi_scope`) beside their total (NETWORK).
    """

    territories: list
    current: frozenset
    publications: dict
    side_by_side: Publication | None  # None: asked without the current défis together
    # The total's publication, kept per version of the figures (None without a current défi):
    # what is made from every défi's figures is kept with it (`figures.derived`).
    total: Publication | None = None

    def challenge(self, challenge_id):
        for _territory, challenges in self.territories:
            for challenge in challenges:
                if challenge.id == challenge_id:
                    return challenge
        return None


def network(k: int | None = None, *, together: bool = True) -> Network:
    """The network's figures (K: DEFI_MIN_COUNT unless given). Each défi's publication is the
    one its pilot's pages read, computed once per version of what is published. `together`
    False: without the current défis side by side and their total (pages that show défis one
    by one need not compute the total again after a change)."""
    k = current_app.config["DEFI_MIN_COUNT"] if k is None else k
    territories = _territories()
    challenges = [challenge for _territory, cs in territories for challenge in cs]
    cache.read_versions(db.session, [challenge.id for challenge in challenges])  # at once
    publications = {challenge.id: publication(challenge, k) for challenge in challenges}
    current = [challenge for challenge in challenges if challenge.is_current]
    current_ids = frozenset(c.id for c in current)
    if not together:
        return Network(territories, current_ids, publications, side_by_side=None)
    parts = {defi_scope(c.id): publications[c.id] for c in current}
    total = _kept_total(current, k, parts) if current else None
    tables = {scope: _padded_table(part.tables[ALL]) for scope, part in parts.items()}
    retention = {scope: _padded_retention(part.retention[ALL]) for scope, part in parts.items()}
    if total is not None:
        tables[NETWORK], retention[NETWORK] = total.tables[ALL], total.retention[ALL]
    side_by_side = Publication(tables=tables, retention=retention, choices=[], decision=None)
    return Network(territories, current_ids, publications, side_by_side, total)


def _padded_table(table):
    """A défi's table with every rank of RANKS: a wave it does not have shows "—"."""
    empty = {subgroup: Cell(None, None, None, None) for subgroup in SUBGROUPS}
    return {
        key: {rank: by_rank.get(rank, empty) for rank in RANKS} for key, by_rank in table.items()
    }


def _padded_retention(retention):
    """A défi's counts with every rank of RANKS (None where it has no such wave), copied: the
    défi's own publication is its pilot's, kept as it is."""
    return {
        subgroup: Retention(
            counts.enrolled,
            {rank: counts.submitted.get(rank) for rank in RANKS},
            dict(counts.hidden),
        )
        for subgroup, counts in retention.items()
    }


def _territories():
    """Every territory, by name, with its défis (groups and waves loaded), the latest first."""
    challenges = db.session.scalars(
        sa.select(Challenge)
        .options(so.selectinload(Challenge.groups), so.selectinload(Challenge.waves))
        .order_by(Challenge.id.desc())
    ).all()
    by_territory = {}
    for challenge in challenges:
        by_territory.setdefault(challenge.territory_id, []).append(challenge)
    territories = db.session.scalars(sa.select(Territory).order_by(Territory.name)).all()
    return [(territory, by_territory.get(territory.id, [])) for territory in territories]


def _kept_total(current, k, parts) -> Publication:
    """`_total`, made once per version of what is published (as `figures.publication`)."""
    key = ("network", k, tuple((c.id, open_ranks(c, today())) for c in current))
    return kept_per_version(key, [c.id for c in current], lambda: _total(current, k, parts))


def _total(current, k, parts) -> Publication:
    """The current défis' foyers together, every figure hidden unless each part shows it.

    Each défi's relevés are read once per version of its figures, kept with its publication:
    after a relevé sent in one défi, only that défi's are read again.
    """
    rows, sums, enrolled, group_ids = [], {}, [], []
    for challenge in current:
        part = parts[defi_scope(challenge.id)]
        found, its_sums, its_enrolled = derived(
            part, ("network", "read"), lambda c=challenge: read_releves(c)
        )
        rows += found
        sums |= its_sums
        enrolled += its_enrolled
        group_ids += [group.id for group in challenge.groups]
    total = build(
        ranks=list(RANKS),
        group_ids=group_ids,
        choices=[],
        rows=rows,
        sums=sums,
        enrolled=enrolled,
        k=k,
        scopes={ALL: set(group_ids)},
        decided=False,
    )
    return hide_total(total, list(parts.values()))


def hide_total(total: Publication, parts: list) -> Publication:
    """The total's figures (`build(..., decided=False)`, scope ALL) hidden unless every part
    (each défi's own publication) shows the same figure for all its groups: its scope ALL's,
    or each of its groups' (they add up to it)."""
    for key, by_rank in total.tables[ALL].items():
        for rank, cells in by_rank.items():
            for subgroup in SUBGROUPS:
                # A défi without this wave (2 collectes) adds nothing to it.
                found = [
                    _part_reason(part, key, rank, subgroup, "hidden")
                    for part in parts
                    if rank in part.tables[ALL][key]
                ]
                reason = total_hidden(found)
                if reason is not None:
                    cells[subgroup] = Cell(None, None, None, None, hidden=reason)
                    continue
                changes = total_hidden(
                    [
                        _part_reason(part, key, rank, subgroup, "change_hidden")
                        for part in parts
                        if rank in part.tables[ALL][key]
                    ]
                )
                if changes is not None and cells[subgroup].change_hidden is None:
                    cell = cells[subgroup]
                    cell.change_hidden = changes
                    cell.change_pct = cell.change_delta = cell.paired_n = None
    for subgroup, counts in total.retention[ALL].items():
        if total_hidden([_count_reason(p, subgroup, "enrolled") for p in parts]) is not None:
            counts.enrolled = None
            counts.hidden["enrolled"] = PROTECT
        for rank in RANKS:
            reason = total_hidden(
                [
                    _count_reason(p, subgroup, rank)
                    for p in parts
                    if rank in p.retention[ALL][subgroup].submitted
                ]
            )
            if reason is not None:
                counts.submitted[rank] = None
                counts.hidden[rank] = reason
    return total


def _groups(part):
    return [scope for scope in part.tables if scope != ALL]


def _part_reason(part, key, rank, subgroup, attribute):
    """Why a défi's figure for all its groups cannot be read (None: it can): shown itself, or
    shown for each of its groups."""
    reason = getattr(part.tables[ALL][key][rank][subgroup], attribute)
    if reason is None:
        return None
    each = [getattr(part.tables[g][key][rank][subgroup], attribute) for g in _groups(part)]
    return None if each and all(found is None for found in each) else reason


def _count_reason(part, subgroup, column):
    reason = part.retention[ALL][subgroup].hidden.get(column)
    if reason is None:
        return None
    each = [part.retention[g][subgroup].hidden.get(column) for g in _groups(part)]
    return None if each and all(found is None for found in each) else reason


def total_hidden(reasons) -> str | None:
    """Why the total of parts is hidden, given why each part is (None: shown): shown only when
    every part is; withheld while a wave is open in all the hidden parts; protected else."""
    hidden = [reason for reason in reasons if reason is not None]
    if not hidden:
        return None
    return OPEN if all(reason == OPEN for reason in hidden) else PROTECT
