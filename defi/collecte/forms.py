"""The forms of a relevé. Numbers take `3,50` as well as `3.50`; messages are French."""

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import RadioField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import NumberRange
from wtforms.validators import Optional
from wtforms.validators import ValidationError

from defi.formatting import lazy_gettext as _l
from defi.forms import FrenchDecimalField
from defi.forms import MultiCheckboxField
from defi.forms import decimal_range
from defi.forms import strip
from defi.forms import within_defi_years
from defi.models.collecte import CATEGORY_LABELS
from defi.models.collecte import PLACE_LABELS
from defi.models.collecte import PURPOSE_LABELS

PRODUCER_KIND_LABELS = {
    "ferme": _l("Ferme"),
    "marche": _l("Marché"),
    "amap": _l("AMAP"),
    "magasin_producteurs": _l("Magasin de producteurs"),
    "autre": _l("Autre"),
}
MAX_PURCHASE_EUROS = Decimal("5000")
MAX_WEIGHING_KG = Decimal("50")
MAX_DIRECT_COST = Decimal("50")


def choices(labels):
    return [SelectChoice(key, label) for key, label in labels.items()]


class RowForm(FlaskForm):
    """A form of a row of the relevé: its fields are the row's (the model converts euros and
    kilograms), and `populate_obj` copies them, never the token nor the version."""

    def populate_obj(self, obj):
        for name, field in self._fields.items():
            if name not in ("version", "csrf_token"):
                field.populate_obj(obj, name)


class VersionedForm(RowForm):
    """A form of an editable row: it carries the version it was shown with."""

    version = HiddenField()


class MealsForm(VersionedForm):
    """The period, the people and the repas-convives; or the cost per meal given directly."""

    persons = IntegerField(
        _l("Personnes dans le foyer pendant la période"),
        validators=[Optional(), NumberRange(1, 40, _l("Entre 1 et 40 personnes."))],
        render_kw={"inputmode": "numeric"},
    )
    period_days = IntegerField(
        _l("Nombre de jours de la période"),
        validators=[Optional(), NumberRange(1, 366, _l("Entre 1 et 366 jours."))],
        render_kw={"inputmode": "numeric"},
    )
    meals_per_day = IntegerField(
        _l("Repas pris à la maison par jour"),
        validators=[Optional(), NumberRange(1, 6, _l("Entre 1 et 6 repas par jour."))],
        render_kw={"inputmode": "numeric"},
    )
    meal_covers = IntegerField(
        _l("Repas-convives de la période"),
        validators=[Optional(), NumberRange(1, 20000, _l("Entre 1 et 20 000 repas-convives."))],
        render_kw={"inputmode": "numeric"},
    )
    cost_mode = RadioField(
        _l("Comment indiquez-vous vos dépenses ?"),
        choices=[
            SelectChoice("purchases", _l("J'ai gardé mes tickets : je note mes achats")),
            SelectChoice("direct", _l("Je n'ai pas de tickets : je donne le coût d'un repas")),
        ],
        default="purchases",
        validators=[Optional()],
    )
    direct_cost = FrenchDecimalField(
        _l("Coût d'un repas par personne (€)"),
        validators=[
            decimal_range(
                Decimal("0.01"),
                MAX_DIRECT_COST,
                _l("Entre 0,01 € et 50 € par repas et par personne."),
            )
        ],
    )

    def validate_meal_covers(self, field):
        if field.data and self.period_days.data and field.data > self.period_days.data * 60:
            raise ValidationError(_l("C'est beaucoup pour la période : vérifiez ce nombre."))

    def valid_values(self) -> dict:
        """{field: value} of what was sent and typed right: the rest is kept as it was.

        The cost's mode only when it is one of the modes a foyer chooses ("totals" is a paper
        sheet's, from an import).
        """
        # A field the page did not send keeps its value: the other mode's fields are not on
        # the page, and switching modes must not erase them.
        values = {
            name: getattr(self, name).data
            for name in ("persons", "period_days", "meals_per_day", "meal_covers", "direct_cost")
            if getattr(self, name).raw_data and not getattr(self, name).errors
        }
        if self.cost_mode.data in ("purchases", "direct"):
            values["cost_mode"] = self.cost_mode.data
        return values

    def propose(self, persons: int):
        """Fill what the foyer has not typed yet: its persons from its size, and the
        repas-convives from days × meals a day × persons (it can change both)."""
        if self.persons.data is None:
            self.persons.data = persons
        typed = (self.persons.data, self.period_days.data, self.meals_per_day.data)
        if self.meal_covers.data is None and all(typed):
            self.meal_covers.data = typed[0] * typed[1] * typed[2]

    def show_saved(self, entry):
        """Fill the fields the page did not send with what the relevé holds (a mode's fields
        appear again when the foyer switches back to it)."""
        for name in ("persons", "period_days", "meals_per_day", "meal_covers", "direct_cost"):
            field = getattr(self, name)
            if not field.raw_data:
                field.data = getattr(entry, name)
        self.version.data = str(entry.version)


