"""Login, logout, redeeming an invitation, changing one's password, a foyer's own data."""

from urllib.parse import urlsplit

import segno
from flask import flash
from flask import g
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user

from defi.access import home_url
from defi.access import rerender_on_csrf_error
from defi.accounts import bp
from defi.accounts.forms import DeleteAccountForm
from defi.accounts.forms import LoginForm
from defi.accounts.forms import PasswordChangeForm
from defi.accounts.forms import RedeemForm
from defi.accounts.forms import StaffDetailsForm
from defi.accounts.forms import code_refusal
from defi.accounts.forms import default_validity_days
from defi.accounts.forms import validity_choices
from defi.accounts.passwords import verify_password
from defi.accounts.services import CODE_LENGTH
from defi.accounts.services import InvitationAlreadyUsed
from defi.accounts.services import authenticate
from defi.accounts.services import data_as_csv
from defi.accounts.services import data_as_json
from defi.accounts.services import find_invitation
from defi.accounts.services import format_code
from defi.accounts.services import invitation_sheet
from defi.accounts.services import long_day
from defi.accounts.services import long_moment
from defi.accounts.services import my_household_data
from defi.accounts.services import normalise_code
from defi.accounts.services import normalise_username
from defi.accounts.services import redeem_invitation
from defi.accounts.services import set_password
from defi.extensions import db
from defi.extensions import limiter
from defi.formatting import gettext as _
from defi.formatting import today
from defi.rights import erase_household
from defi.security import start_session


def safe_next(target: str | None) -> str | None:
    """Only a path of this site: never another host (no open redirect through `next=`)."""
    # Browsers drop tabs and newlines from a URL and read a backslash as a slash: a tab
    # between two slashes would make "//evil.example", another host.
    if not target or any(char.isspace() or not char.isprintable() for char in target):
        return None
    target = target.replace("\\", "/")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _login_key():
    """The account a login names, as `authenticate` finds it: one count however it is spelled."""
    return "login:" + normalise_username(request.form.get("username"))


def _code_key():
    """The invitation code a request names, in any spelling (case, dashes, spaces)."""
    return "code:" + normalise_code(request.values.get("code", ""))[:CODE_LENGTH]


def _failed(response):
    # A successful login redirects (303); a refused one shows the form again (200).
    return request.method == "POST" and response.status_code == 200


def _looked_up_or_failed(response):
    """A code looked up (a page that names the code's account), or a redemption refused."""
    if request.method in ("GET", "HEAD"):
        return bool(request.args.get("code"))
    return _failed(response)


def _no_code():
    return not request.values.get("code")


def sign_in(user):
    """Start a fresh session for the user (nothing of the previous session is kept)."""
    session.clear()
    login_user(user)
    start_session(user)


# Per account, every attempt counts, taken before the password is checked: requests sent in
# parallel cannot get more than 10 tries (a count of failures would only be known after).
# Per address, failures only: 25 foyers of a workshop log in from one address.
@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes;100 per hour", key_func=_login_key, methods=["POST"])
@limiter.limit("60 per 15 minutes", deduct_when=_failed, methods=["POST"])
@rerender_on_csrf_error
def login():
    """Log in with a username and a password."""
    if current_user.is_authenticated and request.method in ("GET", "HEAD"):
        return redirect(home_url(current_user))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None:
            sign_in(user)
            db.session.commit()
            return redirect(safe_next(form.next.data) or home_url(user), 303)
        # Nothing to write: end the transaction (on SQLite, the write lock) before the page.
        db.session.rollback()
        form.password.errors.append(_("Identifiant ou mot de passe incorrect."))
    expired = session.pop("expired", False)
    return render_template("accounts/login.html", form=form, expired=expired)


@bp.route("/deconnexion", methods=["POST"])
def logout():
    """Log out, here and on every other device of the account."""
    current_user.rotate_session_token()
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("Vous êtes déconnecté·e."), "success")
    return redirect(url_for("accounts.login"), 303)


# Looking a code up and failing to redeem one are counted per address and per code.
@bp.route("/invitation", methods=["GET", "POST"])
@limiter.limit(
    "60 per 15 minutes;300 per day",
    deduct_when=_looked_up_or_failed,
    methods=["GET", "HEAD", "POST"],
)
@limiter.limit(
    "10 per 15 minutes",
    key_func=_code_key,
    exempt_when=_no_code,
    deduct_when=_looked_up_or_failed,
    methods=["GET", "HEAD", "POST"],
)
@rerender_on_csrf_error
def redeem():
    """Use an invitation code: create one's account, or choose a new password."""
    form = RedeemForm(code=request.args.get("code", ""))
    if form.validate_on_submit():
        try:
            user = redeem_invitation(form.invitation, form.password.data, form.username.data)
        except InvitationAlreadyUsed:
            db.session.rollback()
            form.code.errors.append(_("Ce code vient d'être utilisé."))
        else:
            sign_in(user)
            db.session.commit()
            flash(_("Bienvenue ! Votre compte est prêt."), "success")
            return redirect(home_url(user), 303)
    invitation = _peek(form)
    if request.method in ("GET", "HEAD") and form.code.data and invitation is None:
        # A QR code scanned too late: say so before anything is typed.
        form.code.errors = [code_refusal(form.code.data)]
    return render_template("accounts/redeem.html", form=form, invitation=invitation)


