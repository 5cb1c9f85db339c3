"""The coordinator's form: a new territory and the invitation of its first pilot."""

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import ValidationError

from defi.accounts.forms import ValidityField
from defi.formatting import lazy_gettext as _l
from defi.forms import one_line
from defi.forms import strip


class TerritoryForm(FlaskForm):
    """A territory's name; its first pilot gets an invitation code valid `valid_days`."""

    name = StringField(
        _l("Nom du territoire"),
        filters=[strip, one_line],
        validators=[
            DataRequired(_l("Donnez un nom au territoire.")),
            Length(max=120, message=_l("120 caractères au plus.")),
        ],
        description=_l("Par exemple « Communauté de communes du Pays de Lumbres »."),
    )
    valid_days = ValidityField(_l("Code d'invitation de son ou sa pilote valable pendant"))

    def validate_name(self, field):
        from defi.territories import territory_like

        if field.data and territory_like(field.data) is not None:
            raise ValidationError(_l("Un territoire porte déjà ce nom."))