class PurchaseForm(VersionedForm):
    """A receipt: when, where, how much, of which organic, of which local."""

    bought_on = DateField(_l("Date"), validators=[Optional(), within_defi_years])
    place_type = SelectField(
        _l("Où ?"), choices=choices(PLACE_LABELS), validators=[InputRequired(_l("Choisissez où."))]
    )
    total = FrenchDecimalField(
        _l("Montant total (€)"),
        validators=[
            InputRequired(_l("Indiquez le montant du ticket.")),
            decimal_range(
                Decimal("0.01"), MAX_PURCHASE_EUROS, _l("Entre 0,01 € et 5 000 € par achat.")
            ),
        ],
    )
    organic = FrenchDecimalField(
        _l("Dont bio (€)"),
        validators=[decimal_range(Decimal(0), MAX_PURCHASE_EUROS, _l("Pas de montant négatif."))],
    )
    local = FrenchDecimalField(
        _l("Dont local (€)"),
        validators=[decimal_range(Decimal(0), MAX_PURCHASE_EUROS, _l("Pas de montant négatif."))],
    )

    def validate_organic(self, field):
        if field.data is not None and self.total.data is not None and field.data > self.total.data:
            raise ValidationError(_l("La part bio ne peut pas dépasser le montant total."))

    def validate_local(self, field):
        if field.data is not None and self.total.data is not None and field.data > self.total.data:
            raise ValidationError(_l("La part locale ne peut pas dépasser le montant total."))


class WeighingForm(RowForm):
    """A weighing of food waste."""

    weighed_on = DateField(_l("Date"), validators=[Optional(), within_defi_years])
    kg = FrenchDecimalField(
        _l("Poids (kg)"),
        places=3,
        validators=[
            InputRequired(_l("Indiquez le poids.")),
            decimal_range(Decimal("0.001"), MAX_WEIGHING_KG, _l("Entre 0,001 et 50 kg par pesée.")),
        ],
    )
    category = SelectField(
        _l("Catégorie"),
        choices=choices(CATEGORY_LABELS),
        validators=[InputRequired(_l("Choisissez une catégorie."))],
    )

    def within_day_limit(self, grams_already: int) -> bool:
        """At most 50 kg weighed on one day, with what the relevé already holds for that day."""
        if grams_already + self.kg.data * 1000 > MAX_WEIGHING_KG * 1000:
            self.kg.errors.append(_l("Plus de 50 kg de déchets en un jour ? Vérifiez le poids."))
            return False
        return True


class RecipeForm(VersionedForm):
    title = StringField(
        _l("Titre de la recette"),
        filters=[strip],
        validators=[DataRequired(_l("Donnez un titre.")), Length(max=200)],
    )
    purpose = RadioField(
        _l("Cette recette sert à"),
        choices=choices(PURPOSE_LABELS),
        default="restes",
        validators=[InputRequired(_l("Choisissez à quoi sert la recette."))],
    )
    ingredients = TextAreaField(
        _l("Ingrédients"),
        filters=[strip],
        validators=[Length(max=5000, message=_l("5 000 caractères au plus."))],
    )
    steps = TextAreaField(
        _l("Étapes"),
        filters=[strip],
        validators=[Length(max=10000, message=_l("10 000 caractères au plus."))],
    )


class ProducerForm(VersionedForm):
    name = StringField(
        _l("Nom du producteur"),
        filters=[strip],
        validators=[DataRequired(_l("Donnez le nom du producteur.")), Length(max=200)],
    )
    products = StringField(_l("Ce qu'il vend"), filters=[strip], validators=[Length(max=500)])
    kind = SelectField(
        _l("Type"),
        choices=choices(PRODUCER_KIND_LABELS),
        validators=[InputRequired(_l("Choisissez un type."))],
    )
    commune = StringField(_l("Commune"), filters=[strip], validators=[Length(max=120)])
    address = StringField(_l("Adresse"), filters=[strip], validators=[Length(max=300)])
    contact = StringField(
        _l("Contact (téléphone, site…)"), filters=[strip], validators=[Length(max=200)]
    )


def questionnaire_form(questions, formdata=None, answers=None):
    """A form with one field per question of the wave (`q_<key>`), from the database."""

    class QuestionnaireForm(FlaskForm):
        pass

    for question in questions:
        options = [SelectChoice(choice.key, choice.label) for choice in question.choices]
        if question.kind == "single":
            field = RadioField(question.text, choices=options, validate_choice=False)
        else:
            field = MultiCheckboxField(question.text, choices=options, validate_choice=False)
        setattr(QuestionnaireForm, f"q_{question.key}", field)
    data = {}
    for question in questions:
        picked = (answers or {}).get(question.key, [])
        data[f"q_{question.key}"] = picked[0] if question.kind == "single" and picked else picked
    if formdata is not None:
        return QuestionnaireForm(formdata=formdata)
    return QuestionnaireForm(data=data)


class SubmitForm(FlaskForm):
    submission_id = HiddenField(validators=[DataRequired(), Length(max=64)])
