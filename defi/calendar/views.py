"""The calendar: a foyer's view of its group's events, the facilitator's events and
attendance sheet (on a phone, and printed), the read-only calendar of the other staff who may
read the group's (its foyers' referents, the pilot), and the secret iCal feed that a phone's
calendar app subscribes to."""

import json

from flask import abort
from flask import flash
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import format_datetime
from flask_babel import format_time
from flask_login import current_user

from defi.access import home_url
from defi.access import rerender_on_csrf_error
from defi.calendar import bp
from defi.calendar import ical
from defi.calendar import services
from defi.calendar.forms import KIND_LABELS
from defi.calendar.forms import AttendanceForm
from defi.calendar.forms import EventForm
from defi.calendar.forms import MarkForm
from defi.extensions import db
from defi.extensions import limiter
from defi.formatting import gettext as _
from defi.formatting import ngettext
from defi.forms import ConfirmForm
from defi.groups.services import get_group_or_404
from defi.htmx import is_htmx
from defi.htmx import render
from defi.models.base import utcnow
from defi.paging import FOYERS_PER_PAGE
from defi.paging import asked_place
from defi.paging import paging_of
from defi.paging import place_of
from defi.paging import search_query
from defi.paging import searcher
from defi.reach import get_group_in_reach_or_404
from defi.reach import groups_in_reach


def when(event) -> str:
    """When an event is, in words: « samedi 18 septembre 2021, 10:00 – 12:00 » (in France)."""
    text = format_datetime(event.starts_at, "EEEE d MMMM y, HH:mm")
    if event.ends_at is not None:
        text += " – " + format_time(event.ends_at, "HH:mm")
    return text


@bp.context_processor
def calendar_helpers():
    """What the calendar's templates share: `when(event)` and the kinds' French names."""
    return {"when": when, "kinds": KIND_LABELS}


# The foyer's calendar


@bp.route("/")
def index():
    """The foyer's group calendar: events to come and past ones, cancelled ones marked."""
    household = current_user.household
    if household is None:
        # A facilitator: its group's calendar, where it manages the events.
        group_id = max(current_user.facilitated_group_ids())
        return redirect(url_for("calendar.group", group_id=group_id))
    events = services.group_events([household.group_id])
    upcoming, past = services.split_by_date(events, utcnow())
    return render_template(
        "calendar/index.html",
        group=household.group,
        upcoming=upcoming,
        past=past,
        attended=services.attended_event_ids(household),
    )


# The facilitator's calendar


@bp.route("/groupe/<int:group_id>")
def group(group_id):
    """The group's events with how many foyers came; its facilitators create, edit, cancel
    and tick attendance, the other staff who may read it (referents, pilot) only read."""
    group = get_group_in_reach_or_404(group_id)
    manages = group.id in current_user.facilitated_group_ids()
    events = services.group_events([group.id])
    upcoming, past = services.split_by_date(events, utcnow())
    return render_template(
        "calendar/group.html",
        group=group,
        groups=groups_in_reach(),
        manages=manages,
        back=url_for("groups.show", group_id=group.id) if manages else home_url(current_user),
        upcoming=upcoming,
        past=past,
        counts=services.present_counts(group, [event.id for event in events]),
        confirm=ConfirmForm(),
    )


@bp.route("/groupe/<int:group_id>/nouveau", methods=["GET", "POST"])
@rerender_on_csrf_error
def create(group_id):
    """Add an event to the group's calendar."""
    group = get_group_or_404(group_id)
    form = EventForm()
    if form.validate_on_submit():
        event = services.create_event(group, form.event_fields())
        db.session.commit()
        flash(_("« %(title)s » est au calendrier.", title=event.title), "success")
        return redirect(url_for("calendar.group", group_id=group.id), 303)
    return render_template("calendar/form.html", group=group, form=form, event=None)


@bp.route("/groupe/<int:group_id>/<int:event_id>", methods=["GET", "POST"])
@rerender_on_csrf_error
def update(group_id, event_id):
    """Change an event's date, times, place or description."""
    group = get_group_or_404(group_id)
    event = services.get_event_or_404(group, event_id)
    form = EventForm(data=services.event_form_data(event))
    status = 200
    if form.validate_on_submit():
        if form.version.data != str(event.version):
            # Changed by someone else since the form was shown: keep what was typed, show
            # what is saved, and let the user send again on top of the new version.
            form.version.data = str(event.version)
            status = 409
        else:
            services.update_event(event, form.event_fields())
            db.session.commit()
            flash(_("« %(title)s » est modifié.", title=event.title), "success")
            return redirect(url_for("calendar.group", group_id=group.id), 303)
    return (
        render_template(
            "calendar/form.html", group=group, form=form, event=event, conflict=status == 409
        ),
        status,
    )


