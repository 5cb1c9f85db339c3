"""The one disclosure step: which published figures hide, so that none tells about a few foyers.

A published figure rests on a set of foyers: a mean over a subgroup's relevés is their sum
divided by their count, a retention count is the size of a set. Whoever reads several figures
can add and subtract them: "Tous" minus group A gives group B, a group minus its non-accompanied
foyers gives its accompanied ones. The rule (QUALITY.md, small counts) is that no sum and
difference of shown figures may rest on 1 to K-1 foyers.

`decide` takes every figure published together, as `Item`s grouped by *variable* (an indicator
at one wave, a questionnaire choice, a retention count): figures of one variable add up; figures
of different variables (a cost and a share of organic food) do not. For each variable:

1. **Primary suppression**: a figure over 1 to K-1 foyers is hidden ("pas assez de relevés").
2. **Secondary suppression**: the foyers are cut into *atoms*, the classes of foyers that belong
   to exactly the same shown sets. Any sum and difference of shown figures is a vector over the
   atoms in the span of the shown sets' rows. It tells something about a few foyers when it is
   non-zero on atoms holding 1 to K-1 foyers between them and zero elsewhere. Such a vector
   exists for a set W of atoms exactly when the rows of the null space of the shown rows, taken
   at W, are linearly dependent (rank test): one elimination finds every W at once. While one is
   found, the figures that combine into it are found too (the elimination keeps each row's
   combination of shown figures), and the least useful of them is hidden ("masqué pour protéger
   d'autres chiffres"); the test runs again until nothing is found.

**Insiders.** Some readers know more than the published figures: a facilitator reads every
relevé of its group (accompanied foyers under a label), a referent every relevé of the foyers
its structure accompanies. An insider who knows the values of a set S of foyers can compute
span(shown rows) + span(unit vectors of S); what that tells about the foyers outside S is its
projection there, which is the span of the shown rows *cut to the foyers outside S*. So for each
insider's S the same test runs on the cut rows (a *context*): a row inside S drops out, a row
left with 1 to K-1 foyers outside S is itself found (the rank test finds any row or
combination), and the rest is as above. Demo, wave 2: "Tous / accompagnés" rests on 3 foyers,
2 of them in Les LokoMotiv'; cut outside that group it rests on 1, and is hidden (`protect`).

Only a context where some shown row *crosses* S (holds foyers both inside and outside it) can
find anything: otherwise every row is inside S (it drops out) or outside it (unchanged), the
cut rows are some of the shown rows, and their span lies in the span the context without
insiders has already cleared. Those contexts are skipped, as are the sets holding none or all
of a variable's foyers. Insiders' sets must be unions of the items' classes (tables.py classes
foyers by structure as well as group for that). A figure hidden in one context is hidden in
all; the loop over variables and contexts runs until nothing changes. Cut rows go through the
same memo by shape as uncut ones: a context whose cut has a shape seen before costs nothing.
A single foyer is no insider: K >= 3 already leaves it at least 2 others in any set it could
take itself out of. Readers are not assumed to pool what they know (two facilitators
together), only each group's and each structure's staff alone.

The arithmetic is exact, modulo the prime 2**61 - 1: the sets come from a hierarchy (all groups,
each group, its subgroups, and the foyers paired with the first wave), whose 0/1 matrices have
tiny minors, so a rank modulo that prime is the rank over the rationals. Cutting rows to the
foyers outside a set keeps that structure (nested or disjoint sets stay nested or disjoint).

Variables whose items have the same shape (the same sets in the same order) are decided once:
most indicators of a wave rest on the same relevés.
"""

from collections import defaultdict
from collections.abc import Hashable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from itertools import combinations

PRIME = 2**61 - 1

# Why a figure is hidden; the French words are in `figures.REASONS`.
FEW = "few"
PROTECT = "protect"


@dataclass(eq=False)
class Item:
    """A figure to publish: the foyers it rests on, the variable it sums, how useful it is.

    `usefulness` orders the figures that secondary suppression may hide: the lowest goes first
    (a subgroup of one group before the same for all groups, a change before a mean). Items of
    a figure that must show or hide together (a change publishes both of its waves) share one
    figure key; an item may publish several figures (the count of a set is the n of every
    figure over it): it shows while one of them shows, and hiding it hides them all.
    `foyers` may hold classes of foyers rather than foyers: `decide`'s `weights` gives each
    class's size.
    """

    figures: tuple
    variable: Hashable
    foyers: frozenset
    usefulness: tuple = ()


@dataclass
class Decision:
    """{figure key: reason} for every hidden figure, and what the search went through."""

    hidden: dict = field(default_factory=dict)
    variables: int = 0
    shapes: int = 0
    contexts: int = 0
    eliminations: int = 0


