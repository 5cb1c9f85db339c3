"""Who may reach which page: the one policy table of the app (QUALITY.md, security).

Every endpoint of `app.url_map` is listed with the roles that may use it, whatever the method.
A request to an endpoint missing here is refused (and `tests/test_access.py` fails on it). This
table says which *kind* of user may open a page; which *objects* that user may see is decided
by the `*_or_404` helpers of each feature (another foyer's relevé answers 404).
"""

from flask import abort
from flask import current_app
from flask import g
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from defi.extensions import csrf

ANONYMOUS = "anonymous"
HOUSEHOLD = "household"
FACILITATOR = "facilitator"
REFERENT = "referent"
PILOT = "pilot"
# A network's coordinator: every territory's published figures, never a name or a relevé.
COORDINATOR = "coordinator"

EVERYONE = frozenset({ANONYMOUS, HOUSEHOLD, FACILITATOR, REFERENT, PILOT, COORDINATOR})
SIGNED_IN = frozenset({HOUSEHOLD, FACILITATOR, REFERENT, PILOT, COORDINATOR})
# A relevé: the foyer's own, or one the referent fills with an accompanied foyer.
RELEVE = frozenset({HOUSEHOLD, REFERENT})
# Staff who read a group's recipe book, producer directory and calendar (which groups: the
# `*_in_reach` helpers of reach.py).
STAFF = frozenset({FACILITATOR, REFERENT, PILOT})

POLICY: dict[str, frozenset[str]] = {
    "static": EVERYONE,
    "main.index": EVERYONE,
    "main.healthz": EVERYONE,
    "main.service_worker": EVERYONE,
    "accounts.login": EVERYONE,
    "accounts.redeem": EVERYONE,
    "accounts.logout": SIGNED_IN,
    "accounts.password": SIGNED_IN,
    "accounts.my_data": frozenset({HOUSEHOLD}),
    "accounts.delete_account": frozenset({HOUSEHOLD}),
    "collecte.index": RELEVE,
    "collecte.meals": RELEVE,
    "collecte.purchase_add": RELEVE,
    "collecte.purchase_update": RELEVE,
    "collecte.purchase_delete": RELEVE,
    "collecte.weighings": RELEVE,
    "collecte.weighing_delete": RELEVE,
    "collecte.recipes": RELEVE,
    "collecte.recipe_new": RELEVE,
    "collecte.recipe_update": RELEVE,
    "collecte.recipe_delete": RELEVE,
    "collecte.producers": RELEVE,
    "collecte.producer_new": RELEVE,
    "collecte.producer_update": RELEVE,
    "collecte.producer_delete": RELEVE,
    "collecte.questionnaire": RELEVE,
    "collecte.submit": RELEVE,
    "collecte.recipe_book": frozenset({HOUSEHOLD}),
    "collecte.directory": frozenset({HOUSEHOLD}),
    # Issue 13: staff read the book and the directory of a group in their reach (`?groupe=`).
    "collecte.group_recipe_book": STAFF,
    "collecte.group_directory": STAFF,
    "groups.index": frozenset({FACILITATOR}),
    "groups.show": frozenset({FACILITATOR}),
    "groups.invite": frozenset({FACILITATOR}),
    "groups.reset": frozenset({FACILITATOR}),
    "groups.pending": frozenset({FACILITATOR}),
    "groups.progress": frozenset({FACILITATOR, PILOT}),  # the pilot: any group of the défi
    "groups.household": frozenset({FACILITATOR}),
    "groups.status": frozenset({FACILITATOR}),
    # Issue 13, the facilitator's group on a phone: a foyer's relevé read only (an accompanied
    # one under its label), and the progress as slides for the workshop.
    "groups.releve": frozenset({FACILITATOR}),
    "groups.releve_label": frozenset({FACILITATOR}),
    "groups.projection": frozenset({FACILITATOR}),
    "calendar.index": frozenset({HOUSEHOLD, FACILITATOR}),
    "calendar.group": STAFF,  # read-only but for the group's facilitators
    "calendar.create": frozenset({FACILITATOR}),
    "calendar.update": frozenset({FACILITATOR}),
    "calendar.cancel": frozenset({FACILITATOR}),
    "calendar.attendance": frozenset({FACILITATOR}),
    "calendar.mark": frozenset({FACILITATOR}),
    "calendar.summary": frozenset({FACILITATOR}),
    "calendar.sheet": frozenset({FACILITATOR}),  # the printed attendance sheet, with names
    "calendar.feed": frozenset({HOUSEHOLD, FACILITATOR}),
    "calendar.feed_revoke": frozenset({HOUSEHOLD, FACILITATOR}),
    # The iCal feed: a calendar app has no session; the secret token in its URL is the key.
    "calendar.ics": EVERYONE,
    "referents.index": frozenset({REFERENT}),
    "referents.invite": frozenset({REFERENT}),
    "referents.reset": frozenset({REFERENT}),
    "referents.revoke": frozenset({REFERENT}),
    "referents.cancel_invitation": frozenset({REFERENT}),
    # Issue 13 — the referent's follow-up: a paper relevé to print for one of its foyers.
    "referents.paper": frozenset({REFERENT}),
    "pilot.index": frozenset({PILOT}),
    "pilot.invite_staff": frozenset({PILOT}),
    "pilot.reset": frozenset({PILOT}),
    "pilot.staff_status": frozenset({PILOT}),
    "pilot.audit": frozenset({PILOT}),
    "pilot.comparison": frozenset({PILOT}),
    "pilot.export_csv": frozenset({PILOT}),
    "pilot.export_microdata": frozenset({PILOT}),
    "pilot.export_xlsx": frozenset({PILOT}),
    "pilot.import_entries": frozenset({PILOT}),
    # Issue 13 — an import a pilot can trust: its template, and the confirmation of a preview.
    "pilot.import_template": frozenset({PILOT}),
    "pilot.confirm_import": frozenset({PILOT}),
    "pilot.report": frozenset({PILOT}),
    "pilot.settings": frozenset({PILOT}),
    "pilot.challenge_create": frozenset({PILOT}),
    "pilot.challenge_choose": frozenset({PILOT}),
    "pilot.wave_update": frozenset({PILOT}),
    "pilot.group_create": frozenset({PILOT}),
    "pilot.question_edit": frozenset({PILOT}),
    "pilot.question_delete": frozenset({PILOT}),
    "pilot.next_challenge": frozenset({PILOT}),
    # Issue 13, invitations: a staff member's own contact, printed on its invitations.
    "accounts.details": frozenset({FACILITATOR, REFERENT, PILOT, COORDINATOR}),
    # Issue 15 — the network's coordinator.
    "network.index": frozenset({COORDINATOR}),
    "network.territory_create": frozenset({COORDINATOR}),
    "network.comparison": frozenset({COORDINATOR}),
    "network.challenge": frozenset({COORDINATOR}),
    "network.export_csv": frozenset({COORDINATOR}),
    "network.export_xlsx": frozenset({COORDINATOR}),
}


