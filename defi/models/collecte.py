"""A foyer's relevé for a wave and everything in it, and the défi's questionnaire.

Money is stored in cents and weights in grams, as integers: exact on SQLite and PostgreSQL
alike, and every indicator is recomputed from these raw rows (DESIGN.md).
"""

from datetime import date
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from defi.extensions import db
from defi.formatting import lazy_gettext as _l
from defi.models.base import Versioned
from defi.models.base import euros
from defi.models.base import kilograms
from defi.models.base import utcnow
from defi.models.challenge import Household
from defi.models.challenge import Wave

PLACE_TYPES = (
    "supermarche",
    "hard_discount",
    "marche",
    "vente_directe",
    "amap",
    "magasin_producteurs",
    "magasin_bio",
    "epicerie_solidaire",
    "proximite",
    "autoproduction",
    "don",
)
WEIGHING_CATEGORIES = ("evitable", "epluchures", "non_evitable")
RECIPE_PURPOSES = ("restes", "conserver")

# The words of a relevé's history: what each stored field name and value means.
FIELD_LABELS = {
    "persons": _l("personnes"),
    "period_days": _l("jours de la période"),
    "meals_per_day": _l("repas par jour"),
    "meal_covers": _l("repas-convives"),
    "cost_mode": _l("façon de compter le coût"),
    "direct_cost": _l("coût par repas et par personne (€)"),
    "direct_cost_cents": _l("coût par repas et par personne (centimes)"),
    "spend_total_cents": _l("dépenses (centimes)"),
    "spend_organic_cents": _l("dont bio (centimes)"),
    "spend_local_cents": _l("dont local (centimes)"),
    "declared_waste_grams": _l("gaspillage (grammes)"),
    "declared_recipes": _l("recettes"),
    "declared_producers": _l("producteurs"),
    "title": _l("titre"),
    "purpose": _l("pour quoi faire"),
    "steps": _l("étapes"),
    "ingredients": _l("ingrédients"),
    "name": _l("nom"),
    "kind": _l("type"),
    "commune": _l("commune"),
    "address": _l("adresse"),
    "contact": _l("contact"),
    "products": _l("produits"),
}
VALUE_LABELS = {
    "purchases": _l("avec les tickets"),
    "direct": _l("coût donné directement"),
    "totals": _l("totaux d'une fiche papier"),
    "draft": _l("brouillon"),
    "submitted": _l("envoyé"),
}

