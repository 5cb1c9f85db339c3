"""Account forms. Error messages are French, shown next to the field."""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import EqualTo
from wtforms.validators import Length
from wtforms.validators import ValidationError

from defi.accounts.passwords import MAX_LENGTH
from defi.accounts.passwords import password_problem
from defi.accounts.services import find_invitation
from defi.accounts.services import normalise_username
from defi.accounts.services import username_taken
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
            raise ValidationError(
                _l("Ce code n'est pas valable : il a peut-être expiré ou déjà servi.")
            )

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
