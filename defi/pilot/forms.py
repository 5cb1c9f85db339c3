"""The pilot's forms."""

import sqlalchemy as sa
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from flask_wtf.file import FileRequired
from wtforms import BooleanField
from wtforms import DateField
from wtforms import HiddenField
from wtforms import RadioField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import Regexp
from wtforms.validators import ValidationError

from defi.accounts.forms import ValidityField
from defi.formatting import lazy_gettext as _l
from defi.forms import one_line
from defi.forms import strip
from defi.forms import within_defi_years


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
    # An existing structure is chosen by name in a list, never matched from free text: its
    # referents see the accompanied foyers' names, and this gives a new person that access.
    structure_id = SelectField(
        _l("Structure (pour un·e référent·e)"),
        coerce=int,
        choices=[],
        default=0,
        description=_l(
            "Le ou la référent·e verra les noms des foyers que cette structure accompagne ; "
            "ses référents actuels verront cette invitation et pourront l'annuler."
        ),
    )
    structure_name = StringField(
        _l("Ou une nouvelle structure"),
        filters=[one_line],
        validators=[Length(max=120, message=_l("120 caractères au plus."))],
        description=_l("Par exemple « Centre social des Tilleuls »."),
    )
    valid_days = ValidityField()

    def validate_group_id(self, field):
        if self.role.data == "facilitator" and field.data not in {
            choice.value for choice in field.choices
        }:
            raise ValidationError(_l("Choisissez le groupe de l'animateur·rice."))

    def validate_structure_id(self, field):
        if self.role.data != "referent":
            return
        if field.data and self.structure_name.data:
            raise ValidationError(
                _l("Choisissez une structure de la liste ou nommez-en une nouvelle, pas les deux.")
            )
        if not field.data and not self.structure_name.data:
            raise ValidationError(
                _l("Choisissez la structure du ou de la référent·e, ou nommez-en une nouvelle.")
            )

    def validate_structure_name(self, field):
        from defi.pilot.services import structure_name_taken

        if self.role.data != "referent" or not field.data:
            return
        if structure_name_taken(field.data):
            raise ValidationError(
                _l(
                    "Une structure porte déjà ce nom : choisissez-la dans la liste ci-dessus "
                    "(celle des foyers importés ne reçoit pas de référent·e)."
                )
            )


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
    # A name that matches no défi is refused unless this is ticked: a typo never makes a défi.
    create_challenge = BooleanField(_l("Créer un nouveau défi sous ce nom"))
    # The structure that accompanies the foyers the file creates as accompanied (0: none).
    structure_id = SelectField(
        _l("Structure qui accompagne les nouveaux foyers accompagnés"), coerce=int, default=0
    )

    def options(self) -> dict:
        """The import's options, as `imports.preview_import` takes them."""
        return {
            "challenge_name": self.challenge_name.data or None,
            "structure_id": self.structure_id.data or None,
            "create_challenge": bool(self.create_challenge.data and self.challenge_name.data),
        }


class ImportConfirmForm(FlaskForm):
    """The confirmation of a previewed import: the file and its signed options, as the
    preview gave them (`imports.confirmation`)."""

    payload = HiddenField(validators=[DataRequired()])
    token = HiddenField(validators=[DataRequired()])


# A collecte's day: given, and within the years a défi can use.
REQUIRED_DAY = [InputRequired(_l("Indiquez une date.")), within_defi_years]


class ChallengeForm(FlaskForm):
    """A new défi: its name and the dates of its 2 or 3 collectes."""

    name = StringField(
        _l("Nom du défi"),
        filters=[strip],
        validators=[DataRequired(_l("Donnez un nom au défi.")), Length(max=200)],
    )
    opens_1 = DateField(_l("Collecte 1 (début) : ouverture"), validators=REQUIRED_DAY)
    closes_1 = DateField(_l("Collecte 1 : clôture"), validators=REQUIRED_DAY)
    opens_2 = DateField(_l("Collecte 2 : ouverture"), validators=REQUIRED_DAY)
    closes_2 = DateField(_l("Collecte 2 : clôture"), validators=REQUIRED_DAY)
    opens_3 = DateField(
        _l("Collecte 3 (fin) : ouverture (facultative)"),
        validators=[Optional(), within_defi_years],
    )
    closes_3 = DateField(_l("Collecte 3 : clôture"), validators=[Optional(), within_defi_years])

    def validate_name(self, field):
        from defi.extensions import db
        from defi.models import Challenge
        from defi.territories import my_territory_id

        taken = sa.select(Challenge.id).where(
            Challenge.territory_id == my_territory_id(), Challenge.name == field.data
        )
        if db.session.scalar(taken):
            raise ValidationError(_l("Un défi porte déjà ce nom."))

    def dates(self):
        pairs = [(self.opens_1.data, self.closes_1.data), (self.opens_2.data, self.closes_2.data)]
        if self.opens_3.data or self.closes_3.data:
            pairs.append((self.opens_3.data, self.closes_3.data))
        return pairs

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        previous_close = None
        for rank, (opens, closes) in enumerate(self.dates(), start=1):
            field = getattr(self, f"closes_{rank}")
            if opens is None or closes is None:
                field.errors.append(_l("Indiquez l'ouverture et la clôture."))
                return False
            if closes < opens:
                field.errors.append(_l("La clôture doit suivre l'ouverture."))
                return False
            if previous_close is not None and opens <= previous_close:
                getattr(self, f"opens_{rank}").errors.append(
                    _l("Une collecte commence après la clôture de la précédente.")
                )
                return False
            previous_close = closes
        return True


