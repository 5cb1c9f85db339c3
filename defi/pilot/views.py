"""The pilot's home: the current défi at a glance, and staff invitations."""

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from defi.access import rerender_on_csrf_error
from defi.accounts.forms import NewCodeForm
from defi.accounts.services import deactivate_staff
from defi.accounts.services import issue_invitation
from defi.accounts.services import reactivate_staff
from defi.accounts.views import invitation_page
from defi.accounts.views import new_code_refused
from defi.database import database_id
from defi.extensions import db
from defi.figures import publication
from defi.figures.export import comparison_tables
from defi.figures.export import microdata_table
from defi.figures.export import partner_tables
from defi.figures.files import to_csv
from defi.figures.files import to_xlsx
from defi.formatting import gettext as _
from defi.formatting import ngettext
from defi.formatting import today
from defi.forms import ConfirmForm
from defi.households import get_or_create_structure
from defi.htmx import render
from defi.models import Challenge
from defi.models import Group
from defi.models.challenge import make_current
from defi.pilot import bp
from defi.pilot import setup
from defi.pilot.comparison import choose_indicator
from defi.pilot.comparison import detail_scope
from defi.pilot.comparison import indicator_catalogue
from defi.pilot.comparison import page_tables
from defi.pilot.forms import ChallengeForm
from defi.pilot.forms import CurrentChallengeForm
from defi.pilot.forms import GroupForm
from defi.pilot.forms import ImportConfirmForm
from defi.pilot.forms import ImportForm
from defi.pilot.forms import NextChallengeForm
from defi.pilot.forms import QuestionForm
from defi.pilot.forms import StaffInvitationForm
from defi.pilot.forms import WaveForm
from defi.pilot.imports import HEADER
from defi.pilot.imports import ImportRejected
from defi.pilot.imports import preview_import
from defi.pilot.imports import template_csv
from defi.pilot.imports import write_plan
from defi.pilot.imports.confirmation import seal
from defi.pilot.imports.confirmation import unseal
from defi.pilot.report import printed_report
from defi.pilot.services import audit_events
from defi.pilot.services import event_attendance
from defi.pilot.services import get_staff_or_404
from defi.pilot.services import group_overview
from defi.pilot.services import groups_of
from defi.pilot.services import staff
from defi.pilot.services import staff_membership
from defi.pilot.services import structures
from defi.pilot.services import territory_structure
from defi.security import body_limit
from defi.territories import my_current_challenge
from defi.territories import my_territory_id

MAX_IMPORT_BYTES = 20 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _current_challenge():
    """The territory's current défi with its groups and waves, which the pilot's pages show:
    one query."""
    return db.session.scalar(
        sa.select(Challenge)
        .options(so.joinedload(Challenge.groups), so.joinedload(Challenge.waves))
        .where(Challenge.territory_id == my_territory_id(), Challenge.is_current)
    )


def _staff_form(challenge):
    form = StaffInvitationForm()
    form.group_id.choices = [SelectChoice(group.id, group.name) for group in groups_of(challenge)]
    form.structure_id.choices = [SelectChoice(0, _("— une nouvelle structure —"))] + [
        SelectChoice(structure.id, structure.name) for structure in structures()
    ]
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
    challenge = _current_challenge()
    return _render_index(challenge, _staff_form(challenge))


@bp.route("/equipe/inviter", methods=["POST"])
@rerender_on_csrf_error
def invite_staff():
    """Invite a facilitator or a referent and print the invitation."""
    challenge = my_current_challenge()
    form = _staff_form(challenge)
    if form.role.data != "facilitator":
        form.group_id.validate_choice = False
    if form.validate_on_submit():
        days = form.valid_days.data
        if form.role.data == "facilitator":
            group = db.session.get(Group, form.group_id.data)
            invitation, code = issue_invitation("facilitator", current_user, group=group, days=days)
            recipient = group.name
        else:
            structure = territory_structure(form.structure_id.data) or get_or_create_structure(
                form.structure_name.data, my_territory_id()
            )
            invitation, code = issue_invitation(
                "referent", current_user, structure=structure, days=days
            )
            recipient = structure.name
        db.session.commit()
        return invitation_page(invitation, code, recipient, url_for("pilot.index"))
    return _render_index(challenge, form)


