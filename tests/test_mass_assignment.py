"""Mass assignment: fields a form does not declare change nothing (QUALITY.md, access control).

Every POST route an actor may use is sent the values of the form that the route's own page
shows, plus fields that name another group's objects (`group_id`, `household_id`, `user_id`,
`entry_id`, `structure_id`…) or privileges (`role`, `label`, `code`, `imported`…). Afterwards no
row that existed before has a new owner, role, label or code, and no new row points at one of
the other group's objects.
"""

from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from defi.access import POLICY
from defi.extensions import db
from defi.models import Entry
from defi.models import Group
from defi.models import Household
from defi.models import Structure
from defi.models import User
from tests.conftest import demo_code
from tests.test_access import ACTORS
from tests.test_access import ROLE_OF_ACTOR
from tests.test_access import owners_of
from tests.test_access import relevé_with_rows
from tests.test_access import sample_args
from tests.test_access import url_of

# Columns that say who owns a row or what it may do; the others (amounts, texts, states) are
# what the forms legitimately write.
GUARDED = {"role", "label", "code", "username", "password_hash", "active", "imported"}
# Values for the fields a page leaves empty, so that the forms succeed and write rows.
TYPICAL = {
    "display_name": "Famille Témoin",
    "adults": "2",
    "children": "1",
    "persons": "3",
    "period_days": "7",
    "total": "12,50",
    "organic": "2",
    "local": "3",
    "kg": "0,4",
    "title": "Soupe de fanes",
    "name": "Ferme du Test",
    "structure_name": "MJEP Lens",
    "challenge_name": "Défi test",
    "text": "Une question ?",
    "choice_lines": "Oui\nNon",
    "code_prefix": "TST",
    "sector": "Secteur Test",
    "starts": "2026-12-03T10:00",
    "day": "2026-12-03",
}


class FormDefaults(HTMLParser):
    """The fields, with their default values, of the forms of a page, by action."""

    def __init__(self):
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._current = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self._current = self.forms.setdefault(attrs.get("action") or "", {})
        elif self._current is None or not attrs.get("name"):
            return
        elif tag == "input" and attrs.get("type") not in ("checkbox", "radio", "submit"):
            self._current.setdefault(attrs["name"], attrs.get("value") or "")
        elif tag == "input" and "checked" in attrs:
            self._current.setdefault(attrs["name"], attrs.get("value") or "on")
        elif tag == "textarea":
            self._current.setdefault(attrs["name"], "")
        elif tag == "select":
            self._select = attrs["name"]
        elif tag == "option" and self._select:
            self._current.setdefault(self._select, attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None


def form_data(client, url):
    """What the page at `url` would post to `url` if the user changed nothing."""
    response = client.get(url)
    if response.status_code != 200 or response.mimetype != "text/html":
        return {}
    parser = FormDefaults()
    parser.feed(response.get_data(as_text=True))
    return parser.forms.get(url) or parser.forms.get("") or {}


def ownership():
    """(table, primary key, column) → value of every guarded and foreign key column."""
    snapshot = {}
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if c.foreign_keys or c.name in GUARDED]
        if not columns:
            continue
        for row in db.session.execute(sa.select(*table.primary_key, *columns)).all():
            key = tuple(row[: len(table.primary_key.columns)])
            for column, value in zip(columns, row[len(key) :], strict=True):
                snapshot[(table.name, key, column.name)] = value
    return snapshot


def code(value):
    return db.session.scalar(sa.select(Household).where(Household.code == value))


@pytest.mark.parametrize(
    "actor",
    [
        "household A",
        "accompanied household",
        "facilitator of the group",
        "referent",
    ],
)
def test_undeclared_fields_change_nothing(app, demo, client, auth, actor):
    entries = {
        key: relevé_with_rows(key)
        for key in (demo_code("EST-01"), demo_code("EST-05"), demo_code("OUEST-01"))
    }
    ouest = db.session.scalar(sa.select(Group).where(Group.code_prefix == "OUEST"))
    victim = code(demo_code("OUEST-01"))
    victim_entry = db.session.scalar(sa.select(Entry).where(Entry.household_id == victim.id))
    pilot = db.session.scalar(sa.select(User).where(User.username == "pilote"))
    noeux = db.session.scalar(sa.select(Structure).where(Structure.name.like("Noeux%")))
    # What a request must never make a row point at, by referenced table.
    forbidden = {
        "group": {ouest.id},
        "household": {victim.id},
        "entry": {victim_entry.id},
        "user": {pilot.id},
        "structure": {noeux.id},
    }
    extras = {
        "group_id": ouest.id,
        "household_id": victim.id,
        "entry_id": victim_entry.id,
        "user_id": pilot.id,
        "structure_id": noeux.id,
        "id": victim.id,
        "role": "pilot",
        "roles": "pilot",
        "username": "pilote",
        "label": "Foyer X",
        "code": "OUEST-99",
        "accompanied": "oui",
        "imported": "1",
        "is_staff": "1",
        "active": "1",
    }
    assert auth.login(ACTORS[actor]).status_code == 303
    before = ownership()
    posted = 0
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint == "accounts.logout":
            continue
        owners = owners_of(rule)
        if ROLE_OF_ACTOR[actor] not in POLICY[rule.endpoint] or (
            owners is not None and actor not in owners
        ):
            continue
        url = url_of(rule, sample_args(rule, entries))
        data = form_data(client, url) if "GET" in rule.methods else {}
        data |= {name: TYPICAL[name] for name in data.keys() & TYPICAL.keys() if not data[name]}
        data |= {name: value for name, value in extras.items() if name not in data}
        response = client.post(url, data=data)
        assert response.status_code < 500, url
        posted += 1
    assert posted >= 5

    db.session.expire_all()
    after = ownership()
    changed = {key: (before[key], after[key]) for key in before.keys() & after.keys()}
    changed = {key: values for key, values in changed.items() if values[0] != values[1]}
    assert not changed
    fk_target = {
        (table.name, column.name): next(iter(column.foreign_keys)).column.table.name
        for table in db.metadata.sorted_tables
        for column in table.columns
        if column.foreign_keys
    }
    pointing = [
        (key, value)
        for key, value in after.items()
        if key not in before
        and (key[0], key[2]) in fk_target
        and value in forbidden.get(fk_target[(key[0], key[2])], ())
    ]
    assert not pointing
