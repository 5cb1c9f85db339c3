"""The foyer's relevé, section by section, autosaved as it is typed.

Every page works as a plain form (a button saves it). With htmx, a form also saves itself
(`input` debounced, `change`) and the server sends back the page's section, whose inputs are
kept as they are (`hx-preserve`), so typing is never overwritten. A referent reaches the same
views under `/collecte/foyer/<household_id>/...` to fill a relevé with or for a foyer.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import request
from flask import url_for

from defi.access import rerender_on_csrf_error
from defi.collecte import bp
from defi.collecte import progress
from defi.collecte import services
from defi.collecte.forms import CATEGORY_LABELS
from defi.collecte.forms import PLACE_LABELS
from defi.collecte.forms import PRODUCER_KIND_LABELS
from defi.collecte.forms import PURPOSE_LABELS
from defi.collecte.forms import MealsForm
from defi.collecte.forms import ProducerForm
from defi.collecte.forms import PurchaseForm
from defi.collecte.forms import RecipeForm
from defi.collecte.forms import SubmitForm
from defi.collecte.forms import WeighingForm
from defi.collecte.forms import questionnaire_form
from defi.collecte.services import StaleVersion
from defi.collecte.services import WaveClosed
from defi.errors import Refused
from defi.extensions import db
from defi.figures import publication
from defi.figures.indicators import foyer_values
from defi.figures.indicators import waste_kg_per_person_year
from defi.figures.sums import sums_of_entry
from defi.formatting import gettext as _
from defi.formatting import today
from defi.forms import ConfirmForm
from defi.htmx import is_htmx
from defi.htmx import render
from defi.models import Entry
from defi.models import Household
from defi.models import Producer
from defi.models import Purchase
from defi.models import Recipe
from defi.models import Weighing

LABELS = {
    "places": PLACE_LABELS,
    "categories": CATEGORY_LABELS,
    "purposes": PURPOSE_LABELS,
    "kinds": PRODUCER_KIND_LABELS,
}


@dataclass
class Releve:
    """Whose relevé, for which wave, and whether it can still be changed."""

    household: Household
    wave: object
    entry: Entry | None
    household_id: int | None  # set when a referent fills it (assisted entry)

    @property
    def editable(self):
        return services.is_writable(self.household, self.wave, today())

    def url(self, endpoint, **values):
        return url_for(endpoint, rank=self.wave.rank, household_id=self.household_id, **values)

    @cached_property
    def questions(self):
        """The questions this foyer is asked at this wave."""
        return services.questions_for(self.wave, services.joined_rank(self.household))

    @cached_property
    def sums(self):
        """The relevé's EntrySums, read once per request by the section and its menu (read
        after the request's write, when the page is rendered)."""
        return one_sums(self.entry)

    @property
    def states(self):
        """Each section's state, for the menu of the relevé's pages (read when shown)."""
        return services.section_states(self.entry, self.sums, self.questions)


def releve_route(rule, **options):
    """Register a view for the foyer, and for the referent under `/foyer/<household_id>`."""

    def register(view):
        bp.add_url_rule(rule, view_func=view, defaults={"household_id": None}, **options)
        bp.add_url_rule("/foyer/<int:household_id>" + rule, view_func=view, **options)
        return view

    return register


def load(household_id, rank) -> Releve:
    household = services.get_household_or_404(household_id)
    wave, entry = services.get_wave_and_entry_or_404(household, rank)
    return Releve(household, wave, entry, household_id)


def writable_entry(releve: Releve) -> Entry:
    """The relevé to write into (created on the first write), or 403 once the wave closed."""
    try:
        releve.entry = services.get_or_create_entry(releve.household, releve.wave, today())
    except WaveClosed:
        raise Refused(closed_message(releve)) from None
    return releve.entry


def closed_message(releve: Releve) -> str:
    """Why a relevé can no longer change, in French (the outbox shows it too)."""
    if not releve.household.is_active:
        return _("Ce foyer ne participe plus au défi : ses relevés ne changent plus.")
    return _(
        "La collecte %(rank)d est close : son relevé ne peut plus être modifié.",
        rank=releve.wave.rank,
    )


def csrf_failed(form) -> bool:
    """The form came without a valid CSRF token: nothing of it may be saved."""
    return "csrf_token" in form.errors


# The key of an add sent from the phone's outbox (app.js): random, letters, digits and dashes.
OUTBOX_KEY = re.compile(r"[A-Za-z0-9-]{8,48}")