@bp.route("/equipe/<int:user_id>/code", methods=["POST"])
def reset(user_id):
    """Print a new password code for a facilitator or a referent."""
    user = get_staff_or_404(user_id)
    form = NewCodeForm()
    if not form.validate_on_submit():
        return new_code_refused(form, url_for("pilot.index"))
    if not user.active:
        flash(_("Réactivez d'abord le compte %(name)s.", name=user.username), "error")
        return redirect(url_for("pilot.index"), 303)
    membership = staff_membership(user)
    invitation, code = issue_invitation(
        membership.role,
        current_user,
        user=user,
        structure=membership.structure,
        days=form.valid_days.data,
    )
    db.session.commit()
    return invitation_page(invitation, code, user.username, url_for("pilot.index"))


@bp.route("/equipe/<int:user_id>/statut", methods=["POST"])
def staff_status(user_id):
    """Deactivate a facilitator or a referent who leaves (their sessions end), or bring one back."""
    user = get_staff_or_404(user_id)
    if ConfirmForm().validate_on_submit():
        printed = 0
        if user.active:
            printed = deactivate_staff(user, current_user)
        else:
            reactivate_staff(user, current_user)
        db.session.commit()
        if user.active:
            flash(_("Le compte %(name)s est de nouveau actif.", name=user.username))
        else:
            flash(_("Le compte %(name)s est désactivé.", name=user.username))
        if printed:
            flash(
                ngettext(
                    "Le code qu'il ou elle avait imprimé pour un foyer ne marche plus : "
                    "imprimez-en un nouveau si ce foyer n'a pas encore créé son compte.",
                    "Les %(num)d codes qu'il ou elle avait imprimés pour des foyers ne marchent "
                    "plus : imprimez-en de nouveaux pour les foyers qui n'ont pas encore créé "
                    "leur compte.",
                    printed,
                )
            )
    return redirect(url_for("pilot.index"), 303)


@bp.route("/journal")
def audit():
    """Who gave or took away which staff role, and when (never a foyer)."""
    events, older = audit_events(request.args.get("avant", type=database_id))
    return render_template("pilot/audit.html", events=events, older=older)


def _tables(challenge):
    return comparison_tables(challenge, current_app.config["DEFI_MIN_COUNT"])


@bp.route("/comparaison")
def comparison():
    """One indicator, every group and all groups together side by side; or one group's detail."""
    challenge = _current_challenge() or abort(404)
    published = publication(challenge)
    catalogue = indicator_catalogue(published.choices)
    key, message = choose_indicator(request.args.get("indicateur"), catalogue)
    detail = detail_scope(request.args.get("groupe"), challenge.groups)
    return render(
        "pilot/comparison.html",
        "result",
        challenge=challenge,
        catalogue=catalogue,
        key=key,
        message=message,
        **page_tables(challenge, published, catalogue, key, detail),
        k=current_app.config["DEFI_MIN_COUNT"],
    )


@bp.route("/export/<any(comparaison, retention, questionnaire):table>.csv")
def export_csv(table):
    """One table for partners as CSV (UTF-8 with BOM, ';', decimal comma)."""
    challenge = _current_challenge() or abort(404)
    wanted = next(t for t in _tables(challenge) if t.name == table)
    return _download(to_csv(wanted), "text/csv; charset=utf-8", f"{table}.csv")


@bp.route("/export/comparaison.xlsx")
def export_xlsx():
    """The partners' spreadsheet: the synthesis for a report, then the three tables."""
    challenge = _current_challenge() or abort(404)
    tables = partner_tables(challenge, current_app.config["DEFI_MIN_COUNT"])
    return _download(to_xlsx(tables), XLSX, "comparaison.xlsx")


