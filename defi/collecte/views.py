"""The foyer's relevé, section by section, autosaved as it is typed.

Every page works as a plain form (a button saves it). With htmx, a form also saves itself
(`input` debounced, `change`) and the server sends back the page's section, whose inputs are
kept as they are (`hx-preserve`), so typing is never overwritten. A referent reaches the same
views under `/collecte/foyer/<household_id>/...` to fill a relevé with or for a foyer.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask_babel import gettext as _

from defi.access import rerender_on_csrf_error
from defi.collecte import bp
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
from defi.extensions import db
from defi.figures import publication
from defi.figures.indicators import foyer_values
from defi.figures.indicators import waste_kg_per_person_year
from defi.figures.sums import sums_for
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
        abort(403)
    return releve.entry


def csrf_failed(form) -> bool:
    """The form came without a valid CSRF token: nothing of it may be saved."""
    return "csrf_token" in form.errors


def saved_at():
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.now(zone).strftime("%H:%M")


def done(releve: Releve, endpoint, message, **values):
    """After a plain form post: back to the page with a flash (303)."""
    flash(message, "success")
    return redirect(releve.url(endpoint, **values), 303)


# The foyer's home


@bp.route("/", defaults={"household_id": None})
@bp.route("/foyer/<int:household_id>/")
def index(household_id):
    """The foyer's home: the open wave and what is left, past waves, its progress."""
    household = services.get_household_or_404(household_id)
    waves = services.waves_of(household)
    table = publication(waves[0].challenge).tables[household.group_id] if waves else {}
    keys, figures, own_sums = services.own_and_group_figures(household, waves, table)
    return render(
        "collecte/index.html",
        household=household,
        challenge=waves[0].challenge if waves else None,
        household_id=household_id,
        waves=wave_items(household, waves, own_sums),
        keys=keys,
        figures=figures,
        summary=progress_summary(keys, figures),
    )


def wave_items(household, waves, own_sums):
    """Each wave of the foyer's home: its relevé, open or not, what is left, each section."""
    entries = services.entries_by_wave(household)
    questions = services.questions_for(waves[-1]) if waves else []
    items = []
    for wave in waves:
        entry, sums = entries.get(wave.id), own_sums.get(wave.id)
        asked = [question for question in questions if question.from_rank <= wave.rank]
        items.append(
            {
                "wave": wave,
                "entry": entry,
                "open": services.is_writable(household, wave, today()),
                "missing": services.missing_parts(entry, sums, asked),
                "sections": section_progress(entry, sums),
                "question_count": len(asked),
            }
        )
    return items


def section_progress(entry, sums):
    """How far each section of a relevé is, for the home page."""
    if entry is None or sums is None:
        return {"meals": 0, "weighings": 0, "recipes": 0, "producers": 0, "questions": 0}
    return {
        "meals": 1 if sums.spend_total_cents or entry.cost_mode == "direct" else 0,
        "weighings": 1 if sums.waste_grams else 0,
        "recipes": sums.recipes,
        "producers": sums.producers,
        "questions": len({choice.split(":", 1)[0] for choice in sums.choices}),
    }


def progress_summary(keys, figures):
    """Sentences such as "Vous avez réduit votre gaspillage de 38 %" (first to last wave)."""
    own = [(wave, values) for wave, values, _group in figures if any(
        value is not None for value in values.values())]  # fmt: skip
    if len(own) < 2:
        return []
    first, last = own[0][1], own[-1][1]
    sentences = []
    waste_before, waste_after = first["gaspillage_kg_pers_an"], last["gaspillage_kg_pers_an"]
    if waste_before and waste_after is not None:
        change = round((waste_after - waste_before) / waste_before * 100)
        if change < 0:
            sentences.append(_("Vous avez réduit votre gaspillage de %(n)d %%.", n=-change))
        elif change > 0:
            sentences.append(_("Votre gaspillage a augmenté de %(n)d %%.", n=change))
    local_before, local_after = first["part_locale"], last["part_locale"]
    if local_before is not None and local_after is not None and local_after > local_before:
        points = round((local_after - local_before) * 100)
        if points:
            sentences.append(
                _("Vous achetez plus local : %(n)d points de plus qu'au début.", n=points)
            )
    return sentences


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
    return sums_for(sa.select(Entry.id).where(Entry.id == entry.id)).get(entry.id)


