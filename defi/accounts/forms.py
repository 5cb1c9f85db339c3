"""Account forms. Error messages are French, shown next to the field."""

import re

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TelField
from wtforms.validators import DataRequired
from wtforms.validators import EqualTo
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import Regexp
from wtforms.validators import ValidationError

from defi.accounts.passwords import MAX_LENGTH
from defi.accounts.passwords import password_problem
from defi.accounts.services import expired_invitation
from defi.accounts.services import find_invitation
from defi.accounts.services import long_moment
from defi.accounts.services import normalise_username
from defi.accounts.services import username_taken
from defi.formatting import gettext as _
from defi.formatting import lazy_gettext as _l
from defi.formatting import ngettext
from defi.forms import ConfirmForm
from defi.forms import one_line
from defi.forms import strip as _strip

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}$")


class LoginForm(FlaskForm):
    username = StringField(
        _l("Identifiant"),
        filters=[_strip],
        validators=[DataRequired(_l("Indiquez votre identifiant.")), Length(max=60)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Mot de passe"),
        validators=[DataRequired(_l("Indiquez votre mot de passe.")), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class NewPasswordMixin:
    """Checks the new password against the rules, and against the account's username."""

    def __init__(self, *args, account_username="", **kwargs):
        super().__init__(*args, **kwargs)
        self.account_username = account_username

    def validate_password(self, field):
        username = self.account_username
        if getattr(self, "invitation", None) is not None and self.invitation.user is not None:
            username = self.invitation.user.username
        elif hasattr(self, "username"):
            username = self.username.data or ""
        problem = password_problem(field.data or "", username)
        if problem:
            raise ValidationError(problem)


class RedeemForm(NewPasswordMixin, FlaskForm):
    code = StringField(
        _l("Code d'invitation"),
        filters=[_strip],
        validators=[DataRequired(_l("Indiquez le code reçu.")), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "characters"},
    )
    username = StringField(
        _l("Identifiant (pour vous connecter)"),
        filters=[lambda value: normalise_username(value) if value else value],
        validators=[Length(max=40)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Mot de passe (12 caractères ou plus)"),
        validators=[DataRequired(_l("Choisissez un mot de passe."))],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Le même mot de passe, encore une fois"),
        validators=[EqualTo("password", _l("Les deux mots de passe ne sont pas identiques."))],
        render_kw={"autocomplete": "new-password"},
    )

    invitation = None

    def validate_code(self, field):
        self.invitation = find_invitation(field.data or "")
        if self.invitation is None:
            raise ValidationError(code_refusal(field.data))

    def validate_username(self, field):
        if self.invitation is None:
            return  # no valid code: say nothing of the usernames (taken or not)
        if self.invitation.user is not None:
            return  # a password reset keeps the account's username
        if not field.data:
            raise ValidationError(_l("Choisissez un identifiant."))
        if not USERNAME_PATTERN.match(field.data):
            raise ValidationError(
                _l(
                    "De 3 à 40 caractères : lettres sans accent, chiffres, point, tiret ou "
                    "tiret bas."
                )
            )
        if username_taken(field.data):
            raise ValidationError(_l("Cet identifiant est déjà pris. Choisissez-en un autre."))


def code_refusal(code: str) -> str:
    """Why a typed code is refused: its expiry said plainly when it expired, else in general."""
    expired = expired_invitation(code or "")
    if expired is not None:
        return _(
            "Ce code a expiré le %(when)s : il ne marche plus. Demandez un nouveau code à "
            "la personne qui vous l'a remis.",
            when=long_moment(expired.expires_at),
        )
    return _("Ce code n'est pas valable : il a peut-être expiré ou déjà servi.")


class PasswordChangeForm(NewPasswordMixin, FlaskForm):
    current = PasswordField(
        _l("Mot de passe actuel"),
        validators=[DataRequired(_l("Indiquez votre mot de passe actuel."))],
        render_kw={"autocomplete": "current-password"},
    )
    password = PasswordField(
        _l("Nouveau mot de passe (12 caractères ou plus)"),
        validators=[DataRequired(_l("Choisissez un mot de passe."))],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Le même mot de passe, encore une fois"),
        validators=[EqualTo("password", _l("Les deux mots de passe ne sont pas identiques."))],
        render_kw={"autocomplete": "new-password"},
    )


class DeleteAccountForm(FlaskForm):
    """Deleting a foyer's account asks for the password again."""

    password = PasswordField(
        _l("Votre mot de passe, pour confirmer"),
        validators=[DataRequired(_l("Indiquez votre mot de passe."))],
        render_kw={"autocomplete": "current-password"},
    )


# How long a printed code stays valid, chosen by whoever prints it: a défi lasts a year, and a
# family may scan its code weeks after the atelier. The setting's default is always offered.
VALIDITY_DAYS = (7, 14, 30, 60, 90)
_MONTHS = {30: _l("un mois"), 60: _l("deux mois"), 90: _l("trois mois")}


def default_validity_days() -> int:
    return current_app.config["INVITATION_LIFETIME"].days


def validity_label(days: int) -> str:
    """30 → "30 jours (un mois)"."""
    text = ngettext("%(num)d jour", "%(num)d jours", days)
    return f"{text} ({_MONTHS[days]})" if days in _MONTHS else text


def validity_choices() -> list[tuple[int, str]]:
    """The durations an inviter may choose, in days, with their words."""
    offered = sorted({*VALIDITY_DAYS, default_validity_days()})
    return [(days, validity_label(days)) for days in offered]


class ValidityField(SelectField):
    """ "Valable pendant": one of the offered durations, in days. A form that does not send it
    gets the setting's default; a value not offered is refused in French (nothing is issued)."""

    def __init__(self, label=None, validators=None, **kwargs):
        label = _l("Valable pendant") if label is None else label
        kwargs.setdefault("choices", validity_choices)
        kwargs.setdefault("default", default_validity_days)
        super().__init__(label, validators, coerce=int, **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None  # not a number: pre_validate says so in French

    def pre_validate(self, form):
        offered = [value for value, _label in self.choices]
        if self.data not in offered:
            raise ValidationError(
                _(
                    "Choisissez une durée de la liste : %(days)s jours.",
                    days=", ".join(str(days) for days in offered),
                )
            )


class NewCodeForm(ConfirmForm):
    """The button that prints a new code for a foyer or a staff account, and its validity."""

    valid_days = ValidityField()


PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ]*$")


def phone_number(_form, field):
    """Digits, spaces and a leading +: 6 to 15 digits (the longest international number)."""
    if not field.data:
        return
    digits = sum(ch.isdigit() for ch in field.data)
    if len(field.data) > 25 or not PHONE_PATTERN.match(field.data) or not 6 <= digits <= 15:
        raise ValidationError(
            _l(
                "Ce numéro n'est pas valide : des chiffres, des espaces et un + au début, "
                "par exemple 06 12 34 56 78."
            )
        )


class StaffDetailsForm(FlaskForm):
    """A staff member's first name and contact, printed on the invitations it hands over."""

    first_name = StringField(
        _l("Prénom"),
        filters=[one_line],
        validators=[Length(max=60, message=_l("60 caractères au plus."))],
        render_kw={"autocomplete": "given-name"},
    )
    phone = TelField(
        _l("Téléphone"),
        filters=[_strip],
        validators=[phone_number],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    email = EmailField(
        _l("Courriel"),
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=254, message=_l("254 caractères au plus.")),
            Regexp(
                r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                message=_l(
                    "Cette adresse de courriel n'est pas valide, par exemple prenom@exemple.fr."
                ),
            ),
        ],
        render_kw={"autocomplete": "email"},
    )

    def details(self) -> dict:
        """The account's columns as typed (None for what is left empty)."""
        return {name: getattr(self, name).data or None for name in ("first_name", "phone", "email")}
