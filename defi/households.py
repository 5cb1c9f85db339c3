"""Foyers: creation with their pseudonymous code, and the random labels of accompanied ones.

Shared by the facilitator's group, the referent's pages and the import.
"""

import secrets

import sqlalchemy as sa

from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Household

# Labels that say nothing about a foyer; drawn at random, never derived from its id or code.
ANONYMOUS_LABELS = (
    "Foyer Artichaut", "Foyer Betterave", "Foyer Blette", "Foyer Brocoli", "Foyer Carotte",
    "Foyer Céleri", "Foyer Cerise", "Foyer Chicon", "Foyer Chou", "Foyer Ciboulette",
    "Foyer Citrouille", "Foyer Coing", "Foyer Courge", "Foyer Cresson", "Foyer Échalote",
    "Foyer Endive", "Foyer Épinard", "Foyer Fenouil", "Foyer Fève", "Foyer Framboise",
    "Foyer Groseille", "Foyer Haricot", "Foyer Lentille", "Foyer Mâche", "Foyer Mirabelle",
    "Foyer Myrtille", "Foyer Navet", "Foyer Noisette", "Foyer Oignon", "Foyer Oseille",
    "Foyer Panais", "Foyer Persil", "Foyer Poireau", "Foyer Poire", "Foyer Pois",
    "Foyer Pomme", "Foyer Potiron", "Foyer Prune", "Foyer Radis", "Foyer Rhubarbe",
    "Foyer Rutabaga", "Foyer Salsifis", "Foyer Topinambour",
)  # fmt: skip


def next_household_code(group) -> str:
    """The next free code of the group: EST-01, EST-02, ... (never reused within the défi)."""
    codes = db.session.scalars(
        sa.select(Household.code).where(
            Household.challenge_id == group.challenge_id,
            Household.code.like(group.code_prefix + "-%"),
        )
    ).all()
    numbers = [int(code.rsplit("-", 1)[1]) for code in codes if code.rsplit("-", 1)[1].isdigit()]
    return f"{group.code_prefix}-{max(numbers, default=0) + 1:02d}"


def create_household(group, *, code=None, **fields) -> Household:
    """Enrol a new foyer in the group."""
    household = Household(
        challenge_id=group.challenge_id,
        group=group,
        code=code or next_household_code(group),
        **fields,
    )
    db.session.add(household)
    db.session.flush()
    return household


def draw_label(group_id: int) -> str:
    """A label not yet used in the group, drawn at random."""
    used = set(
        db.session.scalars(
            sa.select(Accompaniment.label).where(Accompaniment.group_id == group_id)
        ).all()
    )
    free = [label for label in ANONYMOUS_LABELS if label not in used]
    if free:
        return secrets.choice(free)
    while True:
        label = f"{secrets.choice(ANONYMOUS_LABELS)} {secrets.randbelow(900) + 100}"
        if label not in used:
            return label


def accompany(household, structure) -> Accompaniment:
    """Record that a referent structure accompanies this foyer (yes/no and who, nothing more)."""
    accompaniment = Accompaniment(
        household=household,
        structure=structure,
        group_id=household.group_id,
        label=draw_label(household.group_id),
    )
    db.session.add(accompaniment)
    db.session.flush()
    return accompaniment
