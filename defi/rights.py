"""Data rights and care: a foyer's copy of its data, its erasure, the purge of identities,
and consistent backups of the SQLite database (QUALITY.md, privacy and reliability)."""

import sqlite3
from datetime import date
from pathlib import Path

import sqlalchemy as sa
import sqlalchemy.orm as so

from defi.extensions import db
from defi.figures import cache as figures_cache
from defi.models import Challenge
from defi.models import Entry
from defi.models import Household
from defi.models import Invitation
from defi.models import Reminder
from defi.models import RetiredCode
from defi.models import User
from defi.models import Wave
from defi.models.base import utcnow


def household_data(household: Household) -> dict:
    """Everything the app holds about a foyer, for its own download."""
    from defi.figures.indicators import foyer_values
    from defi.figures.sums import sums_of_household

    # Each relevé's rows in one query per kind, whatever the number of relevés.
    entries = db.session.scalars(
        sa.select(Entry)
        .options(
            so.joinedload(Entry.wave),
            so.selectinload(Entry.purchases),
            so.selectinload(Entry.weighings),
            so.selectinload(Entry.recipes),
            so.selectinload(Entry.producers),
            so.selectinload(Entry.changes),
        )
        .where(Entry.household_id == household.id)
        .order_by(Entry.wave_id)
    ).all()
    sums = sums_of_household(household.id)
    users = db.session.scalars(sa.select(User).where(User.household_id == household.id)).all()
    reminders = db.session.execute(
        sa.select(Wave.rank, Reminder.kind, Reminder.sent_at)
        .join(Wave, Wave.id == Reminder.wave_id)
        .where(Reminder.household_id == household.id)
        .order_by(Reminder.sent_at)
    ).all()
    return {
        "foyer": {
            "code": household.code,
            "nom": household.display_name,
            "groupe": household.group.name,
            "adultes": household.adults,
            "enfants": household.children,
            "commune": household.commune,
            "telephone": household.phone,
            "courriel": household.email,
            "statut": household.status,
            "retire_le": household.withdrawn_on,
            "inscrit_le": household.created_at,
            # Accompanied: by which structure, and the label its facilitator sees instead of
            # its name.
            "accompagne_par": household.accompaniment.structure.name
            if household.accompaniment
            else None,
            "libelle_pour_l_animateur": household.accompaniment.label
            if household.accompaniment
            else None,
        },
        "comptes": [
            {
                "identifiant": user.username,
                "cree_le": user.created_at,
                "derniere_connexion": user.last_login_at,
            }
            for user in users
        ],
        # The e-mails `defi remind` sent it (its address is in "foyer").
        "rappels": [
            {"collecte": rank, "jours_avant_cloture": kind, "envoye_le": sent_at}
            for rank, kind, sent_at in reminders
        ],
        "releves": [
            {
                "collecte": entry.wave.rank,
                "statut": entry.status,
                "envoye_le": entry.submitted_at,
                "personnes": entry.persons,
                "jours": entry.period_days,
                "repas_par_jour": entry.meals_per_day,
                "repas_convives": entry.meal_covers,
                "mode_depenses": entry.cost_mode,
                "cout_repas_direct_eur": None
                if entry.direct_cost_cents is None
                else entry.direct_cost_cents / 100,
                "achats": [
                    {
                        "date": p.bought_on,
                        "lieu": p.place_type,
                        "total_eur": p.total_cents / 100,
                        "bio_eur": p.organic_cents / 100,
                        "local_eur": p.local_cents / 100,
                    }
                    for p in entry.purchases
                ],
                "pesees": [
                    {"date": w.weighed_on, "kg": w.grams / 1000, "categorie": w.category}
                    for w in entry.weighings
                ],
                "recettes": [
                    {
                        "titre": r.title,
                        "but": r.purpose,
                        "ingredients": r.ingredients,
                        "etapes": r.steps,
                    }
                    for r in entry.recipes
                ],
                "producteurs": [
                    {
                        "nom": p.name,
                        "produits": p.products,
                        "type": p.kind,
                        "commune": p.commune,
                        "adresse": p.address,
                        "contact": p.contact,
                    }
                    for p in entry.producers
                ],
                "reponses": sorted(sums[entry.id].choices) if entry.id in sums else [],
                "indicateurs": foyer_values(sums[entry.id]) if entry.id in sums else {},
                "historique": [
                    {
                        "quand": c.at,
                        "champ": c.field,
                        "avant": c.old_value,
                        "apres": c.new_value,
                        "saisie_accompagnee": c.assisted,
                    }
                    for c in entry.changes
                ],
            }
            for entry in entries
        ],
    }


def erase_household(household: Household):
    """Delete the foyer and everything of it: accounts, relevés and their rows, attendance,
    invitations, accompaniment (the database cascades from the foyer's row). Its code is
    kept apart, alone, so that it is never given to another foyer."""
    household_id, code, challenge_id = household.id, household.code, household.challenge_id
    territory_id = db.session.get(Challenge, challenge_id).territory_id
    db.session.expunge_all()
    retired = sa.select(RetiredCode.id).where(
        RetiredCode.territory_id == territory_id, RetiredCode.code == code
    )
    if db.session.scalar(retired) is None:
        db.session.add(RetiredCode(territory_id=territory_id, code=code))
    with figures_cache.changing(db.session, challenge_id):  # its défi's figures alone
        db.session.execute(sa.delete(User).where(User.household_id == household_id))
        db.session.execute(sa.delete(Household).where(Household.id == household_id))
    db.session.flush()


def purge_identities(today: date, months: int, territory_id: int | None = None) -> int:
    """Remove the identities of the foyers of every défi ended more than `months` ago (of one
    territory's défis only, when `territory_id` is given).

    Names, contacts and communes go, accounts and invitations too; codes and measurements
    stay, so figures and exports still hold. Running it again changes nothing.
    """
    statement = (
        sa.select(Challenge.id, sa.func.max(Wave.closes_on))
        .join(Wave, Wave.challenge_id == Challenge.id)
        .group_by(Challenge.id)
    )
    if territory_id is not None:
        statement = statement.where(Challenge.territory_id == territory_id)
    ended = db.session.execute(statement).all()
    due = [challenge_id for challenge_id, last in ended if _add_months(last, months) < today]
    if not due:
        return 0
    households = db.session.scalars(
        sa.select(Household).where(
            Household.challenge_id.in_(due), Household.anonymised_at.is_(None)
        )
    ).all()
    ids = [household.id for household in households]
    for household in households:
        household.display_name = household.code
        household.commune = ""
        household.phone = ""
        household.email = ""
        household.anonymised_at = utcnow()
    if ids:
        db.session.execute(sa.delete(Invitation).where(Invitation.household_id.in_(ids)))
        db.session.execute(sa.delete(User).where(User.household_id.in_(ids)))
    db.session.flush()
    return len(ids)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    days = [
        31,
        29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ]
    return date(year, month, min(day.day, days[month - 1]))


def backup_sqlite(database: str, target: Path) -> str:
    """Copy a live SQLite database with its online backup API, then check the copy.

    Returns the result of `PRAGMA integrity_check` on the copy ("ok" when sound).
    """
    if target.exists():
        raise FileExistsError(target)
    source = sqlite3.connect(database)
    copy = sqlite3.connect(target)
    try:
        with copy:
            source.backup(copy)
        result = copy.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        copy.close()
        source.close()
    return result
