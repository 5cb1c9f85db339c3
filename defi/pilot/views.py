"""The pilot's home: the current défi at a glance, and staff invitations."""

from flask import redirect
from flask import render_template
from flask import url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from defi.accounts.services import issue_invitation
from defi.accounts.views import invitation_page
from defi.accounts.views import rerender_on_csrf_error
from defi.extensions import db
from defi.groups.forms import ConfirmForm
from defi.models import Group
from defi.models.challenge import current_challenge
from defi.pilot import bp
from defi.pilot.forms import StaffInvitationForm
from defi.pilot.services import get_or_create_structure
from defi.pilot.services import get_staff_or_404
from defi.pilot.services import group_overview
from defi.pilot.services import groups_of
from defi.pilot.services import staff


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