@bp.after_request
def say_added(response):
    """`Defi-Added: 1` on the answer to an add that is stored (now, or at an earlier send of
    the same outbox key): the phone's outbox then forgets it (app.js)."""
    if g.get("added"):
        response.headers["Defi-Added"] = "1"
    return response


def outbox_key(kind: str) -> str:
    """The add's outbox key, scoped by the kind of row ("achat:…"); "" for a plain form, 400
    for a malformed one."""
    key = request.form.get("outbox_key", "")
    if key and not OUTBOX_KEY.fullmatch(key):
        abort(400)
    return f"{kind}:{key}" if key else ""


def saved_at():
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.now(zone).strftime("%H:%M")


def done(releve: Releve, endpoint, message, **values):
    """After a plain form post: back to the page with a flash (303)."""
    flash(message, "success")
    return redirect(releve.url(endpoint, **values), 303)


# Undo a deletion: the flash carries the deleted row's values and a button that posts them
# back to the add route (`restored=1`), so that nothing is kept of a row once deleted and
# nothing needs a confirmation first. The values travel in the session cookie: a recipe too
# long for it (UNDO_LIMIT) asks for a confirmation before its deletion instead.
UNDO_LIMIT = 3000


def french_number(value, places):
    return "" if value is None else f"{value:.{places}f}".replace(".", ",")


def undo_fields(row) -> dict[str, str]:
    """The deleted row's values as its add form reads them."""
    if isinstance(row, Purchase):
        return {"total": french_number(row.total, 2), "organic": french_number(row.organic, 2),
                "local": french_number(row.local, 2), "place_type": row.place_type,
                "bought_on": row.bought_on.isoformat() if row.bought_on else ""}  # fmt: skip
    if isinstance(row, Weighing):
        return {"kg": french_number(row.kg, 3), "category": row.category,
                "weighed_on": row.weighed_on.isoformat() if row.weighed_on else ""}  # fmt: skip
    names = TEXT_ROWS["recipe" if isinstance(row, Recipe) else "producer"][2]
    return {name: getattr(row, name) or "" for name in names}


def restored_or(message):
    """The message of an add, or of the undo of a deletion (which posts `restored=1`)."""
    return _("Suppression annulée.") if request.form.get("restored") == "1" else message


def fits_undo(fields: dict[str, str]) -> bool:
    return sum(len(value) for value in fields.values()) <= UNDO_LIMIT


def undoable(row) -> bool:
    """Whether the row's values fit in the undo button (the template asks, to confirm first)."""
    return fits_undo(undo_fields(row))


def deleted_with(releve: Releve, fields, endpoint, add_endpoint, message):
    """After a deletion: back to the list, with the message and its "Annuler" button."""
    if fits_undo(fields):
        # Its own outbox key: the undo posted twice (a double tap, a replay) adds one row.
        fields = {**fields, "outbox_key": uuid.uuid4().hex}
        payload = {"text": str(message), "action": releve.url(add_endpoint), "fields": fields}
        flash(payload, "undo")
    else:
        flash(message, "success")
    return redirect(releve.url(endpoint), 303)


# The foyer's home


@bp.route("/", defaults={"household_id": None})
@bp.route("/foyer/<int:household_id>/")
def index(household_id):
    """The foyer's home: the open wave and what is left, its progress, every wave's state."""
    household = services.get_household_or_404(household_id)
    waves = services.waves_of(household)
    table = publication(waves[0].challenge).tables[household.group_id] if waves else {}
    _keys, figures, own_sums = services.own_and_group_figures(household, waves, table)
    joined = services.joined_rank(household)
    before_joining = {wave.rank for wave in waves if wave.rank < joined and wave.id not in own_sums}
    return render(
        "collecte/index.html",
        household=household,
        challenge=waves[0].challenge if waves else None,
        household_id=household_id,
        waves=wave_items(household, waves, own_sums, joined, household_id),
        cards=progress.cards(figures, today(), before_joining, household_id is not None),
    )


def wave_items(household, waves, own_sums, joined, household_id):
    """Each wave of the foyer's home: its relevé, open or not, what is left, each section."""
    entries = services.entries_by_wave(household)
    questions = services.questions_for(waves[-1], joined) if waves else []
    items = []
    for wave in waves:
        entry, sums = entries.get(wave.id), own_sums.get(wave.id)
        offset = joined - 1
        asked = [question for question in questions if question.from_rank + offset <= wave.rank]
        items.append(
            {
                "wave": wave,
                "entry": entry,
                "open": services.is_writable(household, wave, today()),
                "state": wave_state(wave, entry, joined, household_id=household_id),
                "missing": services.missing_parts(entry, sums, asked),
                "sections": services.section_states(entry, sums, asked),
            }
        )
    return items