@bp.route("/export/donnees-CONFIDENTIEL.csv")
def export_microdata():
    """The pseudonymised relevés, sent or draft (`statut`), one row per foyer and wave: the
    pilot's own analysis."""
    challenge = _current_challenge() or abort(404)
    data = to_csv(microdata_table(challenge))
    return _download(data, "text/csv; charset=utf-8", "donnees-CONFIDENTIEL.csv")


def _download(data, mimetype, filename):
    response = make_response(data)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/import", methods=["GET", "POST"])
@rerender_on_csrf_error
@body_limit(MAX_IMPORT_BYTES)
def import_entries():
    """Check a CSV file of past relevés and show what importing it would do; write nothing.

    Every problem of the file is listed at once (line, column, reason); a good file gives a
    preview to confirm (`confirm_import`)."""
    form = _import_form()
    if not form.validate_on_submit():
        return _render_import(form)
    data, options = form.file.data.read(), form.options()
    _read_only()  # the file was read before the preview's transaction begins
    try:
        plan = preview_import(data, **options, territory_id=my_territory_id())
    except ImportRejected as rejected:
        return _render_import(form, rejected)
    return _render_preview(plan, data, options)


@bp.route("/import/confirmer", methods=["POST"])
@body_limit(MAX_IMPORT_BYTES)
def confirm_import():
    """Import the previewed file, checked again in full, in one transaction; or nothing."""
    form, options = ImportConfirmForm(), {}
    try:
        if not form.validate_on_submit():
            raise ImportRejected(_("Rien n'a été importé : choisissez de nouveau le fichier."))
        data, options, summary = unseal(
            form.payload.data, form.token.data, current_user.id, MAX_IMPORT_BYTES
        )
        db.session.rollback()  # the write lock is taken once the file is read and checked
        plan = preview_import(data, **options, territory_id=my_territory_id(), lock=True)
    except ImportRejected as rejected:
        _read_only()
        return _render_import(_import_form(formdata=None, **options), rejected)
    if plan.changes_nothing or plan.summary() != summary:
        # Imported already (a second click), or the défi changed since the preview.
        _read_only()
        return _render_preview(plan, data, options, changed=True)
    counts = write_plan(plan)
    db.session.commit()
    flash(import_summary(counts), "success")
    return redirect(url_for("pilot.import_entries"), 303)


@bp.route("/import/modele.csv")
def import_template():
    """The header and two example rows of an import file, to fill in a spreadsheet."""
    return _download(template_csv(), "text/csv; charset=utf-8", "modele-import-releves.csv")


def import_summary(counts) -> str:
    return _(
        "Import terminé : %(created)s, %(updated)s, %(unchanged)s.",
        created=ngettext("%(num)d relevé créé", "%(num)d relevés créés", counts["created"]),
        updated=ngettext("%(num)d mis à jour", "%(num)d mis à jour", counts["updated"]),
        unchanged=ngettext("%(num)d inchangé", "%(num)d inchangés", counts["unchanged"]),
    )


def _read_only():
    """From here on, the request reads only: its transaction takes no write lock, and could
    not write a row if it tried (`database.refuse_writes`)."""
    db.session.rollback()
    g.reads_only = True


def _import_form(**kwargs) -> ImportForm:
    form = ImportForm(**kwargs)
    form.structure_id.choices = [SelectChoice(0, _("— aucune —"))] + [
        SelectChoice(structure.id, structure.name) for structure in structures()
    ]
    return form


def _render_import(form, rejected=None):
    """The import page; a refused file's problems listed, what was chosen kept."""
    if rejected is not None:
        said = ngettext(
            "Le fichier n'est pas importé : %(num)d problème, indiqué ci-dessous.",
            "Le fichier n'est pas importé : %(num)d problèmes, indiqués ci-dessous.",
            rejected.count,
        )
        form.file.errors = [*form.file.errors, said]
    if form.challenge_name.data:
        name = form.challenge_name.data
        form.create_challenge.label.text = _("Créer un nouveau défi « %(name)s »", name=name)
    names = [challenge.name for challenge in sorted(setup.challenges(), key=lambda c: c.name)]
    return render_template(
        "pilot/import.html", form=form, rejected=rejected, challenges=names, header=HEADER
    )


