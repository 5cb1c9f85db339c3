"""The coordinator's pages: the territories and their défis, each territory's current défi side
by side, one défi's groups, the files, and a new territory with its first pilot's invitation.

Every figure is a cell of a défi's own publication, as its pilot reads it, or of the network's
total of the current défis, shown where each défi shows its own (`figures.network`).
"""

from types import SimpleNamespace

import sqlalchemy as sa
from flask import abort
from flask import current_app
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from defi.access import rerender_on_csrf_error
from defi.accounts.services import issue_invitation
from defi.accounts.views import invitation_page
from defi.extensions import db
from defi.figures import derived
from defi.figures.export import network_tables
from defi.figures.files import to_csv
from defi.figures.files import to_xlsx
from defi.figures.network import NETWORK
from defi.figures.network import RANKS
from defi.figures.network import defi_scope
from defi.figures.network import network
from defi.figures.tables import ALL
from defi.formatting import gettext as _
from defi.formatting import today
from defi.models.challenge import WAVE_LABELS
from defi.network import bp
from defi.network.forms import TerritoryForm
from defi.pilot.comparison import choose_indicator
from defi.pilot.comparison import compare
from defi.pilot.comparison import indicator_catalogue
from defi.pilot.comparison import retention_rows
from defi.pilot.views import XLSX
from defi.pilot.views import _download
from defi.territories import TerritoryError
from defi.territories import create_territory

# The network compares défis wave by wave: start, middle, end.
WAVES = [SimpleNamespace(rank=rank, label=WAVE_LABELS[rank]) for rank in RANKS]


@bp.route("/")
def index():
    """Every territory with its défis, and a new territory."""
    return _render_index(TerritoryForm(formdata=None))


def _render_index(form):
    net = network(together=False)
    rows = []
    for territory, challenges in net.territories:
        defis = []
        for challenge in challenges:
            retention = net.publications[challenge.id].retention[ALL]["tous"]
            defis.append((challenge, retention, challenge.id in net.current))
        rows.append((territory, defis))
    return render_template("network/index.html", rows=rows, form=form)


@bp.route("/territoires", methods=["POST"])
@rerender_on_csrf_error
def territory_create():
    """Create a territory and print the invitation of its first pilot."""
    form = TerritoryForm()
    if not form.validate_on_submit():
        return _render_index(form)
    try:
        with db.session.begin_nested():
            territory = create_territory(form.name.data)
    except (TerritoryError, sa.exc.IntegrityError):
        # Made meanwhile by another request, after this form was checked.
        form.name.errors.append(_("Un territoire porte déjà ce nom."))
        return _render_index(form)
    invitation, code = issue_invitation(
        "pilot", current_user, territory_id=territory.id, days=form.valid_days.data
    )
    db.session.commit()
    recipient = _("pilote de %(name)s", name=territory.name)
    return invitation_page(invitation, code, recipient, url_for("network.index"))


@bp.route("/comparaison")
def comparison():
    """One indicator: each territory's current défi and all of them together, side by side."""
    net = network()
    catalogue = indicator_catalogue([])
    key, message = choose_indicator(request.args.get("indicateur"), catalogue)
    current = [
        (territory, challenge)
        for territory, challenges in net.territories
        for challenge in challenges
        if challenge.id in net.current
    ]
    scopes = [(defi_scope(challenge.id), territory.name) for territory, challenge in current]
    scopes.append((NETWORK, _("Tous les territoires")))
    # The waves some current défi has (a défi may have 2 collectes).
    ranks = {wave.rank for _territory, challenge in current for wave in challenge.waves}
    waves = SimpleNamespace(waves=[wave for wave in WAVES if wave.rank in ranks])
    k = current_app.config["DEFI_MIN_COUNT"]
    if not waves.waves:
        return render_template("network/comparison.html", comparison=None, k=k)
    return render_template(
        "network/comparison.html",
        comparison=compare(waves, net.side_by_side, catalogue[key], scopes),
        retention=retention_rows(waves, net.side_by_side, scopes),
        waves=waves.waves,
        catalogue=catalogue,
        key=key,
        message=message,
        k=k,
    )


@bp.route("/defis/<int:challenge_id>")
def challenge(challenge_id):
    """One défi of a territory: each group and all groups, for one indicator."""
    net = network(together=False)
    found = net.challenge(challenge_id) or abort(404)
    territory = next(t for t, challenges in net.territories if found in challenges)
    catalogue = indicator_catalogue([])
    key, message = choose_indicator(request.args.get("indicateur"), catalogue)
    published = net.publications[found.id]
    scopes = [(group.id, group.name) for group in found.groups]
    scopes.append((ALL, _("Tous les groupes")))
    return render_template(
        "network/challenge.html",
        territory=territory,
        challenge=found,
        comparison=compare(found, published, catalogue[key], scopes),
        retention=retention_rows(found, published, scopes),
        opened=[wave for wave in found.waves if wave.is_open(today())],
        catalogue=catalogue,
        key=key,
        message=message,
        k=current_app.config["DEFI_MIN_COUNT"],
    )


@bp.route("/export/<any(comparaison, retention):table>.csv")
def export_csv(table):
    """The network's comparison or retention, as CSV (UTF-8 with BOM, ';', decimal comma)."""
    data = _kept(network(), ("network-csv", table), lambda tables: to_csv(tables[table]))
    return _download(data, "text/csv; charset=utf-8", f"reseau-{table}.csv")


@bp.route("/export/comparaison.xlsx")
def export_xlsx():
    """The network's comparison and retention, one sheet each."""
    data = _kept(network(), ("network-xlsx",), lambda tables: to_xlsx(list(tables.values())))
    return _download(data, XLSX, "reseau-comparaison.xlsx")


def _kept(net, key, make):
    """A file of every défi's figures, made once per version of them (with the total's
    publication, which is kept as long as none of them changes)."""

    def made():
        return make({table.name: table for table in network_tables(net)})

    # A territory renamed or a défi added changes no figure: they name the file's version too.
    names = tuple((t.name, tuple(c.id for c in cs)) for t, cs in net.territories)
    return made() if net.total is None else derived(net.total, (*key, names), made)
