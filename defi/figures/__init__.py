"""The figures of a défi, from a relevé's rows to every published table, in one place.

- `indicators.py`: DESIGN.md's formulas, pure functions of a relevé's sums (`EntrySums`).
- `sums.py`: the sums of any set of relevés, in a few queries.
- `tables.py`: the défi's tables (all groups, each group, each subgroup; every indicator,
  questionnaire choice and retention count of each wave), built by `publish`.
- `disclosure.py`: the one disclosure step `publish` hands every figure to.
- `export.py` and `files.py`: the tables for partners, the pilot's microdata, as CSV and XLSX.
- `cache.py`: the version of what is published, so that `publication` computes it once.

Features import from here; nothing here imports a feature. Pages read a défi's figures through
`publication`, never from the relevés.
"""

from flask import current_app
from flask import render_template
from markupsafe import Markup

from defi.extensions import db
from defi.figures import cache
from defi.figures.disclosure import FEW
from defi.figures.disclosure import PROTECT
from defi.figures.tables import OPEN
from defi.figures.tables import ZERO_START
from defi.figures.tables import Publication
from defi.figures.tables import open_ranks
from defi.figures.tables import publish
from defi.formatting import lazy_gettext as _l
from defi.formatting import today

# Why a figure is not shown, in the words of the pages and the report.
REASONS = {
    FEW: _l("pas assez de relevés"),
    PROTECT: _l("masqué pour protéger d'autres chiffres"),
    ZERO_START: _l("valeur de départ nulle"),
    OPEN: _l("publié à la clôture de la collecte"),
}


def publication(challenge, k: int | None = None) -> Publication:
    """The défi's published figures (K: DEFI_MIN_COUNT unless given), computed once per version.

    Each app keeps, per défi and K, the publication of the version it read last
    (`cache.py`): pages read it rather than recompute it. A request that has itself changed
    what the défi publishes computes it afresh and keeps nothing (its change may yet roll back).
    """
    k = current_app.config["DEFI_MIN_COUNT"] if k is None else k
    # A wave that closes by its date changes what is published without any write.
    key = (challenge.id, k, open_ranks(challenge, today()))
    return kept_per_version(key, [challenge.id], lambda: publish(challenge, k))


def kept_per_version(key, challenge_ids, make):
    """`make()`, kept by this app under `key` for the versions of what these défis publish it
    was made at: made again once one of them changes. A request that has itself changed what
    one of them publishes makes it afresh and keeps nothing (its change may yet roll back).

    The versions are read once per transaction (`cache.read_versions`), however many things a
    page asks for (the network's pages ask for every défi's publication).
    """
    session = db.session
    if session.new or session.dirty or session.deleted:
        session.flush()  # what this request changed is noted (`cache.changed`) before it is read
    if cache.changed(session, challenge_ids):
        return make()
    versions = tuple(cache.read_versions(session, challenge_ids).values())
    kept = current_app.extensions.setdefault("defi_figures", {})
    found = kept.get(key)
    if found is not None and found[0] == versions:
        return found[1]
    made = make()
    kept[key] = (versions, made)
    return made


def rendered(published: Publication, template: str, scope, **context) -> Markup:
    """`template` rendered with the figures of `published`, once per publication and scope.

    For the parts of pages that show the published figures and nothing of who reads them
    (a group's progress, its slides): they change only when the figures do, and a new
    version of the figures is a new publication, with nothing rendered yet.
    """
    return derived(
        published,
        ("rendered", template, scope),
        lambda: Markup(render_template(template, **context)),  # noqa: S704
    )


def derived(published: Publication, key, make):
    """`make()`, made once per publication: what a page builds from the figures alone (a
    comparison's tables, a rendered part), kept with them, so that a new version of the
    figures makes it anew. `key` names what is made and from what."""
    found = published.derived.get(key)
    if found is None:
        found = published.derived[key] = make()
    return found