def _render_preview(plan, data, options, changed=False):
    """What the import would do, and the form that confirms it (the file carried along)."""
    payload, token = seal(data, options, plan.summary(), current_user.id)
    form = ImportConfirmForm(formdata=None, payload=payload, token=token)
    structure = territory_structure(plan.structure_id)
    return render_template(
        "pilot/import_preview.html",
        plan=plan,
        preview=plan.preview(),
        structure=structure,
        form=form,
        changed=changed,
    )


@bp.route("/rapport")
def report():
    """The défi's results on 2 A4 pages, for the partners: print it to PDF as it is."""
    challenge = _current_challenge() or abort(404)
    published = publication(challenge)
    return render_template(
        "pilot/report.html",
        challenge=challenge,
        report=printed_report(challenge, published, today()),
        events=event_attendance(challenge),
        k=current_app.config["DEFI_MIN_COUNT"],
    )


# Setting the défi up


def _current_form(challenge, formdata=None):
    form = CurrentChallengeForm(formdata=formdata)
    form.challenge_id.choices = [SelectChoice(c.id, c.name) for c in setup.challenges()]
    if formdata is None and challenge is not None:
        form.challenge_id.data = challenge.id
    return form


def _render_setup(challenge, **forms):
    forms.setdefault("current_form", _current_form(challenge))
    forms.setdefault("challenge_form", ChallengeForm(formdata=None))
    forms.setdefault("group_form", GroupForm(formdata=None))
    forms.setdefault("next_form", NextChallengeForm(formdata=None))
    wave_forms = {}
    if challenge is not None:
        for wave in challenge.waves:
            form = forms.get("wave_forms", {}).get(wave.id) or WaveForm(formdata=None, obj=wave)
            if form.manual_state.data is None:
                form.manual_state.data = ""
            wave_forms[wave.id] = form
    return render_template(
        "pilot/setup.html",
        challenge=challenge,
        wave_forms=wave_forms,
        questions=setup.questions_of(challenge) if challenge else [],
        editable=setup.questionnaire_editable(challenge, today()) if challenge else False,
        confirm=ConfirmForm(),
        **{key: value for key, value in forms.items() if key != "wave_forms"},
    )


@bp.route("/parametres")
def settings():
    """The défi's collectes, groups and questionnaire; a new défi; next year's from this one."""
    return _render_setup(my_current_challenge())


@bp.route("/defis/en-cours", methods=["POST"])
@rerender_on_csrf_error
def challenge_choose():
    """Choose the défi being run (an import of a past year's défi never changes it)."""
    challenge = my_current_challenge()
    form = _current_form(challenge, formdata=request.form)
    if form.validate_on_submit():
        chosen = db.session.get(Challenge, form.challenge_id.data)
        make_current(chosen)
        db.session.commit()
        flash(_("« %(name)s » est maintenant le défi en cours.", name=chosen.name), "success")
        return redirect(url_for("pilot.settings"), 303)
    return _render_setup(challenge, current_form=form)


@bp.route("/defis", methods=["POST"])
@rerender_on_csrf_error
def challenge_create():
    """Create a défi with its 2 or 3 collectes (and the source's questionnaire)."""
    form = ChallengeForm()
    if form.validate_on_submit():
        setup.create_challenge(my_territory_id(), form.name.data, form.dates())
        db.session.commit()
        flash(
            _(
                "Défi créé. Ajoutez ses groupes. C'est maintenant le défi en cours : vous pouvez "
                "revenir au précédent ci-dessus."
            ),
            "success",
        )
        return redirect(url_for("pilot.settings"), 303)
    return _render_setup(my_current_challenge(), challenge_form=form)