def wave_state(wave, entry, joined, household_id=None):
    """A wave's state for the foyer (or its referent, `household_id`), in a few words."""
    if entry is not None and entry.status == "submitted":
        return _("envoyé")
    if entry is not None:
        return _("brouillon") if wave.is_open(today()) else _("pas envoyé")
    if wave.opens_on > today():
        return _("à venir")
    if wave.rank < joined:
        if household_id is not None:
            return _("avant son arrivée dans le défi")
        return _("avant votre arrivée dans le défi")
    return _("pas commencé") if wave.is_open(today()) else _("pas de relevé")


# Repas et achats


def meals_form_for(entry):
    return MealsForm(formdata=None) if entry is None else MealsForm(formdata=None, obj=entry)


def proposed_meals_form(entry, household):
    """The relevé's meals as saved, with the persons and repas-convives proposed if empty."""
    form = meals_form_for(entry)
    form.propose(household.persons)
    return form


def one_sums(entry):
    """The EntrySums of one relevé (None before its first write)."""
    if entry is None:
        return None
    return sums_of_entry(entry.id)


def render_meals(
    releve, meals_form=None, purchase_form=None, status=200, conflicts=None, saved=None,
    added=None,
):  # fmt: skip
    entry = releve.entry
    sums = releve.sums
    values = foyer_values(sums) if sums else {}
    helper = None
    if meals_form is not None and all(
        (meals_form.persons.data, meals_form.period_days.data, meals_form.meals_per_day.data)
    ):
        helper = (
            meals_form.persons.data * meals_form.period_days.data * meals_form.meals_per_day.data
        )
    html = render(
        "collecte/meals.html",
        "section",
        releve=releve,
        form=meals_form or proposed_meals_form(entry, releve.household),
        purchase_form=purchase_form or PurchaseForm(formdata=None, bought_on=today()),
        purchases=entry.purchases if entry else [],
        values=values,
        sums=sums,
        helper=helper,
        conflicts=conflicts or {},
        saved=saved,
        added=added,
        labels=LABELS,
        confirm=ConfirmForm(),
    )
    return html, status


@releve_route("/<int:rank>/repas", methods=["GET", "POST"])
@rerender_on_csrf_error
def meals(household_id, rank):
    """Repas et achats: the period, the repas-convives, the cost; the purchases below."""
    releve = load(household_id, rank)
    if request.method in ("GET", "HEAD"):
        return render_meals(releve)
    form = MealsForm()
    if not form.validate_on_submit() and csrf_failed(form):
        return render_meals(releve, meals_form=form)
    entry = writable_entry(releve)
    try:
        services.update_entry_fields(entry, form.valid_values(), form.version.data)
    except StaleVersion:
        db.session.rollback()
        releve.entry = services.find_entry(releve.household, releve.wave)
        conflicts = conflicting_values(releve.entry, form)
        form.version.data = str(releve.entry.version)
        return render_meals(releve, meals_form=form, status=409, conflicts=conflicts)
    db.session.commit()
    form.show_saved(entry)
    if is_htmx() or form.errors:
        return render_meals(releve, meals_form=form, saved=saved_at())
    return done(releve, "collecte.meals", _("Enregistré."))


def conflicting_values(entry, form):
    """{field: (saved value, typed value)} where the saved relevé differs from the form."""
    saved = meals_form_for(entry)
    conflicts = {}
    for name in ("persons", "period_days", "meals_per_day", "meal_covers", "direct_cost"):
        mine, theirs = getattr(form, name), getattr(saved, name)
        if str(mine.data or "") != str(theirs.data or ""):
            conflicts[name] = (theirs._value(), mine._value())
    return conflicts


@releve_route("/<int:rank>/achats", methods=["POST"])
@rerender_on_csrf_error
def purchase_add(household_id, rank):
    """Add a receipt in a few seconds; the running figures update."""
    releve = load(household_id, rank)
    form = PurchaseForm()
    if not form.validate_on_submit():
        return render_meals(releve, purchase_form=form)
    entry, purchase = writable_entry(releve), None
    if services.first_add(entry, outbox_key("achat")):
        purchase = services.add_purchase(entry, form)
    db.session.commit()
    g.added = True
    if is_htmx():
        return render_meals(releve, saved=saved_at(), added=purchase)
    return done(releve, "collecte.meals", restored_or(_("Achat ajouté.")))


