"""The facilitator's pages: its group's roster, reminders, its foyers' relevés (read only),
its progress, and the invitations of its foyers."""

from flask import current_app
from flask import flash
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from defi.access import rerender_on_csrf_error
from defi.accounts.forms import NewCodeForm
from defi.accounts.services import issue_invitation
from defi.accounts.views import invitation_page
from defi.accounts.views import new_code_refused
from defi.collecte.views import LABELS
from defi.extensions import db
from defi.figures import publication
from defi.figures import rendered
from defi.figures.indicators import indicator_labels
from defi.formatting import gettext as _
from defi.formatting import today
from defi.forms import ConfirmForm
from defi.groups import bp
from defi.groups.forms import HouseholdForm
from defi.groups.forms import HouseholdInvitationForm
from defi.groups.services import account_of
from defi.groups.services import days_left_text
from defi.groups.services import get_group_or_404
from defi.groups.services import get_labelled_household_or_404
from defi.groups.services import get_named_household_or_404
from defi.groups.services import mail_href
from defi.groups.services import mailto_href
from defi.groups.services import open_wave
from defi.groups.services import phone_uri
from defi.groups.services import reactivate
from defi.groups.services import read_releve
from defi.groups.services import reminder_message
from defi.groups.services import roster
from defi.groups.services import roster_page
from defi.groups.services import sms_href
from defi.groups.services import waiting
from defi.groups.services import waiting_count
from defi.groups.services import withdraw
from defi.households import create_household
from defi.paging import FOYERS_PER_PAGE
from defi.paging import asked_place
from defi.paging import place_of
from defi.paging import search_query
from defi.reach import PROGRESS_READERS
from defi.reach import get_group_in_reach_or_404


@bp.route("/")
def index():
    """Open the facilitator's group (the first one when it leads several)."""
    group_ids = current_user.facilitated_group_ids()
    return redirect(url_for("groups.show", group_id=max(group_ids)))


@bp.route("/<int:group_id>")
def show(group_id):
    """The group's roster as cards: named foyers, and accompanied ones under their random label."""
    group = get_group_or_404(group_id)
    wave = open_wave(group, today())
    cards = roster_page(group, today(), search_query())
    return render_template(
        "groups/show.html",
        group=group,
        roster=cards,
        place=roster_place(cards),
        per_page=FOYERS_PER_PAGE,
        waves=group.challenge.waves,
        open_wave=wave,
        waiting=waiting_count(group, wave) if wave else 0,
        confirm=ConfirmForm(),
        tel=phone_uri,
        mail=mail_href,
    )


@bp.app_template_global()
def place_without(place, *args):
    """The roster's place less some of its arguments (a new search starts on page 1)."""
    return {arg: value for arg, value in place.items() if arg not in args}


def card_url(group, household):
    """The roster where the facilitator acted on a foyer's card: same search and pages,
    opened at the card."""
    return url_for(
        "groups.show", group_id=group.id, _anchor=f"foyer-{household.id}", **roster_place()
    )


def roster_place(cards=None):
    """The arguments that bring the facilitator back where it was in the roster (its search,
    and the page of each list) after acting on a card: those of the page shown (`cards`), or
    those the card's form carried in its address."""
    if cards is None:
        return asked_place("page", "accompagnes")
    pagings = (cards.named_paging, cards.anonymous_paging)
    return place_of(cards.query, {paging.arg: paging.number for paging in pagings})


@bp.route("/<int:group_id>/relances")
def pending(group_id):
    """Who has not sent the open wave's relevé, with links that remind them by SMS or e-mail."""
    group = get_group_or_404(group_id)
    wave = open_wave(group, today())
    cards = roster(group, today())
    named = waiting(cards.named, wave) if wave else []
    login_url = url_for("accounts.login", _external=True)
    subject, body = reminder_message(group, wave, today(), login_url) if wave else ("", "")
    phones = [card.household.phone for card, _state in named if card.household.phone]
    emails = [card.household.email for card, _state in named if card.household.email]
    # An iPhone needs its own form of sms: link for several numbers (services.sms_href).
    apple = any(device in request.user_agent.string for device in ("iPhone", "iPad", "iPod"))
    response = make_response(
        render_template(
            "groups/pending.html",
            group=group,
            wave=wave,
            named=named,
            anonymous=waiting(cards.anonymous, wave) if wave else [],
            phones=phones,
            emails=emails,
            sms=sms_href(phones, body, apple) if phones else None,
            mailto=mailto_href(emails, subject, body) if emails else None,
            left=days_left_text(wave, today()) if wave else None,
            message=body,
            tel=phone_uri,
            mail=mail_href,
        )
    )
    response.vary.add("User-Agent")
    return response


@bp.route("/<int:group_id>/foyers/<int:household_id>/collecte/<int:rank>")
def releve(group_id, household_id, rank):
    """Read a named foyer's relevé of a wave, every section, without changing it."""
    group = get_group_or_404(group_id)
    household = get_named_household_or_404(group, household_id)
    return render_releve(group, read_releve(household, group, rank, today()), household=household)


@bp.route("/<int:group_id>/accompagnes/<label>/collecte/<int:rank>")
def releve_label(group_id, label, rank):
    """Read an accompanied foyer's relevé under its label: nothing that tells who it is."""
    group = get_group_or_404(group_id)
    household = get_labelled_household_or_404(group, label)
    return render_releve(group, read_releve(household, group, rank, today()), label=label)


def render_releve(group, read, household=None, label=None):
    """The read-only relevé: `household` for a named foyer, only `label` for the others."""
    return render_template(
        "groups/releve.html",
        group=group,
        read=read,
        household=household,
        label=label,
        waves=group.challenge.waves,
        labels=LABELS,
        indicator_names=indicator_labels(),
    )


@bp.route("/<int:group_id>/progres")
def progress(group_id):
    """The group's progress, wave by wave, to follow it and to project it at a workshop; the
    pilot reads every group's of the défi (the same published figures)."""
    group = get_group_in_reach_or_404(group_id, PROGRESS_READERS)
    return render_progress("groups/progress.html", group)


@bp.route("/<int:group_id>/progres/projection")
def projection(group_id):
    """The same published figures as slides in big type, to project at a workshop."""
    return render_progress("groups/projection.html", get_group_or_404(group_id))


# The part of each page that shows the figures alone, rendered once per publication.
FIGURES_OF = {
    "groups/progress.html": "groups/_progress_figures.html",
    "groups/projection.html": "groups/_projection_figures.html",
}


def render_progress(template, group):
    """The group's published figures, as a page or as slides."""
    published = publication(group.challenge)
    context = {
        "group": group,
        "waves": group.challenge.waves,
        "table": published.tables[group.id],
        "questions": published.choices,
        "retention": published.retention[group.id],
        "labels": indicator_labels(),
        "k": current_app.config["DEFI_MIN_COUNT"],
    }
    # The names it shows are in the key: renaming the défi does not change its figures.
    scope = (group.id, group.name, group.challenge.name)
    figures = rendered(published, FIGURES_OF[template], scope, **context)
    return render_template(template, figures=figures, **context)


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
        return redirect(card_url(group, target), 303)
    return render_template(
        "groups/household.html", group=group, household=target, form=form, place=roster_place()
    )


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
    return redirect(card_url(group, target), 303)


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
    back = card_url(group, household)
    if not form.validate_on_submit():
        return new_code_refused(form, back)
    account = account_of(household)
    invitation, code = issue_invitation(
        "household", current_user, household=household, user=account, days=form.valid_days.data
    )
    db.session.commit()
    recipient = household.display_name if account is None else account.username
    return invitation_page(invitation, code, recipient, back)