@bp.route("/collectes/<int:wave_id>", methods=["POST"])
@rerender_on_csrf_error
def wave_update(wave_id):
    """Change a collecte's dates, or open or close it by hand."""
    challenge = my_current_challenge() or abort(404)
    wave = next((w for w in challenge.waves if w.id == wave_id), None) or abort(404)
    form = WaveForm()
    if form.validate_on_submit():
        wave.opens_on, wave.closes_on = form.opens_on.data, form.closes_on.data
        wave.manual_state = form.manual_state.data or None
        db.session.commit()
        flash(_("Collecte %(rank)d enregistrée.", rank=wave.rank), "success")
        return redirect(url_for("pilot.settings"), 303)
    return _render_setup(challenge, wave_forms={wave.id: form})


@bp.route("/groupes", methods=["POST"])
@rerender_on_csrf_error
def group_create():
    """Add a group to the current défi."""
    challenge = my_current_challenge() or abort(404)
    form = GroupForm()
    if form.validate_on_submit():
        if any(group.name == form.name.data for group in challenge.groups):
            form.name.errors.append(_("Un groupe porte déjà ce nom dans ce défi."))
        else:
            setup.add_group(
                challenge, form.name.data, form.sector.data or "", form.code_prefix.data
            )
            db.session.commit()
            flash(_("Groupe ajouté."), "success")
            return redirect(url_for("pilot.settings"), 303)
    return _render_setup(challenge, group_form=form)


@bp.route("/questions/nouvelle", methods=["GET", "POST"], defaults={"question_id": None})
@bp.route("/questions/<int:question_id>", methods=["GET", "POST"])
@rerender_on_csrf_error
def question_edit(question_id):
    """Write or change a question of the questionnaire, until the first collecte opens."""
    challenge = my_current_challenge() or abort(404)
    question = None
    if question_id is not None:
        question = next((q for q in setup.questions_of(challenge) if q.id == question_id), None)
        if question is None:
            abort(404)
    editable = setup.questionnaire_editable(challenge, today())
    form = QuestionForm(obj=question)
    if request.method in ("GET", "HEAD") and question is not None:
        form.choice_lines.data = "\n".join(choice.label for choice in question.choices)
    if editable and form.validate_on_submit():
        setup.save_question(challenge, question, *form.typed())
        db.session.commit()
        flash(_("Question enregistrée."), "success")
        return redirect(url_for("pilot.settings"), 303)
    status = 200 if editable or request.method in ("GET", "HEAD") else 403
    return render_template(
        "pilot/question.html", form=form, question=question, editable=editable
    ), status


@bp.route("/questions/<int:question_id>/supprimer", methods=["POST"])
def question_delete(question_id):
    """Remove a question, until the first collecte opens."""
    challenge = my_current_challenge() or abort(404)
    question = next((q for q in setup.questions_of(challenge) if q.id == question_id), None)
    if question is None:
        abort(404)
    if not setup.questionnaire_editable(challenge, today()):
        abort(403)
    if ConfirmForm().validate_on_submit():
        db.session.delete(question)
        db.session.commit()
        flash(_("Question supprimée."), "success")
    return redirect(url_for("pilot.settings"), 303)


@bp.route("/defis/suivant", methods=["POST"])
@rerender_on_csrf_error
def next_challenge():
    """Start next year's défi from this one's settings."""
    challenge = my_current_challenge() or abort(404)
    form = NextChallengeForm()
    if form.validate_on_submit():
        setup.start_next_challenge(challenge, form.name.data, current_user)
        db.session.commit()
        flash(
            _(
                "Le nouveau défi est prêt, et c'est maintenant le défi en cours : vérifiez ses "
                "dates et son questionnaire. Vous pouvez revenir au précédent ci-dessus."
            ),
            "success",
        )
        return redirect(url_for("pilot.settings"), 303)
    return _render_setup(challenge, next_form=form)