def get_row_or_404(releve: Releve, model, row_id):
    """A row of this relevé; any other row (another foyer's) does not exist."""
    if releve.entry is None:
        abort(404)
    row = db.session.scalar(
        sa.select(model).where(model.id == row_id, model.entry_id == releve.entry.id)
    )
    if row is None:
        abort(404)
    return row


@releve_route("/<int:rank>/achats/<int:purchase_id>", methods=["GET", "POST"])
@rerender_on_csrf_error
def purchase_update(household_id, rank, purchase_id):
    """Correct a receipt; saved as it is typed."""
    releve = load(household_id, rank)
    if request.method == "POST" and releve.entry is not None:
        writable_entry(releve)  # lock the relevé before reading the row to change
    purchase = get_row_or_404(releve, Purchase, purchase_id)
    if request.method in ("GET", "HEAD"):
        return render_purchase(releve, purchase, PurchaseForm(formdata=None, obj=purchase))
    form = PurchaseForm()
    if not form.validate_on_submit():
        return render_purchase(releve, purchase, form)
    if not releve.editable:
        abort(403)
    try:
        services.update_purchase(purchase, form)
    except StaleVersion:
        db.session.rollback()
        purchase = get_row_or_404(releve, Purchase, purchase_id)
        form.version.data = str(purchase.version)
        return render_purchase(releve, purchase, form, services.describe_purchase(purchase))
    db.session.commit()
    if not is_htmx():
        return done(releve, "collecte.meals", _("Achat modifié."))
    form.version.data = str(purchase.version)
    return render_purchase(releve, purchase, form, saved=saved_at())


def render_purchase(releve, purchase, form, conflict=False, saved=None):
    """The receipt's form; 409 with the stored values when `conflict` describes them."""
    html = render(
        "collecte/purchase.html",
        "section",
        releve=releve,
        purchase=purchase,
        form=form,
        conflict=conflict,
        saved=saved,
        labels=LABELS,
    )
    return html, 409 if conflict else 200


@releve_route("/<int:rank>/achats/<int:purchase_id>/supprimer", methods=["POST"])
def purchase_delete(household_id, rank, purchase_id):
    """Remove a receipt from the list."""
    releve = load(household_id, rank)
    purchase = get_row_or_404(releve, Purchase, purchase_id)
    if not ConfirmForm().validate_on_submit() or not releve.editable:
        abort(400 if releve.editable else 403)
    fields = undo_fields(purchase)
    services.delete_row(releve.entry, purchase, "achat")
    db.session.commit()
    return deleted_with(releve, fields, "collecte.meals", "collecte.purchase_add",
                        _("Achat supprimé."))  # fmt: skip


# Pesées


def render_weighings(releve, form=None, status=200, saved=None, added=None):
    entry = releve.entry
    sums = releve.sums
    totals = {
        category: ((sums.waste_by_category or {}).get(category, 0) if sums else 0)
        for category in CATEGORY_LABELS
    }
    per_year = {
        category: waste_kg_per_person_year(sums, category) if sums else None
        for category in CATEGORY_LABELS
    }
    html = render(
        "collecte/weighings.html",
        "section",
        releve=releve,
        form=form or WeighingForm(formdata=None, weighed_on=today()),
        weighings=entry.weighings if entry else [],
        totals=totals,
        per_year=per_year,
        total_per_year=waste_kg_per_person_year(sums) if sums else None,
        saved=saved,
        added=added,
        labels=LABELS,
        confirm=ConfirmForm(),
    )
    return html, status


@releve_route("/<int:rank>/pesees", methods=["GET", "POST"])
@rerender_on_csrf_error
def weighings(household_id, rank):
    """Pesées: add a weighing; totals per category and per person and year below."""
    releve = load(household_id, rank)
    if request.method in ("GET", "HEAD"):
        return render_weighings(releve)
    form = WeighingForm()
    if not form.validate_on_submit():
        return render_weighings(releve, form=form)
    entry, weighing = writable_entry(releve), None
    if services.first_add(entry, outbox_key("pesee")):
        if not form.within_day_limit(services.grams_on_day(entry, form.weighed_on.data)):
            db.session.rollback()
            releve.entry = services.find_entry(releve.household, releve.wave)
            return render_weighings(releve, form=form)
        weighing = services.add_weighing(entry, form)
    db.session.commit()
    g.added = True
    if is_htmx():
        return render_weighings(releve, saved=saved_at(), added=weighing)
    return done(releve, "collecte.weighings", restored_or(_("Pesée ajoutée.")))