class WaveForm(FlaskForm):
    """A collecte's dates, or opened or closed by hand."""

    opens_on = DateField(_l("Ouverture"), validators=REQUIRED_DAY)
    closes_on = DateField(_l("Clôture"), validators=REQUIRED_DAY)
    manual_state = SelectField(
        _l("État"),
        choices=[
            SelectChoice("", _l("selon les dates")),
            SelectChoice("open", _l("ouverte à la main")),
            SelectChoice("closed", _l("fermée à la main")),
        ],
    )

    def validate_closes_on(self, field):
        if self.opens_on.data and field.data and field.data < self.opens_on.data:
            raise ValidationError(_l("La clôture doit suivre l'ouverture."))


class GroupForm(FlaskForm):
    name = StringField(
        _l("Nom du groupe"),
        filters=[strip],
        validators=[DataRequired(_l("Donnez un nom au groupe.")), Length(max=120)],
    )
    sector = StringField(_l("Secteur"), filters=[strip], validators=[Length(max=120)])
    code_prefix = StringField(
        _l("Début des codes des foyers (par exemple EST)"),
        filters=[strip],
        validators=[
            DataRequired(_l("Indiquez un début de code.")),
            Regexp(r"^[A-Za-z]{2,10}$", message=_l("De 2 à 10 lettres sans accent.")),
        ],
    )


class QuestionForm(FlaskForm):
    text = StringField(
        _l("Question"),
        filters=[strip],
        validators=[DataRequired(_l("Écrivez la question.")), Length(max=300)],
    )
    kind = RadioField(
        _l("Réponses"),
        choices=[
            SelectChoice("multiple", _l("plusieurs réponses possibles")),
            SelectChoice("single", _l("une seule réponse")),
        ],
        default="multiple",
        validators=[InputRequired(_l("Choisissez."))],
    )
    from_rank = SelectField(
        _l("Posée à partir de la collecte"),
        coerce=int,
        choices=[SelectChoice(1, "1"), SelectChoice(2, "2"), SelectChoice(3, "3")],
    )
    choice_lines = TextAreaField(
        _l("Les réponses proposées, une par ligne"),
        filters=[strip],
        validators=[DataRequired(_l("Proposez au moins deux réponses.")), Length(max=3000)],
    )

    def validate_choice_lines(self, field):
        lines = [line.strip() for line in (field.data or "").splitlines() if line.strip()]
        if len(lines) < 2:
            raise ValidationError(_l("Proposez au moins deux réponses."))
        if any(len(line) > 200 for line in lines):
            raise ValidationError(_l("Une réponse fait 200 caractères au plus."))

    def typed(self) -> tuple:
        """(text, kind, from rank, choice lines), as `setup.save_question` takes them."""
        return self.text.data, self.kind.data, self.from_rank.data, self.choice_lines.data


class NextChallengeForm(FlaskForm):
    name = StringField(
        _l("Nom du nouveau défi"),
        filters=[strip],
        validators=[DataRequired(_l("Donnez un nom au défi.")), Length(max=200)],
    )

    def validate_name(self, field):
        ChallengeForm.validate_name(self, field)


class CurrentChallengeForm(FlaskForm):
    """Which défi is being run: the pilot's pages and the referents' enrolment are about it."""

    challenge_id = SelectField(
        _l("Défi en cours"),
        coerce=int,
        choices=[],
        validators=[InputRequired(_l("Choisissez un défi."))],
    )
