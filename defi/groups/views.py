"""The facilitator's pages: its group's roster and the invitations of its foyers."""

from flask import redirect
from flask import render_template
from flask import url_for
from flask_login import current_user

from defi.accounts.services import issue_invitation
from defi.accounts.views import invitation_page
from defi.accounts.views import rerender_on_csrf_error
from defi.extensions import db
from defi.groups import bp
from defi.groups.forms import ConfirmForm
from defi.groups.forms import HouseholdForm
from defi.groups.services import account_of
from defi.groups.services import get_group_or_404
from defi.groups.services import get_named_household_or_404
from defi.groups.services import roster
from defi.households import create_household


@bp.route("/")
def index():
    """Open the facilitator's group (the first one when it leads several)."""
    group_ids = current_user.facilitated_group_ids()
    return redirect(url_for("groups.show", group_id=max(group_ids)))


@bp.route("/<int:group_id>")
def show(group_id):
    """The group's roster: named foyers, and accompanied ones under their random label."""
    group = get_group_or_404(group_id)
    named, usernames, labels = roster(group)
    return render_template(
        "groups/show.html",
        group=group,
        households=named,
        usernames=usernames,
        labels=labels,
        form=HouseholdForm(),
        confirm=ConfirmForm(),
    )


@bp.route("/<int:group_id>/inviter", methods=["GET", "POST"])
@rerender_on_csrf_error
def invite(group_id):
    """Enrol a foyer in the group and print its invitation."""
    group = get_group_or_404(group_id)
    form = HouseholdForm()
    if form.validate_on_submit():
        household = create_household(group, **form.household_fields())
        invitation, code = issue_invitation("household", current_user, household=household)
        db.session.commit()
        return invitation_page(
            invitation, code, household.display_name, url_for("groups.show", group_id=group.id)
        )
    return render_template("groups/invite.html", group=group, form=form)


@bp.route("/<int:group_id>/foyers/<int:household_id>/code", methods=["POST"])
def reset(group_id, household_id):
    """Print a new code for a foyer: a first account, or a new password (the old code dies)."""
    group = get_group_or_404(group_id)
    household = get_named_household_or_404(group, household_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("groups.show", group_id=group.id), 303)
    account = account_of(household)
    invitation, code = issue_invitation(
        "household", current_user, household=household, user=account
    )
    db.session.commit()
    recipient = household.display_name if account is None else account.username
    return invitation_page(invitation, code, recipient, url_for("groups.show", group_id=group.id))