# The French names of the places, categories and purposes, wherever they are shown.
PLACE_LABELS = {
    "supermarche": _l("Supermarché"),
    "hard_discount": _l("Hard-discount"),
    "marche": _l("Marché"),
    "vente_directe": _l("Vente directe / ferme"),
    "amap": _l("AMAP / panier"),
    "magasin_producteurs": _l("Magasin de producteurs"),
    "magasin_bio": _l("Magasin bio"),
    "epicerie_solidaire": _l("Épicerie solidaire"),
    "proximite": _l("Commerce de proximité"),
    "autoproduction": _l("Autoproduction / jardin"),
    "don": _l("Don / glanage"),
}
CATEGORY_LABELS = {
    "evitable": _l("Évitable"),
    "epluchures": _l("Épluchures potentiellement évitables"),
    "non_evitable": _l("Non évitable"),
}
PURPOSE_LABELS = {
    "restes": _l("Recycler des restes"),
    "conserver": _l("Conserver"),
}
PRODUCER_KINDS = ("ferme", "marche", "amap", "magasin_producteurs", "autre")
COST_MODES = ("purchases", "totals", "direct")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Entry(Versioned, db.Model):
    """A relevé: one per foyer and wave, draft until the foyer submits it.

    `cost_mode` records how the spending was given: a list of purchases, totals copied from a
    paper sheet (import), or the € per meal per person entered directly.
    """

    __table_args__ = (
        sa.UniqueConstraint("household_id", "wave_id"),
        sa.CheckConstraint("status IN ('draft', 'submitted')", name="entry_status"),
        sa.CheckConstraint(_in("cost_mode", COST_MODES), name="entry_cost_mode"),
        sa.CheckConstraint("persons IS NULL OR persons BETWEEN 1 AND 40", name="entry_persons"),
        sa.CheckConstraint(
            "period_days IS NULL OR period_days BETWEEN 1 AND 366", name="entry_period_days"
        ),
        sa.CheckConstraint(
            "meal_covers IS NULL OR meal_covers BETWEEN 0 AND 100000", name="entry_meal_covers"
        ),
        sa.CheckConstraint(
            "meals_per_day IS NULL OR meals_per_day BETWEEN 1 AND 6", name="entry_meals_per_day"
        ),
        sa.CheckConstraint(
            "spend_organic_cents <= spend_total_cents AND spend_local_cents <= spend_total_cents",
            name="entry_spend_parts",
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    household_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("household.id", ondelete="CASCADE"), index=True
    )
    wave_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("wave.id", ondelete="CASCADE"), index=True
    )
    status: so.Mapped[str] = so.mapped_column(sa.String(10), default="draft")
    # The number of people in the foyer for this wave (it may change over the year).
    persons: so.Mapped[int | None]
    period_days: so.Mapped[int | None]
    # Only the helper's input: meal_covers is proposed as days × meals per day × persons.
    meals_per_day: so.Mapped[int | None]
    # Repas-convives: meals eaten at home × people at table over the period.
    meal_covers: so.Mapped[int | None]
    cost_mode: so.Mapped[str] = so.mapped_column(sa.String(10), default="purchases")
    # cost_mode 'direct': € per meal per person as the foyer gave it.
    direct_cost_cents: so.Mapped[int | None]
    # cost_mode 'totals': the sums of a paper sheet, when there is no list of purchases.
    spend_total_cents: so.Mapped[int | None]
    spend_organic_cents: so.Mapped[int | None]
    spend_local_cents: so.Mapped[int | None]
    # Counts from a paper sheet (import); NULL means "count the rows".
    declared_waste_grams: so.Mapped[int | None]
    declared_recipes: so.Mapped[int | None]
    declared_producers: so.Mapped[int | None]
    # Unique: the same submission sent ten times at once submits once.
    submission_id: so.Mapped[str | None] = so.mapped_column(sa.String(64), unique=True)
    submitted_at: so.Mapped[datetime | None]
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)
    # True once anyone other than the foyer (a referent) entered part of it.
    assisted: so.Mapped[bool] = so.mapped_column(default=False)
    imported: so.Mapped[bool] = so.mapped_column(default=False)

    direct_cost = euros("direct_cost_cents")

    household: so.Mapped[Household] = so.relationship()
    wave: so.Mapped[Wave] = so.relationship()
    purchases: so.Mapped[list["Purchase"]] = so.relationship(
        back_populates="entry",
        cascade="all, delete-orphan",
        # By date, undated ones last (the same on SQLite and PostgreSQL), then as typed.
        order_by=lambda: (Purchase.bought_on.is_(None), Purchase.bought_on, Purchase.id),
    )
    weighings: so.Mapped[list["Weighing"]] = so.relationship(
        back_populates="entry",
        cascade="all, delete-orphan",
        order_by=lambda: (Weighing.weighed_on.is_(None), Weighing.weighed_on, Weighing.id),
    )
    recipes: so.Mapped[list["Recipe"]] = so.relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="Recipe.id"
    )
    producers: so.Mapped[list["Producer"]] = so.relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="Producer.id"
    )
    answers: so.Mapped[list["Answer"]] = so.relationship(
        back_populates="entry", cascade="all, delete-orphan"
    )
    changes: so.Mapped[list["EntryChange"]] = so.relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="EntryChange.id"
    )

    def __repr__(self):
        return f"<Entry of household {self.household_id} wave {self.wave_id} {self.status}>"


