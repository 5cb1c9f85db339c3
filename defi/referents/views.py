"""The referent's foyers, and their invitations."""

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from defi.access import rerender_on_csrf_error
from defi.accounts.forms import NewCodeForm
from defi.accounts.services import issue_invitation
from defi.accounts.views import invitation_page
from defi.accounts.views import new_code_refused
from defi.collecte.forms import PRODUCER_KIND_LABELS
from defi.collecte.forms import MealsForm
from defi.collecte.forms import ProducerForm
from defi.collecte.forms import PurchaseForm
from defi.collecte.forms import RecipeForm
from defi.collecte.forms import WeighingForm
from defi.collecte.services import joined_rank
from defi.collecte.services import questions_for
from defi.extensions import db
from defi.formatting import gettext as _
from defi.forms import ConfirmForm
from defi.groups.services import account_of
from defi.households import accompany
from defi.households import create_household
from defi.households import get_accompanied_household_or_404
from defi.models import Group
from defi.models import Structure
from defi.models.collecte import CATEGORY_LABELS
from defi.models.collecte import PLACE_LABELS
from defi.models.collecte import PURPOSE_LABELS
from defi.paging import FOYERS_PER_PAGE
from defi.paging import paging_of
from defi.paging import place_of
from defi.paging import search_query
from defi.paging import searcher
from defi.referents import bp
from defi.referents.forms import AccompaniedHouseholdForm
from defi.referents.services import cancel_referent_invitation
from defi.referents.services import follow_up
from defi.referents.services import get_pending_invitation_or_404
from defi.referents.services import get_revocable_membership_or_404
from defi.referents.services import is_newer_access
from defi.referents.services import my_structures
from defi.referents.services import open_groups
from defi.referents.services import paper_wave_or_404
from defi.referents.services import pending_referent_invitations
from defi.referents.services import revoke_referent
from defi.referents.services import structure_events
from defi.referents.services import structure_referents
from defi.referents.services import with_choices


@bp.route("/")
def index():
    """The foyers the referent's structures accompany, how each is doing at every wave (the
    ones that need a hand first), and who else has access to them."""
    items = follow_up()
    query = search_query()
    search = searcher(query)
    found = [item for item in items if search(item.household.display_name, item.household.code)]
    paging = paging_of(len(found), FOYERS_PER_PAGE)
    return render_template(
        "referents/index.html",
        items=items,
        shown=paging.of(found),
        query=query,
        paging=paging,
        place=place_of(query, {}),
        per_page=FOYERS_PER_PAGE,
        structures=my_structures(),
        referents=structure_referents(),
        is_newer_access=is_newer_access,
        invitations=pending_referent_invitations(),
        events=structure_events(),
        confirm=ConfirmForm(),
    )


@bp.route("/acces/<int:membership_id>/retirer", methods=["POST"])
def revoke(membership_id):
    """Take back an access to the structure's foyers given after one's own."""
    membership = get_revocable_membership_or_404(membership_id)
    if ConfirmForm().validate_on_submit():
        name = membership.user.username
        revoke_referent(membership, current_user)
        db.session.commit()
        flash(_("%(name)s n'a plus accès à vos foyers.", name=name), "success")
    return redirect(url_for("referents.index"), 303)


@bp.route("/invitations/<int:invitation_id>/annuler", methods=["POST"])
def cancel_invitation(invitation_id):
    """Cancel an invitation that would give a new referent access to the structure's foyers."""
    invitation = get_pending_invitation_or_404(invitation_id)
    if ConfirmForm().validate_on_submit():
        cancel_referent_invitation(invitation, current_user)
        db.session.commit()
        flash(_("L'invitation est annulée : son code ne marche plus."), "success")
    return redirect(url_for("referents.index"), 303)


def _household_form():
    form = AccompaniedHouseholdForm()
    form.group_id.choices = [SelectChoice(group.id, group.name) for group in open_groups()]
    form.structure_id.choices = [
        SelectChoice(structure.id, structure.name) for structure in my_structures()
    ]
    return form


@bp.route("/inviter", methods=["GET", "POST"])
@rerender_on_csrf_error
def invite():
    """Enrol an accompanied foyer in a group and print its invitation."""
    form = _household_form()
    if form.validate_on_submit():
        group = db.session.get(Group, form.group_id.data)
        structure = db.session.get(Structure, form.structure_id.data)
        household = create_household(group, **form.household_fields())
        accompany(household, structure)
        invitation, code = issue_invitation(
            "household", current_user, household=household, days=form.valid_days.data
        )
        db.session.commit()
        return invitation_page(invitation, code, household.display_name, url_for("referents.index"))
    return render_template("referents/invite.html", form=form)


@bp.route("/foyers/<int:household_id>/code", methods=["POST"])
def reset(household_id):
    """Print a new code for an accompanied foyer: a first account or a new password."""
    household = get_accompanied_household_or_404(household_id)
    form = NewCodeForm()
    if not form.validate_on_submit():
        return new_code_refused(form, url_for("referents.index"))
    account = account_of(household)
    invitation, code = issue_invitation(
        "household", current_user, household=household, user=account, days=form.valid_days.data
    )
    db.session.commit()
    recipient = household.display_name if account is None else account.username
    return invitation_page(invitation, code, recipient, url_for("referents.index"))


# How many rows of each kind a paper relevé offers to fill by hand.
PAPER_ROWS = {"purchases": 8, "weighings": 8, "recipes": 2, "producers": 2}


def paper_words() -> dict:
    """What the paper relevé says, taken from the phone's forms: their labels, and the
    choices to tick in their order."""
    forms = {
        "meals": MealsForm(formdata=None),
        "purchase": PurchaseForm(formdata=None),
        "weighing": WeighingForm(formdata=None),
        "recipe": RecipeForm(formdata=None),
        "producer": ProducerForm(formdata=None),
    }
    labels = {
        "places": PLACE_LABELS,
        "categories": CATEGORY_LABELS,
        "purposes": PURPOSE_LABELS,
        "kinds": PRODUCER_KIND_LABELS,
    }
    return {"forms": forms, "labels": labels, "rows": PAPER_ROWS}


@bp.route("/foyers/<int:household_id>/releve-papier")
def paper(household_id):
    """A relevé to print for a foyer that prefers paper, to type in later as an assisted entry:
    the phone's sections with boxes to fill by hand, and the questions of that wave."""
    household = get_accompanied_household_or_404(household_id)
    wave = paper_wave_or_404(household, request.args.get("collecte", type=int))
    entry_url = url_for("collecte.meals", rank=wave.rank, household_id=household.id, _external=True)
    return render_template(
        "referents/paper.html",
        household=household,
        wave=wave,
        questions=with_choices(questions_for(wave, joined_rank(household))),
        entry_url=entry_url,
        **paper_words(),
    )