def render_meals(
    releve, meals_form=None, purchase_form=None, status=200, conflicts=None, saved=None
):
    entry = releve.entry
    sums = one_sums(entry)
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
    services.add_purchase(writable_entry(releve), form)
    db.session.commit()
    if is_htmx():
        return render_meals(releve, saved=saved_at())
    return done(releve, "collecte.meals", _("Achat ajouté."))


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
    services.delete_row(releve.entry, purchase, "achat")
    db.session.commit()
    if is_htmx():
        return render_meals(releve, saved=saved_at())
    return done(releve, "collecte.meals", _("Achat supprimé."))


# Pesées


def render_weighings(releve, form=None, status=200, saved=None):
    entry = releve.entry
    sums = one_sums(entry)
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
    entry = writable_entry(releve)
    if not form.within_day_limit(services.grams_on_day(entry, form.weighed_on.data)):
        return render_weighings(releve, form=form)
    services.add_weighing(entry, form)
    db.session.commit()
    if is_htmx():
        return render_weighings(releve, saved=saved_at())
    return done(releve, "collecte.weighings", _("Pesée ajoutée."))


@releve_route("/<int:rank>/pesees/<int:weighing_id>/supprimer", methods=["POST"])
def weighing_delete(household_id, rank, weighing_id):
    """Remove a weighing."""
    releve = load(household_id, rank)
    weighing = get_row_or_404(releve, Weighing, weighing_id)
    if not ConfirmForm().validate_on_submit() or not releve.editable:
        abort(400 if releve.editable else 403)
    services.delete_row(releve.entry, weighing, "pesée")
    db.session.commit()
    if is_htmx():
        return render_weighings(releve, saved=saved_at())
    return done(releve, "collecte.weighings", _("Pesée supprimée."))


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
def recipes(household_id, rank):
    """The foyer's recipes of this wave; the button starts a new one."""
    return text_rows(household_id, rank, "recipe")


@releve_route("/<int:rank>/producteurs", methods=["GET", "POST"])
def producers(household_id, rank):
    """The producers the foyer collected in this wave; the button starts a new one."""
    return text_rows(household_id, rank, "producer")


def text_rows(household_id, rank, kind):
    releve = load(household_id, rank)
    model, _form, _fields, _label = TEXT_ROWS[kind]
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        defaults = {"purpose": "restes", "title": ""} if kind == "recipe" else {
            "kind": "ferme", "name": "", "dedup_key": "|"}  # fmt: skip
        row = services.create_blank(writable_entry(releve), model, **defaults)
        db.session.commit()
        return redirect(releve.url(f"collecte.{kind}_update", row_id=row.id), 303)
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
    services.delete_row(releve.entry, row, label)
    db.session.commit()
    return done(releve, f"collecte.{kind}s", _("Supprimé."))


# Questionnaire


@releve_route("/<int:rank>/questionnaire", methods=["GET", "POST"])
@rerender_on_csrf_error
def questionnaire(household_id, rank):
    """The défi's questions for this wave; each tick is saved at once."""
    releve = load(household_id, rank)
    questions = services.questions_for(releve.wave)
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
    questions = services.questions_for(releve.wave)
    form = SubmitForm()
    if request.method == "POST" and form.validate_on_submit():
        if not releve.editable or releve.entry is None:
            abort(403 if releve.entry is not None else 400)
        sums = one_sums(releve.entry)
        if not services.missing_parts(releve.entry, sums, questions):
            services.submit_entry(releve.entry, form.submission_id.data)
            db.session.commit()
            return done(releve, "collecte.submit", _("Votre relevé est envoyé. Merci !"))
    form.submission_id.data = services.new_submission_id()
    entry = releve.entry
    sums = one_sums(entry)
    return render(
        "collecte/submit.html",
        None,
        releve=releve,
        form=form,
        missing=services.missing_parts(entry, sums, questions),
        values=foyer_values(sums) if sums else {},
        changes=entry.changes if entry else [],
    )
