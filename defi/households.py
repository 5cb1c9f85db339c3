"""Foyers: creation with their pseudonymous code, the random labels of accompanied ones, the
referent structures, and the one way to reach an accompanied foyer.

Shared by the facilitator's group, the referent's pages and the import.
"""

import secrets

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort
from flask_login import current_user

from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Household
from defi.models import RetiredCode
from defi.models import Structure

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


# The letters of a code: no 0/O, 1/I/L, U, nothing read two ways on paper or over the phone.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 4


def draw_code(prefix: str, taken, choice=secrets.choice) -> str:
    """A code such as EST-7KQ2, drawn at random and not in `taken`.

    Random, not the next number: a facilitator sees the named foyers' codes, and gaps or an
    order in a sequence would tell where a referent enrolled an accompanied foyer.
    """
    while True:
        code = f"{prefix}-" + "".join(choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken:
            return code


def new_household_code(group) -> str:
    """A code never given before, in any défi, nor to an erased foyer (never reused)."""
    while True:
        code = draw_code(group.code_prefix, ())
        used = db.session.scalar(
            sa.select(sa.literal(1)).where(
                sa.or_(
                    sa.exists().where(Household.code == code),
                    sa.exists().where(RetiredCode.code == code),
                )
            )  # fmt: skip
        )
        if used is None:
            return code


def create_household(group, *, code=None, **fields) -> Household:
    """Enrol a new foyer in the group."""
    household = Household(
        challenge_id=group.challenge_id,
        group=group,
        code=code or new_household_code(group),
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


def get_accompanied_household_or_404(household_id: int) -> Household:
    """A foyer accompanied by one of the current user's structures; no other exists for it."""
    # The foyer's home names its group: read it with the foyer.
    household = db.session.scalar(
        sa.select(Household)
        .options(so.joinedload(Household.group))
        .join(Accompaniment, Accompaniment.household_id == Household.id)
        .where(
            Household.id == household_id,
            Accompaniment.structure_id.in_(current_user.structure_ids()),
        )
    )
    if household is None:
        abort(404)
    return household


def get_or_create_structure(name: str, territory_id: int) -> Structure:
    """The territory's referent structure of that exact name, made if there is none."""
    structure = db.session.scalar(
        sa.select(Structure).where(Structure.territory_id == territory_id, Structure.name == name)
    )
    if structure is None:
        structure = Structure(territory_id=territory_id, name=name)
        db.session.add(structure)
        db.session.flush()
    return structure