class EntryChange(db.Model):
    """The history of a relevé: who changed which field, from what to what, and when."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    entry_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("entry.id", ondelete="CASCADE"), index=True
    )
    # NULL once the author's account is deleted; `assisted` still says who kind of author it was.
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    field: so.Mapped[str] = so.mapped_column(sa.String(60))
    old_value: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    new_value: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    assisted: so.Mapped[bool] = so.mapped_column(default=False)

    entry: so.Mapped[Entry] = so.relationship(back_populates="changes")

    def __repr__(self):
        return f"<EntryChange {self.field} of entry {self.entry_id}>"


class OfflineAdd(db.Model):
    """A row added from the phone's outbox: its key, so that a row sent twice (the answer
    was lost with the network, the phone sent it again) is added once."""

    __table_args__ = (sa.UniqueConstraint("entry_id", "key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    entry_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("entry.id", ondelete="CASCADE"))
    key: so.Mapped[str] = so.mapped_column(sa.String(64))
    at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class Purchase(Versioned, db.Model):
    """A receipt: date, place type, total, of which organic, of which local (cents)."""

    __table_args__ = (
        sa.CheckConstraint(_in("place_type", PLACE_TYPES), name="purchase_place_type"),
        sa.CheckConstraint("total_cents BETWEEN 0 AND 10000000", name="purchase_total_range"),
        sa.CheckConstraint(
            "organic_cents BETWEEN 0 AND total_cents AND local_cents BETWEEN 0 AND total_cents",
            name="purchase_parts",
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    entry_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("entry.id", ondelete="CASCADE"), index=True
    )
    bought_on: so.Mapped[date | None]
    place_type: so.Mapped[str] = so.mapped_column(sa.String(30))
    total_cents: so.Mapped[int]
    organic_cents: so.Mapped[int] = so.mapped_column(default=0)
    local_cents: so.Mapped[int] = so.mapped_column(default=0)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    total = euros("total_cents")
    organic = euros("organic_cents", absent=0)
    local = euros("local_cents", absent=0)

    entry: so.Mapped[Entry] = so.relationship(back_populates="purchases")

    def __repr__(self):
        return f"<Purchase {self.total_cents} c at {self.place_type}>"


class Weighing(Versioned, db.Model):
    """A weighing of food waste: date, grams, category."""

    __table_args__ = (
        sa.CheckConstraint(_in("category", WEIGHING_CATEGORIES), name="weighing_category"),
        # 50 kg in one weighing is already far beyond a foyer's day.
        sa.CheckConstraint("grams BETWEEN 0 AND 50000", name="weighing_grams_range"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    entry_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("entry.id", ondelete="CASCADE"), index=True
    )
    weighed_on: so.Mapped[date | None]
    grams: so.Mapped[int]
    category: so.Mapped[str] = so.mapped_column(sa.String(20))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    kg = kilograms("grams")

    entry: so.Mapped[Entry] = so.relationship(back_populates="weighings")

    def __repr__(self):
        return f"<Weighing {self.grams} g {self.category}>"


class Recipe(Versioned, db.Model):
    """A recipe shared in a wave, to use up leftovers or to preserve food."""

    __table_args__ = (sa.CheckConstraint(_in("purpose", RECIPE_PURPOSES), name="recipe_purpose"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    entry_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("entry.id", ondelete="CASCADE"), index=True
    )
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    purpose: so.Mapped[str] = so.mapped_column(sa.String(20))
    ingredients: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    steps: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    entry: so.Mapped[Entry] = so.relationship(back_populates="recipes")

    def __repr__(self):
        return f"<Recipe {self.title!r}>"


class Producer(Versioned, db.Model):
    """A local producer's address collected by a foyer in a wave."""

    __table_args__ = (sa.CheckConstraint(_in("kind", PRODUCER_KINDS), name="producer_kind"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    entry_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("entry.id", ondelete="CASCADE"), index=True
    )
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    products: so.Mapped[str] = so.mapped_column(sa.String(500), default="")
    kind: so.Mapped[str] = so.mapped_column(sa.String(30))
    commune: so.Mapped[str] = so.mapped_column(sa.String(120), default="")
    address: so.Mapped[str] = so.mapped_column(sa.String(300), default="")
    contact: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    # Lower-cased, accent- and space-folded "name|commune": the directory merges on it.
    dedup_key: so.Mapped[str] = so.mapped_column(sa.String(330), index=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    entry: so.Mapped[Entry] = so.relationship(back_populates="producers")

    def __repr__(self):
        return f"<Producer {self.name!r}>"


class Question(Versioned, db.Model):
    """A question of the défi's questionnaire, asked from wave `from_rank` on."""

    __table_args__ = (
        sa.UniqueConstraint("challenge_id", "key"),
        sa.CheckConstraint("kind IN ('single', 'multiple')", name="question_kind"),
        sa.CheckConstraint("from_rank BETWEEN 1 AND 3", name="question_from_rank"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    challenge_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("challenge.id", ondelete="CASCADE"), index=True
    )
    # Short identifier used in exports, e.g. `manger_mieux` gives `q_manger_mieux_<choice>`.
    key: so.Mapped[str] = so.mapped_column(sa.String(40))
    position: so.Mapped[int] = so.mapped_column(default=0)
    text: so.Mapped[str] = so.mapped_column(sa.String(300))
    kind: so.Mapped[str] = so.mapped_column(sa.String(10), default="multiple")
    from_rank: so.Mapped[int] = so.mapped_column(default=1)

    choices: so.Mapped[list["Choice"]] = so.relationship(
        back_populates="question", order_by="Choice.position", cascade="all, delete-orphan"
    )

    def __repr__(self):
        return f"<Question {self.key}>"


class Choice(db.Model):
    """One of a question's possible answers."""

    __table_args__ = (sa.UniqueConstraint("question_id", "key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    question_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("question.id", ondelete="CASCADE"), index=True
    )
    key: so.Mapped[str] = so.mapped_column(sa.String(40))
    position: so.Mapped[int] = so.mapped_column(default=0)
    label: so.Mapped[str] = so.mapped_column(sa.String(200))

    question: so.Mapped[Question] = so.relationship(back_populates="choices")

    def __repr__(self):
        return f"<Choice {self.key}>"


class Answer(db.Model):
    """A choice ticked by the foyer in a relevé."""

    __table_args__ = (sa.UniqueConstraint("entry_id", "choice_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    entry_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("entry.id", ondelete="CASCADE"), index=True
    )
    question_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("question.id", ondelete="CASCADE"), index=True
    )
    choice_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("choice.id", ondelete="CASCADE"))

    entry: so.Mapped[Entry] = so.relationship(back_populates="answers")
    choice: so.Mapped[Choice] = so.relationship()

    def __repr__(self):
        return f"<Answer {self.choice_id} in entry {self.entry_id}>"


# The reminders `defi remind` sends: so many days before a wave closes.
REMINDER_KINDS = (7, 2)


class Reminder(db.Model):
    """A reminder e-mailed to a foyer that had not sent its relevé: once per wave and kind.

    The row is written before the message leaves and removed if the server refuses it, so that
    two runs at once (the unique key) or one after the other never send it twice.
    """

    __table_args__ = (
        sa.UniqueConstraint("household_id", "wave_id", "kind"),
        sa.CheckConstraint(_in("kind", REMINDER_KINDS), name="reminder_kind"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    household_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("household.id", ondelete="CASCADE")
    )
    wave_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("wave.id", ondelete="CASCADE"), index=True
    )
    # 7 or 2: the days left before the wave closes that the reminder is for.
    kind: so.Mapped[int]
    sent_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    def __repr__(self):
        return f"<Reminder {self.kind} days, household {self.household_id}, wave {self.wave_id}>"