@bp.route("/groupe/<int:group_id>/<int:event_id>/annulation", methods=["POST"])
def cancel(group_id, event_id):
    """Cancel an event (it stays in the calendar, marked « annulé »), or take that back."""
    group = get_group_or_404(group_id)
    event = services.get_event_or_404(group, event_id)
    if ConfirmForm().validate_on_submit():
        if event.cancelled_at is None:
            services.cancel_event(event)
            flash(_("« %(title)s » est annulé.", title=event.title), "success")
        else:
            services.restore_event(event)
            flash(_("« %(title)s » n'est plus annulé.", title=event.title), "success")
        db.session.commit()
    return redirect(url_for("calendar.group", group_id=group.id), 303)


def sheet_page(sheet):
    """(search, the boxes of the page asked for, its paging) of the attendance sheet."""
    query = search_query()
    found = sheet.found(query)
    paging = paging_of(len(found), FOYERS_PER_PAGE)
    return query, paging.of(found), paging


def sheet_url(group, event):
    """The sheet at the search and page its form was posted from."""
    return url_for(
        "calendar.attendance", group_id=group.id, event_id=event.id, **asked_place("page")
    )


def render_sheet(group, event, form=None, saved=False, sheet=None):
    """The attendance page (a page of its boxes, found by name), or only its count of
    present foyers for htmx."""
    sheet = sheet or services.attendance_sheet(group, event)
    query, shown, paging = sheet_page(sheet)
    if form is None:
        keys = {key for key, _name in shown}
        form = AttendanceForm(
            shown,
            data={
                "present": sorted(sheet.present & keys),
                "accompanied": sheet.accompanied_present,
            },
            accompanied_active=sheet.accompanied_active,
        )
    return render(
        "calendar/attendance.html",
        "count",
        group=group,
        event=event,
        sheet=sheet,
        form=form,
        query=query,
        paging=paging,
        found=paging.total,
        place=place_of(query, {paging.arg: paging.number}),
        per_page=FOYERS_PER_PAGE,
        # What each box tells the server besides the sheet: which foyer it is (hx-vals).
        vals={choice.value: json.dumps({"foyer": choice.value}) for choice in form.present.choices},
        count=sheet.count,
        saved=saved,
    )


@bp.route("/groupe/<int:group_id>/<int:event_id>/presences", methods=["GET", "POST"])
@rerender_on_csrf_error
def attendance(group_id, event_id):
    """The attendance sheet, to tick on a phone at the door (the button saves all boxes)."""
    group = get_group_or_404(group_id)
    event = services.get_event_or_404(group, event_id)
    sheet = services.attendance_sheet(group, event)
    # The boxes the page showed (`shown`, none on a search that found nobody): the others are
    # not the button's to change. A form without `paged` is a whole sheet's.
    paged = "paged" in request.form or "shown" in request.form
    among = set(request.form.getlist("shown")) if paged else None
    choices = [(key, name) for key, name in sheet.choices if among is None or key in among]
    form = AttendanceForm(choices, accompanied_active=sheet.accompanied_active)
    if request.method in ("GET", "HEAD"):
        return render_sheet(group, event, sheet=sheet)
    if form.validate_on_submit():
        count = services.set_attendance(
            group,
            event,
            form.present.data or [],
            current_user,
            # A field left empty is 0; a form without the field leaves the count alone.
            (form.accompanied.data or 0) if "accompanied" in request.form else None,
            among=among,
        )
        db.session.commit()
        flash(
            ngettext(
                "Présences enregistrées : %(num)d foyer.",
                "Présences enregistrées : %(num)d foyers.",
                count,
            ),
            "success",
        )
        return redirect(sheet_url(group, event), 303)
    return render_sheet(group, event, form=form, sheet=sheet)