@releve_route("/<int:rank>/pesees/<int:weighing_id>/supprimer", methods=["POST"])
def weighing_delete(household_id, rank, weighing_id):
    """Remove a weighing."""
    releve = load(household_id, rank)
    weighing = get_row_or_404(releve, Weighing, weighing_id)
    if not ConfirmForm().validate_on_submit() or not releve.editable:
        abort(400 if releve.editable else 403)
    fields = undo_fields(weighing)
    services.delete_row(releve.entry, weighing, "pesée")
    db.session.commit()
    return deleted_with(releve, fields, "collecte.weighings", "collecte.weighings",
                        _("Pesée supprimée."))  # fmt: skip


# Recettes et producteurs: a list, a button that starts one, a page that saves as it is typed


TEXT_ROWS = {
    "recipe": (Recipe, RecipeForm, ("title", "purpose", "ingredients", "steps"), "recette"),
    "producer": (
        Producer,
        ProducerForm,
        ("name", "products", "kind", "commune", "address", "contact"),
        "producteur",
    ),
}


@releve_route("/<int:rank>/recettes", methods=["GET", "POST"])
@rerender_on_csrf_error
def recipes(household_id, rank):
    """The foyer's recipes of this wave; a post adds one (from the new recipe's page)."""
    return text_rows(household_id, rank, "recipe")


@releve_route("/<int:rank>/producteurs", methods=["GET", "POST"])
@rerender_on_csrf_error
def producers(household_id, rank):
    """The producers the foyer noted in this wave; a post adds one."""
    return text_rows(household_id, rank, "producer")


@releve_route("/<int:rank>/recettes/nouvelle")
def recipe_new(household_id, rank):
    """An empty recipe to write: nothing exists until it is saved with a title."""
    return text_row_new(household_id, rank, "recipe")


@releve_route("/<int:rank>/producteurs/nouveau")
def producer_new(household_id, rank):
    """An empty producer to note: nothing exists until it is saved with a name."""
    return text_row_new(household_id, rank, "producer")


def text_row_new(household_id, rank, kind, form=None):
    releve = load(household_id, rank)
    if not releve.editable:
        abort(403)
    form_class = TEXT_ROWS[kind][1]
    return render(
        f"collecte/{kind}.html",
        None,
        releve=releve,
        row=None,
        form=form or form_class(formdata=None),
        conflict=None,
        saved=None,
        labels=LABELS,
    )


def text_rows(household_id, rank, kind):
    releve = load(household_id, rank)
    model, form_class, fields, label = TEXT_ROWS[kind]
    if request.method == "POST":
        form = form_class()
        if not form.validate_on_submit():
            return text_row_new(household_id, rank, kind, form)
        entry = writable_entry(releve)
        if services.first_add(entry, outbox_key(kind)):
            services.add_text_row(entry, model, form, fields, label)
        db.session.commit()
        g.added = True
        if is_htmx():  # sent from the outbox: nothing to show
            return "", 204
        return done(releve, f"collecte.{kind}s", restored_or(_("Enregistré.")))
    rows = []
    if releve.entry is not None:
        rows = releve.entry.recipes if kind == "recipe" else releve.entry.producers
    return render(
        f"collecte/{kind}s.html",
        None,
        releve=releve,
        rows=rows,
        labels=LABELS,
        confirm=ConfirmForm(),
        undoable=undoable,
    )


@releve_route("/<int:rank>/recettes/<int:row_id>", methods=["GET", "POST"])
@rerender_on_csrf_error
def recipe_update(household_id, rank, row_id):
    """Write a recipe; each field is saved as it is typed."""
    return text_row_update(household_id, rank, row_id, "recipe")


@releve_route("/<int:rank>/producteurs/<int:row_id>", methods=["GET", "POST"])
@rerender_on_csrf_error
def producer_update(household_id, rank, row_id):
    """Note a producer's details; each field is saved as it is typed."""
    return text_row_update(household_id, rank, row_id, "producer")