def decide(
    items: Iterable[Item],
    k: int,
    weights: Mapping | None = None,
    withheld: Mapping | None = None,
    insiders: Iterable[frozenset] = (),
) -> Decision:
    """Hide the figures resting on 1 to K-1 foyers, then enough others that no sum or
    difference of the shown ones rests on 1 to K-1 foyers, for a reader who knows nothing
    else nor for one who knows every foyer of one of the `insiders` sets.

    `weights` gives the number of foyers of each class named in the items (1 when absent);
    `withheld` the figures not published for another reason ({figure: reason}); `insiders`
    the sets of foyers (or of classes, in the items' units: an insider's set must be a union
    of classes) whose values some reader knows one by one.
    """
    weights = weights or {}
    by_variable = defaultdict(list)
    for item in items:
        by_variable[item.variable].append(item)
    decision = Decision(hidden=dict(withheld or {}), variables=len(by_variable))
    contexts = _contexts(by_variable, insiders)
    for item_list in by_variable.values():
        for item in item_list:
            if 0 < sum(weights.get(unit, 1) for unit in item.foyers) < k:
                for figure in item.figures:
                    decision.hidden.setdefault(figure, FEW)
    # A figure hidden in one variable hides in all: repeat until the variables agree.
    memo = {}
    # {variable: its shown items when every context last found nothing}: unchanged, they
    # would find nothing again.
    cleared = {}
    changed = True
    while changed:
        changed = False
        for variable, item_list in by_variable.items():
            shown = _shown(item_list, decision.hidden)
            if cleared.get(variable) == shown:
                continue
            hid = False
            # Nobody's knowledge first, then each insider's whose set some shown row crosses.
            for known in (frozenset(), *contexts[variable]):
                if hid:
                    shown = _shown(item_list, decision.hidden)
                if known and not any(_crosses(item_list[i].foyers, known) for i in shown):
                    continue  # nothing this insider reads adds to what everybody reads
                decision.contexts += 1
                kept = [item_list[i] for i in shown]
                if known:
                    kept = [item for item in kept if not item.foyers <= known]
                sets = [item.foyers - known for item in kept]
                for figures in _secondary(kept, sets, k, weights, memo, decision):
                    for figure in figures:
                        if figure not in decision.hidden:
                            decision.hidden[figure] = PROTECT
                            hid = changed = True
            if not hid:
                cleared[variable] = shown
    decision.shapes = len(memo)
    return decision


def _shown(item_list: list[Item], hidden: Mapping) -> tuple[int, ...]:
    """Positions of the items still shown: those with a figure not hidden."""
    return tuple(
        position
        for position, item in enumerate(item_list)
        if any(figure not in hidden for figure in item.figures)
    )


def _contexts(by_variable: Mapping, insiders: Iterable[frozenset]) -> dict:
    """{variable: the insiders' sets cut to its units}, leaving out the sets that hold none or
    all of its foyers (nothing to learn beyond the set), once each."""
    insiders = [frozenset(known) for known in insiders if known]
    contexts = {}
    for variable, item_list in by_variable.items():
        units = frozenset().union(*(item.foyers for item in item_list))
        cut = dict.fromkeys(known & units for known in insiders)  # in the order given
        contexts[variable] = [known for known in cut if known and known != units]
    return contexts


def _crosses(foyers: frozenset, known: frozenset) -> bool:
    """Whether a set holds foyers both inside and outside the insider's `known` set."""
    return not foyers.isdisjoint(known) and not foyers <= known


def _secondary(
    shown: list[Item], sets: list[frozenset], k: int, weights, memo: dict, decision: Decision
) -> list:
    """The figures to hide among `shown` (one variable's, each resting on `sets`, which are
    its foyers or those outside an insider's set) so that no small set is recoverable."""
    atoms, rows = atoms_of(sets)
    sizes = tuple(sum(weights.get(unit, 1) for unit in atom) for atom in atoms)
    shape = (tuple(rows), sizes, tuple(item.usefulness for item in shown))
    if shape not in memo:
        memo[shape] = _protect(rows, sizes, shown, k, decision)
    return [shown[index].figures for index in memo[shape]]


def _protect(rows, sizes, shown, k, decision) -> list[int]:
    """Indexes of `rows` to hide, most useless first, until `recoverable` finds nothing.

    Every set found in a round gets one of the rows combining into it hidden, then the test
    runs again over what is left.
    """
    hidden: set[int] = set()
    while True:
        live = [index for index in range(len(rows)) if index not in hidden]
        decision.eliminations += 1
        found = recoverable([rows[index] for index in live], sizes, k)
        if not found:
            return sorted(hidden)
        for _atoms, combination in found:
            participants = [live[position] for position in combination]
            if hidden.intersection(participants):
                continue  # this round already broke that combination
            hidden.add(
                min(
                    participants,
                    key=lambda index: (
                        shown[index].usefulness,
                        sum(sizes[a] for a in rows[index]),
                        index,
                    ),
                )  # fmt: skip
            )


