"""The pilot's home: the current défi at a glance, and staff invitations."""

from flask import abort
from flask import current_app
from flask import flash
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from defi.accounts.services import issue_invitation
from defi.accounts.views import invitation_page
from defi.accounts.views import rerender_on_csrf_error
from defi.extensions import db
from defi.groups.forms import ConfirmForm
from defi.groups.progress import progress as group_progress
from defi.groups.progress import question_choices
from defi.groups.progress import retention
from defi.indicators import indicator_labels
from defi.models import Group
from defi.models.challenge import current_challenge
from defi.pilot import bp
from defi.pilot.exports import comparison_tables
from defi.pilot.exports import to_csv
from defi.pilot.exports import to_xlsx
from defi.pilot.forms import ImportForm
from defi.pilot.forms import StaffInvitationForm
from defi.pilot.imports import ImportRejected
from defi.pilot.imports import import_entries as run_import
from defi.pilot.services import event_attendance
from defi.pilot.services import get_or_create_structure
from defi.pilot.services import get_staff_or_404
from defi.pilot.services import group_overview
from defi.pilot.services import groups_of
from defi.pilot.services import staff

MAX_IMPORT_BYTES = 20 * 1024 * 1024


def _staff_form(challenge):
    form = StaffInvitationForm()
    form.group_id.choices = [SelectChoice(group.id, group.name) for group in groups_of(challenge)]
    return form


def _render_index(challenge, form):
    return render_template(
        "pilot/index.html",
        challenge=challenge,
        overview=group_overview(challenge) if challenge else [],
        staff=staff(),
        form=form,
        confirm=ConfirmForm(),
    )


@bp.route("/")
def index():
    """The current défi: waves, groups with their retention, staff."""
    challenge = current_challenge()
    return _render_index(challenge, _staff_form(challenge))


@bp.route("/equipe/inviter", methods=["POST"])
@rerender_on_csrf_error
def invite_staff():
    """Invite a facilitator or a referent and print the invitation."""
    challenge = current_challenge()
    form = _staff_form(challenge)
    if form.role.data != "facilitator":
        form.group_id.validate_choice = False
    if form.validate_on_submit():
        if form.role.data == "facilitator":
            group = db.session.get(Group, form.group_id.data)
            invitation, code = issue_invitation("facilitator", current_user, group=group)
            recipient = group.name
        else:
            structure = get_or_create_structure(form.structure_name.data)
            invitation, code = issue_invitation("referent", current_user, structure=structure)
            recipient = structure.name
        db.session.commit()
        return invitation_page(invitation, code, recipient, url_for("pilot.index"))
    return _render_index(challenge, form)


@bp.route("/equipe/<int:user_id>/code", methods=["POST"])
def reset(user_id):
    """Print a new password code for a facilitator or a referent."""
    user = get_staff_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("pilot.index"), 303)
    role = "facilitator" if "facilitator" in user.roles else "referent"
    invitation, code = issue_invitation(role, current_user, user=user)
    db.session.commit()
    return invitation_page(invitation, code, user.username, url_for("pilot.index"))


def _tables(challenge):
    return comparison_tables(challenge, current_app.config["DEFI_MIN_COUNT"])


@bp.route("/comparaison")
def comparison():
    """Start / mid / end of every indicator, for all groups together or one group."""
    challenge = current_challenge() or abort(404)
    groups = list(challenge.groups)
    chosen = request.args.get("groupe", type=int)
    scope = [group for group in groups if group.id == chosen] or groups
    k = current_app.config["DEFI_MIN_COUNT"]
    group_ids = [group.id for group in scope]
    return render_template(
        "pilot/comparison.html",
        challenge=challenge,
        groups=groups,
        chosen=chosen if len(scope) == 1 else None,
        scope_name=scope[0].name if len(scope) == 1 else _("Tous les groupes"),
        table=group_progress(group_ids, challenge, k),
        retention=retention(group_ids, challenge),
        questions=question_choices(challenge.id),
        labels=indicator_labels(),
        waves=challenge.waves,
        k=k,
    )


@bp.route("/export/<any(comparaison, retention, donnees, questionnaire):table>.csv")
def export_csv(table):
    """One table of the comparison as CSV (UTF-8 with BOM, ';', decimal comma)."""
    challenge = current_challenge() or abort(404)
    wanted = next(t for t in _tables(challenge) if t.name == table)
    return _download(to_csv(wanted), "text/csv; charset=utf-8", f"{table}.csv")


@bp.route("/export/comparaison.xlsx")
def export_xlsx():
    """The four tables of the comparison in one spreadsheet, one sheet each."""
    challenge = current_challenge() or abort(404)
    mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _download(to_xlsx(_tables(challenge)), mimetype, "comparaison.xlsx")


def _download(data, mimetype, filename):
    response = make_response(data)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/import", methods=["GET", "POST"])
@rerender_on_csrf_error
def import_entries():
    """Import past relevés from a CSV file: all of it, or nothing and the line at fault."""
    form = ImportForm()
    result = None
    if form.validate_on_submit():
        data = form.file.data.read(MAX_IMPORT_BYTES + 1)
        try:
            if len(data) > MAX_IMPORT_BYTES:
                raise ImportRejected(_("Le fichier dépasse 20 Mo."))
            result = run_import(data, form.challenge_name.data or None)
        except ImportRejected as rejected:
            db.session.rollback()
            form.file.errors.append(rejected.message)
        else:
            db.session.commit()
            flash(
                _(
                    "Import terminé : %(created)d relevé(s) créé(s), %(updated)d mis à jour, "
                    "%(unchanged)d inchangé(s).",
                    **result,
                ),
                "success",
            )
            return redirect(url_for("pilot.import_entries"), 303)
    return render_template("pilot/import.html", form=form)


@bp.route("/rapport")
def report():
    """The défi's results on A4 pages, for the partners: print it to PDF as it is."""
    challenge = current_challenge() or abort(404)
    k = current_app.config["DEFI_MIN_COUNT"]
    groups = list(challenge.groups)
    scopes = [(_("Tous les groupes"), [g.id for g in groups])] + [(g.name, [g.id]) for g in groups]
    return render_template(
        "pilot/report.html",
        challenge=challenge,
        scopes=[
            (name, group_progress(ids, challenge, k), retention(ids, challenge))
            for name, ids in scopes
        ],
        questions=question_choices(challenge.id),
        labels=indicator_labels(),
        waves=challenge.waves,
        events=event_attendance(challenge),
        k=k,
    )
