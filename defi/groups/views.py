"""The facilitator's pages: its group's roster and the invitations of its foyers."""

from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user

from defi.access import rerender_on_csrf_error
from defi.accounts.forms import NewCodeForm
from defi.accounts.services import issue_invitation
from defi.accounts.views import invitation_page
from defi.accounts.views import new_code_refused
from defi.extensions import db
from defi.figures import publication
from defi.figures.indicators import indicator_labels
from defi.formatting import today
from defi.forms import ConfirmForm
from defi.groups import bp
from defi.groups.forms import HouseholdForm
from defi.groups.forms import HouseholdInvitationForm
from defi.groups.services import account_of
from defi.groups.services import get_group_or_404
from defi.groups.services import get_named_household_or_404
from defi.groups.services import not_filled
from defi.groups.services import open_wave
from defi.groups.services import reactivate
from defi.groups.services import roster
from defi.groups.services import withdraw
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
    wave = open_wave(group, today())
    pending = not_filled(group, wave) if wave else ([], 0)
    return render_template(
        "groups/show.html",
        group=group,
        roster=roster(group),
        waves=group.challenge.waves,
        open_wave=wave,
        pending=pending,
        confirm=ConfirmForm(),
    )


@bp.route("/<int:group_id>/relances")
def pending(group_id):
    """Who has not sent the open wave's relevé: names, a count of the accompanied, contacts."""
    group = get_group_or_404(group_id)
    wave = open_wave(group, today())
    named, accompanied = not_filled(group, wave) if wave else ([], 0)
    contacts = [h.phone or h.email for h in named if h.phone or h.email]
    return render_template(
        "groups/pending.html",
        group=group,
        wave=wave,
        named=named,
        accompanied=accompanied,
        contacts=contacts,
        days_left=(wave.closes_on - today()).days if wave else None,
    )


@bp.route("/<int:group_id>/progres")
def progress(group_id):
    """The group's progress, wave by wave, to follow it and to project it at a workshop."""
    group = get_group_or_404(group_id)
    published = publication(group.challenge)
    return render_template(
        "groups/progress.html",
        group=group,
        waves=group.challenge.waves,
        table=published.tables[group.id],
        questions=published.choices,
        retention=published.retention[group.id],
        labels=indicator_labels(),
        k=current_app.config["DEFI_MIN_COUNT"],
    )


@bp.route("/<int:group_id>/foyers/<int:household_id>", methods=["GET", "POST"])
@rerender_on_csrf_error
def household(group_id, household_id):
    """Correct a foyer's name, persons, commune and contacts."""
    group = get_group_or_404(group_id)
    target = get_named_household_or_404(group, household_id)
    form = HouseholdForm(obj=target)
    if form.validate_on_submit():
        for name, value in form.household_fields().items():
            setattr(target, name, value)
        db.session.commit()
        flash(_("Foyer enregistré."), "success")
        return redirect(url_for("groups.show", group_id=group.id), 303)
    return render_template("groups/household.html", group=group, household=target, form=form)


@bp.route("/<int:group_id>/foyers/<int:household_id>/statut", methods=["POST"])
def status(group_id, household_id):
    """Withdraw a foyer from the défi (dated), or bring it back."""
    group = get_group_or_404(group_id)
    target = get_named_household_or_404(group, household_id)
    if ConfirmForm().validate_on_submit():
        if target.is_active:
            withdraw(target, today())
            flash(_("%(name)s : retrait du défi enregistré.", name=target.display_name), "success")
        else:
            reactivate(target)
            flash(_("%(name)s est de nouveau actif.", name=target.display_name), "success")
        db.session.commit()
    return redirect(url_for("groups.show", group_id=group.id), 303)


@bp.route("/<int:group_id>/inviter", methods=["GET", "POST"])
@rerender_on_csrf_error
def invite(group_id):
    """Enrol a foyer in the group and print its invitation."""
    group = get_group_or_404(group_id)
    form = HouseholdInvitationForm()
    if form.validate_on_submit():
        household = create_household(group, **form.household_fields())
        invitation, code = issue_invitation(
            "household", current_user, household=household, days=form.valid_days.data
        )
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
    form = NewCodeForm()
    if not form.validate_on_submit():
        return new_code_refused(form, url_for("groups.show", group_id=group.id))
    account = account_of(household)
    invitation, code = issue_invitation(
        "household", current_user, household=household, user=account, days=form.valid_days.data
    )
    db.session.commit()
    recipient = household.display_name if account is None else account.username
    return invitation_page(invitation, code, recipient, url_for("groups.show", group_id=group.id))