def _peek(form):
    """The invitation the typed code points to, to show whether a username is needed."""
    return form.invitation or (find_invitation(form.code.data) if form.code.data else None)


@bp.route("/mot-de-passe", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes", deduct_when=_failed, methods=["POST"])
@rerender_on_csrf_error
def password():
    """Change one's password; every other session of the account ends."""
    form = PasswordChangeForm(account_username=current_user.username)
    if form.validate_on_submit():
        if verify_password(current_user.password_hash, form.current.data):
            set_password(current_user, form.password.data)
            db.session.commit()
            sign_in(current_user._get_current_object())
            flash(_("Votre mot de passe est changé."), "success")
            return redirect(home_url(current_user), 303)
        form.current.errors.append(_("Ce n'est pas votre mot de passe actuel."))
    return render_template("accounts/password.html", form=form)


def invitation_page(invitation, code, recipient, back_url):
    """The printable page of a new code (one A4 page): QR code, the code in large letters,
    the group, whom to call, the next collecte, and until when the code is valid.

    The code is shown in this response only; the database keeps its hash.
    """
    redeem_url = url_for("accounts.redeem", code=format_code(code), _external=True)
    qr_data_uri = segno.make(redeem_url, error="m").svg_data_uri(scale=6, border=2)
    return render_template(
        "accounts/invitation.html",
        invitation=invitation,
        sheet=invitation_sheet(invitation),
        code=format_code(code),
        recipient=recipient,
        back_url=back_url,
        qr_data_uri=qr_data_uri,
        redeem_url_plain=url_for("accounts.redeem", _external=True),
    )


def new_code_refused(form, back_url):
    """A new code's form that did not validate (a forged duration): say why, issue nothing."""
    for error in form.valid_days.errors:
        flash(error, "error")
    return redirect(back_url, 303)


@bp.app_template_global()
def code_validity_choices():
    """(days, words, preselected) of every duration a code may be printed for; once per
    request, for a roster prints this list in each foyer's card."""
    if "code_validity_choices" not in g:
        default = default_validity_days()
        g.code_validity_choices = tuple(
            (days, words, days == default) for days, words in validity_choices()
        )
    return g.code_validity_choices


bp.add_app_template_filter(long_day)
bp.add_app_template_filter(long_moment)


@bp.route("/mes-coordonnees", methods=["GET", "POST"])
@rerender_on_csrf_error
def details():
    """A staff member's first name, phone and e-mail, printed on the invitations it hands over."""
    form = StaffDetailsForm(obj=current_user)
    if form.validate_on_submit():
        for name, value in form.details().items():
            setattr(current_user, name, value)
        db.session.commit()
        flash(_("Vos coordonnées sont enregistrées."), "success")
        return redirect(url_for("accounts.details"), 303)
    return render_template("accounts/details.html", form=form)


# The downloads of "Mes données": ?format= (also the file's extension) → (Content-Type, builder).
DOWNLOADS = {
    "json": ("application/json; charset=utf-8", data_as_json),
    "csv": ("text/csv; charset=utf-8", data_as_csv),
}


@bp.route("/mes-donnees")
def my_data():
    """What the défi holds about one's own foyer, in words, and its downloads (?format=json
    or ?format=csv). Only a foyer's member reaches it (access.POLICY), and only its foyer."""
    data, collectes = my_household_data(current_user.household)
    wanted = request.args.get("format")
    if wanted in DOWNLOADS:
        mimetype, build = DOWNLOADS[wanted]
        response = make_response(build(data))
        response.headers["Content-Type"] = mimetype
        response.headers["Content-Disposition"] = (
            f'attachment; filename="mes-donnees-{today().isoformat()}.{wanted}"'
        )
        return response
    return render_template("accounts/my_data.html", data=data, collectes=collectes)


@bp.route("/supprimer-mon-compte", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes", deduct_when=_failed, methods=["POST"])
@rerender_on_csrf_error
def delete_account():
    """Delete one's foyer and all its data, after typing the password again."""
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if verify_password(current_user.password_hash, form.password.data):
            erase_household(current_user.household)
            db.session.commit()
            logout_user()
            session.clear()
            flash(_("Votre compte et toutes les données de votre foyer sont supprimés."), "success")
            return redirect(url_for("accounts.login"), 303)
        form.password.errors.append(_("Ce n'est pas votre mot de passe."))
    return render_template("accounts/delete.html", form=form)
