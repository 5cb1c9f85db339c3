"""French error pages, and the one rollback of a failed request."""

from flask import render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError

from defi.extensions import db
from defi.htmx import is_htmx

MESSAGES = {
    400: "La demande n'a pas pu être comprise. Rechargez la page et réessayez.",
    403: "Cette page n'est pas accessible avec votre compte.",
    404: "Cette page n'existe pas, ou plus.",
    405: "Cette action n'est pas possible ici.",
    409: "Ces données ont été modifiées entre-temps.",
    413: "Ce que vous avez envoyé est trop gros.",
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
    413: "Envoi trop gros",
    429: "Trop de tentatives",
    500: "Erreur",
    503: "Service indisponible",
}


def render_error(status):
    template = "errors/fragment.html" if is_htmx() else "errors/page.html"
    return (
        render_template(
            template, status=status, title=_(TITLES[status]), message=_(MESSAGES[status])
        ),
        status,
    )


def handle_http_error(error):
    response = render_error(error.code if error.code in MESSAGES else 400)
    if error.code == 429 and error.response is not None:
        # Flask-Limiter's response carries Retry-After; keep it on our French page.
        response = (*response, dict(error.response.headers))
    return response


def handle_csrf_error(error):
    """A form sent without a valid CSRF token: show it again with what was typed."""
    from flask import current_app
    from flask import request

    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "rerender_on_csrf_error", False):
        # The view's own form fails the same CSRF check, so it writes nothing and shows the
        # form again, filled with the request's values and a fresh token.
        return view(**(request.view_args or {}))
    return render_error(400)


def handle_stale_data(_error):
    """Two writers crossed on the same row: nothing of this request is kept (409)."""
    db.session.rollback()
    return render_error(409)


def handle_server_error(_error):
    db.session.rollback()
    return render_error(500)


def init_app(app):
    for status in MESSAGES:
        if status != 500:
            app.register_error_handler(status, handle_http_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(StaleDataError, handle_stale_data)
    app.register_error_handler(500, handle_server_error)