def roles_of(user) -> frozenset[str]:
    if not user.is_authenticated:
        return frozenset({ANONYMOUS})
    return user.roles


def rerender_on_csrf_error(view):
    """Mark a view whose form shows itself again, typed values kept, when CSRF fails."""
    view.rerender_on_csrf_error = True
    return view


def check_access():
    """Refuse a request whose endpoint does not admit any role of the current user.

    This runs before anything of the view, the CSRF check included: a request that the policy
    (or the staff timeout, checked just before) refuses never reaches a view or its form.
    """
    endpoint = request.endpoint
    if endpoint is None:
        return None  # no route matched: Flask answers 404 itself
    allowed = POLICY.get(endpoint)
    if allowed is None:
        current_app.logger.error("endpoint %s is missing from the access policy", endpoint)
        abort(404)
    if allowed & roles_of(current_user):
        check_csrf()
        return None
    if not current_user.is_authenticated:
        # Only a page can be gone back to after logging in; a form's address answers 405.
        target = request.full_path.rstrip("?") if request.method in ("GET", "HEAD") else None
        return redirect(url_for("accounts.login", next=target))
    abort(403)


def check_csrf():
    """Refuse an unsafe request without a valid CSRF token, once the policy has admitted it.

    A view marked `rerender_on_csrf_error` still runs: its own form fails the same check, so it
    saves nothing and shows itself again with what was typed and a French message
    (`_forms.html`); `database.refuse_writes` makes sure that nothing is written meanwhile.
    Any other view is not run at all (`errors.handle_csrf_error`: 400).
    """
    if not current_app.config["WTF_CSRF_ENABLED"]:
        return
    try:
        csrf.protect(apply_exemptions=True)
    except CSRFError:
        view = current_app.view_functions.get(request.endpoint)
        if not getattr(view, "rerender_on_csrf_error", False):
            raise
        g.csrf_failed = True


def home_url(user) -> str:
    """Where a user lands after login: the foyer on its collecte, staff on their own page."""
    roles = user.roles
    if COORDINATOR in roles:
        return url_for("network.index")
    if PILOT in roles:
        return url_for("pilot.index")
    if FACILITATOR in roles:
        return url_for("groups.index")
    if REFERENT in roles:
        return url_for("referents.index")
    if HOUSEHOLD in roles:
        return url_for("collecte.index")
    return url_for("accounts.password")


def init_app(app):
    app.before_request(check_access)