@bp.route("/groupe/<int:group_id>/<int:event_id>/presences/cocher", methods=["POST"])
def mark(group_id, event_id):
    """Save one box of the sheet as soon as it is ticked or unticked (htmx)."""
    group = get_group_or_404(group_id)
    event = services.get_event_or_404(group, event_id)
    form = MarkForm()
    if not form.validate_on_submit():
        abort(400)
    key = form.foyer.data
    if key:
        present = key in (form.present.data or [])
        if not services.mark_attendance(group, event, key, present, current_user):
            abort(404)
    elif form.accompanied.data is not None:
        sheet = services.attendance_sheet(group, event)
        if not 0 <= form.accompanied.data <= sheet.accompanied_active:
            abort(400)
        services.set_accompanied(group, event, form.accompanied.data)
    else:
        abort(400)
    db.session.commit()
    if not is_htmx():
        return redirect(sheet_url(group, event), 303)
    return render_sheet(group, event, saved=True)


@bp.route("/groupe/<int:group_id>/<int:event_id>/feuille")
def sheet(group_id, event_id):
    """The attendance sheet to print: the group's active named foyers with a box and a
    column for the people who came, a line to count the accompanied ones, blank lines."""
    group = get_group_or_404(group_id)
    event = services.get_event_or_404(group, event_id)
    return render_template(
        "calendar/sheet.html",
        group=group,
        event=event,
        paper=services.paper_sheet(group),
        blank_lines=range(services.PAPER_BLANK_LINES),
    )


@bp.route("/groupe/<int:group_id>/presences")
def summary(group_id):
    """How many of the group's events each foyer came to (accompanied ones as a total), 25
    foyers a page, found by name or code."""
    group = get_group_or_404(group_id)
    summary = services.foyer_attendance(group, utcnow())
    query = search_query()
    search = searcher(query)
    found = [row for row in summary.named if search(row[0], row[1])]
    paging = paging_of(len(found), FOYERS_PER_PAGE)
    return render_template(
        "calendar/summary.html",
        group=group,
        summary=summary,
        rows=paging.of(found),
        query=query,
        paging=paging,
        place=place_of(query, {}),
        per_page=FOYERS_PER_PAGE,
    )


# The iCal feed


@bp.route("/abonnement", methods=["GET", "POST"])
def feed():
    """The user's secret calendar address: create it (shown once), or make a new one."""
    form = ConfirmForm()
    feed_url = None
    if form.validate_on_submit():
        token = services.new_feed_token(current_user)
        db.session.commit()
        feed_url = url_for("calendar.ics", token=token, _external=True)
    return render_template(
        "calendar/feed.html",
        form=form,
        active=current_user.feed_token_hash is not None,
        feed_url=feed_url,
        webcal_url=feed_url and "webcal://" + feed_url.split("://", 1)[1],
    )


@bp.route("/abonnement/supprimer", methods=["POST"])
def feed_revoke():
    """End the user's calendar address: apps subscribed to it get nothing more."""
    if ConfirmForm().validate_on_submit():
        services.revoke_feed(current_user)
        db.session.commit()
        flash(_("L'adresse de votre calendrier ne marche plus."), "success")
    return redirect(url_for("calendar.feed"), 303)


# Guessing feed addresses is throttled per address; only unknown ones count, and many, since
# calendar services fetch the feeds of many users (revoked ones too) from a few addresses.
@bp.route("/ical/<token>.ics")
@limiter.limit("1000 per hour", deduct_when=lambda response: response.status_code == 404)
def ics(token):
    """The events of the user's groups as an iCal file, for a phone's calendar (no login:
    the secret token in the address is the key; an unknown one is a 404)."""
    user = services.user_of_feed(token)
    if user is None:
        abort(404)
    groups = services.feed_groups(user)
    stamp = utcnow()
    events = [
        ical.vevent(
            event,
            uid=f"evenement-{event.id}@{request.host}",
            stamp=stamp,
            summary=_("Annulé : %(title)s", title=event.title)
            if event.cancelled_at
            else event.title,
            categories=str(KIND_LABELS[event.kind]),
        )
        for event in services.group_events([group.id for group in groups])
    ]
    name = _("Défi Famille") + " – " + ", ".join(group.name for group in groups)
    response = make_response(ical.calendar(name, events))
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="defi-famille.ics"'
    # The address is a secret: keep the file out of shared caches and search engines.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
