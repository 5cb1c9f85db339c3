"""A foyer's progress as it reads it on a phone: one card per indicator, its own figure beside
its group's at each wave, a small chart drawn on the server, and a sentence for the change.

The foyer's own figures come from its relevés (`indicators.foyer_values`); the group's are the
published cells of the défi's publication (`figures.publication`), never recomputed here, so
that the foyer sees what the facilitator sees, withheld where it is withheld.
"""

from dataclasses import dataclass
from dataclasses import field

from defi.figures.disclosure import FEW
from defi.figures.tables import OPEN
from defi.formatting import decimal
from defi.formatting import euros
from defi.formatting import gettext as _
from defi.formatting import lazy_gettext as _l
from defi.formatting import ngettext
from defi.formatting import percent

KEYS = ("cout_repas_personne", "part_bio", "part_locale", "gaspillage_kg_pers_an", "recettes",
        "producteurs")  # fmt: skip
LABELS = {
    "cout_repas_personne": _l("Coût d'un repas par personne"),
    "part_bio": _l("Part du bio dans vos achats"),
    "part_locale": _l("Part du local dans vos achats"),
    "gaspillage_kg_pers_an": _l("Gaspillage, par personne et par an"),
    "recettes": _l("Recettes partagées"),
    "producteurs": _l("Producteurs locaux"),
}
# Why the group's figure is not shown, in a family's words.
GROUP_HIDDEN = {
    FEW: _l("pas encore assez de relevés dans le groupe"),
    OPEN: _l("connu à la clôture de la collecte"),
}
GROUP_HIDDEN_OTHERWISE = _l("pas publié, pour protéger les foyers du groupe")
# The chart's drawing area, in the SVG's own units.
CHART_HEIGHT = 96


def show(key, value) -> str:
    """A figure in French: "2,40 €", "19,1 %", "31,2 kg", "3"."""
    if value is None:
        return "—"
    if key == "cout_repas_personne":
        return euros(value)
    if key.startswith("part"):
        return percent(value)
    if key.startswith("gaspillage"):
        return _("%(kg)s kg", kg=decimal(value, 1))
    return str(round(value))


@dataclass
class Point:
    """One wave of a card: the foyer's figure and the group's, as text and as bar heights."""

    wave: object
    own: float | None
    group: float | None
    own_text: str
    group_text: str
    own_height: float = 0
    group_height: float = 0


@dataclass
class Card:
    key: str
    label: str
    points: list[Point] = field(default_factory=list)
    sentence: str = ""


def group_text(key, cell, wave, today) -> str:
    if wave.opens_on > today:
        return _("à venir")
    if cell.hidden:
        return str(GROUP_HIDDEN.get(cell.hidden, GROUP_HIDDEN_OTHERWISE))
    if cell.mean is None:
        return "—"
    return show(key, cell.mean)


def own_text(key, value, wave, today, before_joining, referent) -> str:
    if value is not None:
        return show(key, value)
    if wave.rank in before_joining:
        return _("avant son arrivée") if referent else _("avant votre arrivée")
    if wave.opens_on > today:
        return _("à venir")
    return _("pas de relevé")


def cards(figures, today, before_joining=(), referent=False) -> list[Card]:
    """The cards of the foyer's home, from `services.own_and_group_figures`'s rows.

    `before_joining`: the ranks of the waves that closed before the foyer joined the défi;
    `referent`: the page is read by the foyer's referent (no "votre").
    """
    result = []
    for key in KEYS:
        card = Card(key, str(LABELS[key]))
        for wave, own, group in figures:
            cell = group[key]
            shown = cell.mean if not cell.hidden and wave.opens_on <= today else None
            card.points.append(
                Point(
                    wave,
                    own[key],
                    shown,
                    own_text(key, own[key], wave, today, before_joining, referent),
                    group_text(key, cell, wave, today),
                )
            )
        scale(card.points)
        card.sentence = sentence(key, card.points)
        result.append(card)
    return result


def scale(points):
    """Bar heights, the tallest of the card's figures reaching the chart's top."""
    top = max((v for p in points for v in (p.own, p.group) if v is not None), default=0)
    if top <= 0:
        return
    for point in points:
        if point.own is not None:
            point.own_height = round(point.own / top * CHART_HEIGHT, 1)
        if point.group is not None:
            point.group_height = round(point.group / top * CHART_HEIGHT, 1)


def sentence(key, points) -> str:
    """The change from the foyer's first figure to its last, in one plain sentence."""
    known = [point.own for point in points if point.own is not None]
    if key in ("recettes", "producteurs"):
        return counted(key, round(sum(known)))
    if not known:
        return _("Pas encore de relevé pour ce chiffre.")
    if len(known) < 2:
        return _("Votre premier chiffre : la comparaison viendra à la collecte suivante.")
    first, last = known[0], known[-1]
    if key == "cout_repas_personne":
        return money_change(first, last)
    if key.startswith("part"):
        return share_change(key, first, last)
    return waste_change(first, last)


def money_change(first, last) -> str:
    difference = round(last - first, 2)
    if difference < 0:
        return _("Votre repas coûte %(amount)s de moins qu'au début.", amount=euros(-difference))
    if difference > 0:
        return _("Votre repas coûte %(amount)s de plus qu'au début.", amount=euros(difference))
    return _("Votre repas coûte autant qu'au début.")


def share_change(key, first, last) -> str:
    points = round((last - first) * 100)
    what = _("Le bio") if key == "part_bio" else _("Le local")
    if points > 0:
        return ngettext(
            "%(what)s : %(num)d point de plus dans vos achats qu'au début.",
            "%(what)s : %(num)d points de plus dans vos achats qu'au début.",
            points,
            what=what,
        )
    if points < 0:
        return ngettext(
            "%(what)s : %(num)d point de moins dans vos achats qu'au début.",
            "%(what)s : %(num)d points de moins dans vos achats qu'au début.",
            -points,
            what=what,
        )
    return _("%(what)s : la même part de vos achats qu'au début.", what=what)


def waste_change(first, last) -> str:
    difference = round(last - first, 1)
    if difference < 0:
        return _(
            "Vous jetez %(kg)s kg de moins par personne et par an qu'au début.",
            kg=decimal(-difference, 1),
        )
    if difference > 0:
        return _(
            "Vous jetez %(kg)s kg de plus par personne et par an qu'au début.",
            kg=decimal(difference, 1),
        )
    return _("Vous jetez autant qu'au début.")


def counted(key, total) -> str:
    if key == "recettes":
        if not total:
            return _("Pas encore de recette partagée.")
        return ngettext(
            "Vous avez partagé %(num)d recette depuis le début.",
            "Vous avez partagé %(num)d recettes depuis le début.",
            total,
        )
    if not total:
        return _("Pas encore de producteur local noté.")
    return ngettext(
        "Vous avez noté %(num)d producteur local depuis le début.",
        "Vous avez noté %(num)d producteurs locaux depuis le début.",
        total,
    )
