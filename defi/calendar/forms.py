"""The forms of the calendar: an event, the attendance sheet, one tick."""

from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms import TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import ValidationError

from defi.formatting import lazy_gettext as _l
from defi.forms import MultiCheckboxField
from defi.forms import strip
from defi.forms import within_defi_years

# The keys of `defi.models.calendar.EVENT_KINDS` (the model's CHECK), in the same order.
KIND_LABELS = {
    "atelier": _l("Atelier"),
    "visite": _l("Visite de producteur"),
    "temps_fort": _l("Temps fort"),
    "conference": _l("Conférence"),
    "atelier_culinaire": _l("Atelier culinaire"),
}

# Browsers send "10:30", or "10:30:00" when the input has a step in seconds.
TIME_FORMATS = ["%H:%M", "%H:%M:%S"]


class EventForm(FlaskForm):
    """An event of the group: what, when, where."""

    version = HiddenField()
    kind = SelectField(
        _l("Type"),
        choices=[SelectChoice(key, label) for key, label in KIND_LABELS.items()],
        default="atelier",
        validators=[InputRequired(_l("Choisissez le type d'évènement."))],
    )
    title = StringField(
        _l("Titre"),
        filters=[strip],
        validators=[DataRequired(_l("Donnez un titre, par exemple « Atelier cuisine de saison »."))]
        + [Length(max=200, message=_l("200 caractères au plus."))],
    )
    day = DateField(
        _l("Date"), validators=[InputRequired(_l("Indiquez la date.")), within_defi_years]
    )
    starts = TimeField(
        _l("Heure de début"),
        format=TIME_FORMATS,
        validators=[InputRequired(_l("Indiquez l'heure de début."))],
    )
    ends = TimeField(_l("Heure de fin (facultatif)"), format=TIME_FORMATS, validators=[Optional()])
    place = StringField(
        _l("Lieu"),
        filters=[strip],
        validators=[Length(max=300, message=_l("300 caractères au plus."))],
    )
    description = TextAreaField(
        _l("Description"),
        filters=[strip],
        validators=[Length(max=5000, message=_l("5 000 caractères au plus."))],
    )

    def validate_ends(self, field):
        starts = self.starts.data
        if field.data is not None and starts is not None and field.data <= starts:
            raise ValidationError(_l("L'heure de fin doit venir après l'heure de début."))

    def event_fields(self) -> dict:
        """What was typed, for `create_event` or `update_event`."""
        return {
            "kind": self.kind.data,
            "title": self.title.data,
            "day": self.day.data,
            "starts": self.starts.data,
            "ends": self.ends.data,
            "place": self.place.data or "",
            "description": self.description.data or "",
        }


class SheetBoxes(MultiCheckboxField):
    """The sheet's boxes: a box that is not on the page any more (a foyer withdrawn or moved
    while the page was open) is refused in words the facilitator can act on."""

    def pre_validate(self, form):
        values = {choice.value for choice in self.choices}
        if any(value not in values for value in self.data or []):
            raise ValidationError(
                _l(
                    "Un foyer coché n'est plus sur cette page de la liste : rien n'est "
                    "enregistré. Rechargez la page, puis cochez à nouveau."
                )
            )


class AttendanceForm(FlaskForm):
    """The attendance sheet: one box per named foyer, and how many accompanied foyers came."""

    present = SheetBoxes(_l("Présents"))
    accompanied = IntegerField(
        _l("Foyers accompagnés présents (nombre)"),
        default=0,
        validators=[Optional()],
        render_kw={"inputmode": "numeric", "min": 0},
    )

    def __init__(self, keys, *args, accompanied_active=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.present.choices = [SelectChoice(key, label) for key, label in keys]
        self.accompanied_active = accompanied_active

    def validate_accompanied(self, field):
        if field.data is not None and not 0 <= field.data <= self.accompanied_active:
            raise ValidationError(
                _l("Entre 0 et %(n)d foyers accompagnés.", n=self.accompanied_active)
            )


class MarkForm(FlaskForm):
    """One tick or untick of the sheet, sent as soon as the box changes (htmx).

    htmx sends the whole sheet with it; only the box of `foyer` is read.
    """

    foyer = StringField(validators=[Optional()])
    present = SelectMultipleField(validate_choice=False)
    accompanied = IntegerField(validators=[Optional()])
