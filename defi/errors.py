"""French error pages, and the one rollback of a failed request."""

import contextlib

import sqlalchemy as sa
from flask import current_app
from flask import render_template
from flask import request
from flask_babel import format_decimal
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import Forbidden
from werkzeug.exceptions import SecurityError

from defi.extensions import db
from defi.extensions import login_manager
from defi.formatting import gettext as _
from defi.htmx import is_htmx
from defi.htmx import render

MESSAGES = {
    400: "La demande n'a pas pu être comprise. Rechargez la page et réessayez.",
    403: "Cette page n'est pas accessible avec votre compte.",
    404: "Cette page n'existe pas, ou plus.",
    405: "Cette action n'est pas possible ici.",
    409: "Ces données ont été modifiées entre-temps.",
    411: (
        "Votre navigateur a envoyé la demande sans en donner la taille : rien n'a été "
        "enregistré. Réessayez depuis la page du site."
    ),
    413: (
        "Ce que vous avez envoyé dépasse %(limit)s : rien n'a été enregistré. Raccourcissez le "
        "texte, ou découpez le fichier en plusieurs."
    ),
    429: "Trop de tentatives. Attendez quelques minutes avant de réessayer.",
    500: "Une erreur s'est produite de notre côté. Ce que vous avez saisi avant est enregistré.",
    503: "Le service est momentanément indisponible. Réessayez dans un instant.",
}
TITLES = {
    400: "Demande incorrecte",
    403: "Accès refusé",
    404: "Page introuvable",
    405: "Action impossible",
    409: "Conflit de modification",
    411: "Envoi incomplet",
    413: "Envoi trop gros",
    429: "Trop de tentatives",
    500: "Erreur",
    503: "Service indisponible",
}


class Refused(Forbidden):
    """A 403 that says why, in French (a closed collecte, a foyer that left the défi)."""

    def __init__(self, message: str):
        super().__init__()
        self.message = message


def render_error(status, message=None, **values):
    template = "errors/fragment.html" if is_htmx() else "errors/page.html"
    message = message or _(MESSAGES[status], **values)
    return (
        render_template(template, status=status, title=_(TITLES[status]), message=message),
        status,
    )


def french_size(size: int) -> str:
    """262144 → "256 Ko", 20971520 → "20 Mo"."""
    if size >= 1024 * 1024:
        return _("%(n)s Mo", n=format_decimal(size / (1024 * 1024), "#,##0.#"))
    return _("%(n)s Ko", n=format_decimal(size / 1024, "#,##0"))


def handle_http_error(error):
    if isinstance(error, Refused):
        return render_error(403, message=error.message)
    if error.code == 413:
        limit = request.max_content_length or current_app.config["MAX_CONTENT_LENGTH"]
        return render_error(413, limit=french_size(limit))
    response = render_error(error.code if error.code in MESSAGES else 400)
    if error.code == 429 and error.response is not None:
        # Flask-Limiter's response carries Retry-After; keep it on our French page.
        response = (*response, dict(error.response.headers))
    return response


# A failed CSRF check, on a view that cannot show its form again (a button, a deletion).
CSRF_TITLE = "Rien n'a été enregistré"
CSRF_MESSAGE = (
    "Cette page était trop ancienne, ou vous vous êtes reconnecté·e depuis : rien n'a été "
    "enregistré. Rechargez la page, puis recommencez."
)


def handle_csrf_error(_error):
    """An unsafe request without a valid CSRF token, already admitted by the access policy.

    The view did not run (`access.check_csrf`), or it tried to write and was stopped
    (`database.refuse_writes`): nothing of the request is kept.
    """
    rollback_quietly()
    template = "errors/fragment.html" if is_htmx() else "errors/page.html"
    return render_template(template, status=400, title=_(CSRF_TITLE), message=_(CSRF_MESSAGE)), 400


def handle_stale_data(_error):
    """Two writers crossed on the same row: nothing of this request is kept (409)."""
    db.session.rollback()
    return render_error(409)


# The database is down or out of reach: a connection refused or lost (OperationalError, or
# InterfaceError from the driver), or no connection free in the pool (TimeoutError).
DATABASE_UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)
# Seconds a client is asked to wait before trying again (the `Retry-After` of the 503).
RETRY_AFTER_SECONDS = 30
# Never written back into a page: secrets, and the request's CSRF token (a fresh one is).
NOT_KEPT = frozenset({"csrf_token", "password", "confirm", "current", "code"})


def typed_values():
    """The fields of the form that could not be saved, in order, to be sent again."""
    if request.method != "POST":
        return []
    return [(name, value) for name, value in request.form.items(multi=True) if name not in NOT_KEPT]


def rollback_quietly():
    """Roll back the request's transaction, even when its connection went with the database."""
    with contextlib.suppress(sa.exc.SQLAlchemyError):
        db.session.rollback()


def handle_database_unavailable(error):
    """The database does not answer: 503 with Retry-After, and what was typed kept.

    The page holds a form that posts the same fields again to the same address, so nothing
    typed is lost without JavaScript; htmx swaps no 5xx, and app.js saves again by itself.
    """
    current_app.logger.error("The database does not answer (503): %s", error)
    rollback_quietly()
    # The account cannot be read now, and a user read before is expired by the rollback: the
    # page is drawn as for a visitor. The session cookie is left as it is, so the user is
    # still logged in once the database answers again.
    login_manager._update_request_context_with_user()
    html = render(
        "errors/unavailable.html",
        "unavailable",
        status=503,
        title=_(TITLES[503]),
        message=_(MESSAGES[503]),
        resend=request.method == "POST",
        fields=typed_values(),
        action=request.full_path.rstrip("?"),
    )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    return html, 503, headers


def handle_untrusted_host(_error):
    """A request naming a host the site does not answer to (TRUSTED_HOSTS): no page of ours
    can be drawn for it, since every link would name that host."""
    return (
        _("Cette adresse n'est pas celle du site."),
        400,
        {"Content-Type": "text/plain; charset=utf-8"},
    )


def handle_server_error(_error):
    db.session.rollback()
    return render_error(500)


def init_app(app):
    for status in MESSAGES:
        if status != 500:
            app.register_error_handler(status, handle_http_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(SecurityError, handle_untrusted_host)
    app.register_error_handler(StaleDataError, handle_stale_data)
    for error_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(error_class, handle_database_unavailable)
    app.register_error_handler(500, handle_server_error)