def text_row_update(household_id, rank, row_id, kind):
    model, form_class, fields, label = TEXT_ROWS[kind]
    releve = load(household_id, rank)
    if request.method == "POST" and releve.entry is not None:
        writable_entry(releve)  # lock the relevé before reading the row to change
    row = get_row_or_404(releve, model, row_id)
    status, conflict, saved = 200, None, None
    if request.method in ("GET", "HEAD"):
        form = form_class(formdata=None, obj=row)
        form.version.data = str(row.version)
    else:
        form = form_class()
        form.validate_on_submit()
        if not csrf_failed(form):
            if not releve.editable:
                abort(403)
            valid = tuple(name for name in fields if not getattr(form, name).errors)
            try:
                services.update_text_row(row, form, valid, label)
            except StaleVersion:
                db.session.rollback()
                row = get_row_or_404(releve, model, row_id)
                status = 409
                conflict = {
                    name: (getattr(row, name), getattr(form, name).data)
                    for name in fields
                    if (getattr(row, name) or "") != (getattr(form, name).data or "")
                }
            else:
                db.session.commit()
                saved = saved_at()
                if not is_htmx() and not form.errors:
                    return done(releve, f"collecte.{kind}s", _("Enregistré."))
            form.version.data = str(row.version)
    html = render(
        f"collecte/{kind}.html",
        "section",
        releve=releve,
        row=row,
        form=form,
        conflict=conflict,
        saved=saved,
        labels=LABELS,
    )
    return html, status


@releve_route("/<int:rank>/recettes/<int:row_id>/supprimer", methods=["POST"])
def recipe_delete(household_id, rank, row_id):
    """Remove a recipe."""
    return text_row_delete(household_id, rank, row_id, "recipe")


@releve_route("/<int:rank>/producteurs/<int:row_id>/supprimer", methods=["POST"])
def producer_delete(household_id, rank, row_id):
    """Remove a producer."""
    return text_row_delete(household_id, rank, row_id, "producer")


def text_row_delete(household_id, rank, row_id, kind):
    model, _form, _fields, label = TEXT_ROWS[kind]
    releve = load(household_id, rank)
    row = get_row_or_404(releve, model, row_id)
    if not ConfirmForm().validate_on_submit() or not releve.editable:
        abort(400 if releve.editable else 403)
    fields = undo_fields(row)
    services.delete_row(releve.entry, row, label)
    db.session.commit()
    message = _("Recette supprimée.") if kind == "recipe" else _("Producteur supprimé.")
    return deleted_with(releve, fields, f"collecte.{kind}s", f"collecte.{kind}s", message)


# Questionnaire


@releve_route("/<int:rank>/questionnaire", methods=["GET", "POST"])
@rerender_on_csrf_error
def questionnaire(household_id, rank):
    """The défi's questions for this wave; each tick is saved at once."""
    releve = load(household_id, rank)
    questions = releve.questions
    saved = None
    if request.method in ("GET", "HEAD"):
        form = questionnaire_form(questions, answers=services.answers_of(releve.entry))
    else:
        form = questionnaire_form(questions, formdata=request.form)
        if form.validate_on_submit():
            services.save_answers(writable_entry(releve), questions, form)
            db.session.commit()
            saved = saved_at()
            if not is_htmx():
                return done(releve, "collecte.questionnaire", _("Réponses enregistrées."))
    return render(
        "collecte/questionnaire.html",
        "section",
        releve=releve,
        form=form,
        questions=questions,
        saved=saved,
    )


# Envoi


@releve_route("/<int:rank>/envoi", methods=["GET", "POST"])
@rerender_on_csrf_error
def submit(household_id, rank):
    """Review the relevé, see what is missing, send it; its history below."""
    releve = load(household_id, rank)
    questions = releve.questions
    form = SubmitForm()
    if request.method == "POST" and form.validate_on_submit():
        if not releve.editable or releve.entry is None:
            abort(403 if releve.entry is not None else 400)
        if not services.missing_parts(releve.entry, releve.sums, questions):
            services.submit_entry(releve.entry, form.submission_id.data)
            db.session.commit()
            return done(releve, "collecte.submit", _("Votre relevé est envoyé. Merci !"))
    form.submission_id.data = services.new_submission_id()
    entry = releve.entry
    sums = releve.sums
    return render(
        "collecte/submit.html",
        None,
        releve=releve,
        form=form,
        missing=services.missing_parts(entry, sums, questions),
        values=foyer_values(sums) if sums else {},
        changes=entry.changes if entry else [],
    )
