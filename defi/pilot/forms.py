"""The pilot's forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from flask_wtf.file import FileRequired
from wtforms import RadioField
from wtforms import SelectField
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import ValidationError

from defi.forms import strip


class StaffInvitationForm(FlaskForm):
    """Invite a facilitator of a group or a referent of a structure."""

    role = RadioField(
        _l("Rôle"),
        choices=[
            SelectChoice("facilitator", _l("Animateur·rice d'un groupe")),
            SelectChoice("referent", _l("Référent·e d'une structure d'accompagnement social")),
        ],
        validators=[InputRequired(_l("Choisissez un rôle."))],
    )
    group_id = SelectField(_l("Groupe (pour un·e animateur·rice)"), coerce=int, choices=[])
    structure_name = StringField(
        _l("Structure (pour un·e référent·e)"),
        filters=[strip],
        validators=[Length(max=120, message=_l("120 caractères au plus."))],
        description=_l(
            "Une structure existante ou une nouvelle, par exemple « MJEP d'Isbergues »."
        ),
    )

    def validate_group_id(self, field):
        if self.role.data == "facilitator" and field.data not in {
            choice.value for choice in field.choices
        }:
            raise ValidationError(_l("Choisissez le groupe de l'animateur·rice."))

    def validate_structure_name(self, field):
        if self.role.data == "referent" and not field.data:
            raise ValidationError(_l("Indiquez la structure du ou de la référent·e."))


class ImportForm(FlaskForm):
    """A CSV file of past relevés, and the défi it belongs to."""

    file = FileField(
        _l("Fichier CSV des relevés"),
        validators=[FileRequired(_l("Choisissez un fichier CSV."))],
    )
    challenge_name = StringField(
        _l("Défi (laisser vide pour le défi en cours)"),
        filters=[strip],
        validators=[Length(max=200, message=_l("200 caractères au plus."))],
    )
