"""The forms of a relevé. Numbers take `3,50` as well as `3.50`; messages are French."""

import re
from decimal import Decimal
from decimal import InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms import Field
from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import RadioField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import NumberRange
from wtforms.validators import Optional
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput
from wtforms.widgets import ListWidget
from wtforms.widgets import TextInput

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
MAX_DIGITS = 9  # before the decimal point: nothing the défi measures comes near it
_NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?$")


def choices(labels):
    return [SelectChoice(key, label) for key, label in labels.items()]


class FrenchDecimalField(Field):
    """A decimal number typed the French way (`3,50`) or not (`3.50`, `1 234,5`).

    Shown with a comma; refuses words, NaN, infinity and more than 2 decimals.
    """

    widget = TextInput()

    def __init__(self, label=None, validators=None, places=2, **kwargs):
        render_kw = {"inputmode": "decimal", "autocomplete": "off", **kwargs.pop("render_kw", {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.places = places
        self.raw = None

    def _value(self):
        if self.raw is not None:
            return self.raw
        if self.data is None:
            return ""
        return f"{self.data:.{self.places}f}".replace(".", ",")

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.raw = valuelist[0][:40]
        text = re.sub(r"[\s\u00a0\u202f€]", "", valuelist[0] or "")
        # Spaces alone are no number: InputRequired must see an empty value.
        self.raw_data = [text]
        self.data = None
        if not text:
            return
        if not _NUMBER.match(text):
            raise ValueError(_l("Indiquez un nombre, par exemple 3,50."))
        whole, _sep, decimals = text.lstrip("-").replace(",", ".").partition(".")
        if len(whole.lstrip("0")) > MAX_DIGITS:
            raise ValueError(_l("Ce nombre est beaucoup trop grand."))
        if len(decimals.rstrip("0")) > self.places:
            raise ValueError(_l("Pas plus de %(n)d chiffres après la virgule.", n=self.places))
        try:
            self.data = Decimal(text.replace(",", "."))
        except (InvalidOperation, ArithmeticError) as error:
            raise ValueError(_l("Indiquez un nombre, par exemple 3,50.")) from error


def decimal_range(minimum, maximum, message):
    def check(_form, field):
        if field.data is not None and not minimum <= field.data <= maximum:
            raise ValidationError(message)

    return check


class VersionedForm(FlaskForm):
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


class WeighingForm(FlaskForm):
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


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


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