def atoms_of(sets: list[frozenset]) -> tuple[list[list], list[frozenset]]:
    """The classes of foyers that belong to exactly the same sets, and each set as atom numbers.

    Foyers in none of the sets make no atom: nothing published says anything of them.
    """
    signature = defaultdict(list)
    for index, foyers in enumerate(sets):
        for foyer in foyers:
            signature[foyer].append(index)
    classes = defaultdict(list)
    for foyer, member_of in signature.items():
        classes[tuple(member_of)].append(foyer)
    # A stable order: by the sets holding the atom.
    ordered = sorted(classes.items(), key=lambda pair: pair[0])
    atoms = [foyers for _signature, foyers in ordered]
    rows = [set() for _ in sets]
    for number, (member_of, _foyers) in enumerate(ordered):
        for index in member_of:
            rows[index].add(number)
    return atoms, [frozenset(row) for row in rows]


def recoverable(rows: list[frozenset], sizes, k: int) -> list:
    """The sets of atoms holding 1 to K-1 foyers that some sum and difference of `rows` isolates.

    Returns [(the atoms, the positions of the rows combined to isolate them)], one per set
    found (a set is left out when it holds one already found). Only atoms of fewer than K
    foyers can be part of such a set, at most K-1 of them.
    """
    small = [atom for atom, size in enumerate(sizes) if size < k]
    if not small or not rows:
        return []
    # Large atoms first: the rows left with a pivot among the small atoms are a basis of the
    # shown combinations that are zero on every large atom, each with its record.
    is_small = set(small)
    full = _Echelon(key=lambda atom: (atom in is_small, atom))
    for position, row in enumerate(rows):
        full.add(dict.fromkeys(row, 1), {position: 1})
    basis = [(row, record) for pivot, (row, record) in full.rows.items() if pivot in is_small]
    if not basis:
        return []
    reduced = _Echelon()
    for number, (row, _record) in enumerate(basis):
        reduced.add(dict(row), {number: 1})
    null = reduced.null_rows(small)
    found = []
    taken: set[int] = set()
    for count in range(1, k):
        for atoms in combinations(small, count):
            if taken.intersection(atoms) or sum(sizes[atom] for atom in atoms) >= k:
                continue
            if _dependent([null[atom] for atom in atoms]):
                found.append((atoms, _combination(basis, set(atoms))))
                taken.update(atoms)
    return found


def _combination(basis, atoms) -> list[int]:
    """Positions of the rows whose combination is non-zero on `atoms` only.

    `basis` rows are zero on every large atom; eliminating them with the other small atoms
    first leaves a row with no other atom, whose record says which rows made it.
    """
    echelon = _Echelon(key=lambda atom: (atom in atoms, atom))
    for row, record in basis:
        echelon.add(dict(row), dict(record))
    for pivot, (row, record) in echelon.rows.items():
        if pivot in atoms and atoms.issuperset(row):
            return sorted(record)
    raise AssertionError("the rank test found a set the elimination does not")


class _Echelon:
    """Gaussian elimination of sparse rows modulo PRIME, each row with its record of combination.

    `rows` maps each pivot column to (row, record), a row reduced so that it is 1 at its pivot
    and 0 at every other row's pivot (reduced row echelon form). Columns are taken in the order
    of `key`.
    """

    def __init__(self, key=None):
        self.key = key or (lambda column: column)
        self.rows: dict[int, tuple[dict, dict]] = {}

    def add(self, row: dict, record: dict):
        for pivot in [column for column in row if column in self.rows]:
            _subtract(row, record, *self.rows[pivot], row.get(pivot, 0))
        row = {column: value for column, value in row.items() if value}
        if not row:
            return
        pivot = min(row, key=self.key)
        inverse = pow(row[pivot], PRIME - 2, PRIME)
        row = {column: value * inverse % PRIME for column, value in row.items()}
        record = {position: value * inverse % PRIME for position, value in record.items()}
        for other, other_record in self.rows.values():
            if other.get(pivot):
                _subtract(other, other_record, row, record, other[pivot])
        self.rows[pivot] = (row, record)

    def null_rows(self, columns) -> dict[int, dict]:
        """For each of `columns`, its row in a basis of the null space: {free column: value}.

        The null space has one vector per free column f: 1 at f, minus row[f] at each pivot.
        """
        result = {}
        for column in columns:
            if column in self.rows:
                row, _record = self.rows[column]
                result[column] = {
                    free: (-value) % PRIME for free, value in row.items() if free != column
                }
            else:
                result[column] = {column: 1}
        return result


def _subtract(row, record, pivot_row, pivot_record, factor):
    """row -= factor × pivot_row, and the same for their records."""
    if not factor:
        return
    for column, value in pivot_row.items():
        row[column] = (row.get(column, 0) - factor * value) % PRIME
        if not row[column]:
            del row[column]
    for position, value in pivot_record.items():
        record[position] = (record.get(position, 0) - factor * value) % PRIME
        if not record[position]:
            del record[position]


def _dependent(vectors: list[dict]) -> bool:
    """Whether these sparse vectors are linearly dependent modulo PRIME."""
    echelon = _Echelon()
    for position, vector in enumerate(vectors):
        before = len(echelon.rows)
        echelon.add(dict(vector), {position: 1})
        if len(echelon.rows) == before:
            return True
    return False
