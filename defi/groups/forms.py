"""The forms of a facilitator: a foyer's details, and its invitation."""

from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import IntegerField
from wtforms import StringField
from wtforms import TelField
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import NumberRange
from wtforms.validators import Optional
from wtforms.validators import Regexp

from defi.accounts.forms import ValidityField
from defi.formatting import lazy_gettext as _l
from defi.forms import strip


class HouseholdForm(FlaskForm):
    """A foyer's name, size, commune and contacts (the contacts are optional)."""

    display_name = StringField(
        _l("Nom affiché du foyer"),
        filters=[strip],
        validators=[DataRequired(_l("Indiquez un nom, par exemple « Famille Martin »."))]
        + [Length(max=120, message=_l("120 caractères au plus."))],
    )
    adults = IntegerField(
        _l("Adultes"),
        default=1,
        validators=[
            InputRequired(_l("Indiquez le nombre d'adultes.")),
            NumberRange(1, 20, _l("Entre 1 et 20 adultes.")),
        ],
        render_kw={"inputmode": "numeric", "min": 1, "max": 20},
    )
    children = IntegerField(
        _l("Enfants"),
        default=0,
        validators=[
            InputRequired(_l("Indiquez le nombre d'enfants (0 s'il n'y en a pas).")),
            NumberRange(0, 20, _l("Entre 0 et 20 enfants.")),
        ],
        render_kw={"inputmode": "numeric", "min": 0, "max": 20},
    )
    commune = StringField(
        _l("Commune"),
        filters=[strip],
        validators=[Length(max=120, message=_l("120 caractères au plus."))],
    )
    phone = TelField(
        _l("Téléphone (facultatif)"),
        filters=[strip],
        validators=[
            Optional(),
            Regexp(
                r"^\+?[0-9 .()-]{6,25}$", message=_l("Ce numéro de téléphone n'est pas valide.")
            ),
        ],
        render_kw={"autocomplete": "off", "inputmode": "tel"},
    )
    email = EmailField(
        _l("Courriel (facultatif)"),
        filters=[strip],
        validators=[
            Optional(),
            Length(max=254),
            Regexp(
                r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                message=_l("Cette adresse de courriel n'est pas valide."),
            ),
        ],
        render_kw={"autocomplete": "off"},
    )

    def household_fields(self) -> dict:
        """The foyer's columns as typed, for `create_household` or an update."""
        return {
            "display_name": self.display_name.data,
            "adults": self.adults.data,
            "children": self.children.data,
            "commune": self.commune.data or "",
            "phone": self.phone.data or "",
            "email": self.email.data or "",
        }


class HouseholdInvitationForm(HouseholdForm):
    """A new foyer's details, and how long its printed code stays valid."""

    valid_days = ValidityField()
