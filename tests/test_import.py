"""Importing past relevés at scale: the rows written, idempotence, constant queries, the cap."""

import contextlib
import io

import pytest
import sqlalchemy as sa

from defi.extensions import db
from defi.households import ANONYMOUS_LABELS
from defi.models import Accompaniment
from defi.models import Answer
from defi.models import Challenge
from defi.models import Choice
from defi.models import Entry
from defi.models import Group
from defi.models import Household
from defi.models import Question
from defi.models import Wave
from defi.pilot.imports import HEADER
from defi.pilot.imports import MAX_IMPORT_ROWS
from defi.pilot.imports import ImportRejected
from defi.pilot.imports import check_size
from defi.pilot.imports import import_entries as run_import
from tests.conftest import page_text
from tests.conftest import territory_id

CAP_REFUSAL = (
    "Le fichier compte 50\u202f001 lignes de relevé ; un import en accepte 50\u202f000 au plus."
)


def accompanying_structure() -> int:
    """The id of a structure for the files' new accompanied foyers (the import requires one)."""
    from defi.models import Structure

    found = db.session.scalar(sa.select(Structure.id).order_by(Structure.id).limit(1))
    if found is None:
        structure = Structure(name="Centre social du test", territory_id=territory_id())
        db.session.add(structure)
        db.session.flush()
        found = structure.id
    return found


def import_entries(data, challenge_name):
    """The import, its new accompanied foyers attached to `accompanying_structure`, the défi
    created if no défi has this name."""
    return run_import(
        data,
        challenge_name,
        accompanying_structure(),
        territory_id=territory_id(),
        create_challenge=True,
    )


def cells(index, **changed):
    """The index-th row: foyer H-<index // 3> at collecte index % 3 + 1, 20 foyers a group,
    one foyer in ten accompanied, 3 answers ticked in every row."""
    foyer, rank = index // 3, index % 3 + 1
    values = {
        "foyer": f"H-{foyer:05d}",
        "groupe": f"Groupe {foyer // 20:03d}",
        "accompagne": "oui" if foyer % 10 == 0 else "non",
        "collecte": str(rank),
        "personnes": str(1 + foyer % 5),
        "jours": "14",
        "depenses_eur": f"{60 + index % 40},50",
        "dont_bio_eur": "10",
        "dont_local_eur": "20.25",
        "repas_convives": "42",
        "cout_repas_personne_eur": "",
        "gaspillage_kg": "1,250",
        "recettes": "1",
        "producteurs": "2",
        "manger_mieux": "manger_mieux|nouveaux_gouts",
        "j_agis_sur": "bio" if rank == 1 else "",
        "maintien": "mieux" if rank > 1 else "",
    }
    values.update(changed)
    return ";".join(values[name] for name in HEADER)


def releves(count, changed=None) -> bytes:
    """A file of `count` rows; `changed` gives the cells that differ, by row index."""
    changed = changed or {}
    lines = [";".join(HEADER)] + [cells(i, **changed.get(i, {})) for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


def fingerprint():
    """Every row of every table, in id order: what an import may have changed."""
    return {
        table.name: db.session.execute(sa.select(table).order_by(*table.primary_key)).all()
        for table in db.metadata.sorted_tables
    }


def counts_of(challenge_name) -> dict:
    """{table: rows} of the défi's groups, foyers, accompaniments, relevés and answers."""
    challenge = sa.select(Challenge.id).where(Challenge.name == challenge_name).scalar_subquery()
    of_challenge = Household.challenge_id == challenge
    statements = {
        "group": sa.select(sa.func.count(Group.id)).where(Group.challenge_id == challenge),
        "household": sa.select(sa.func.count(Household.id)).where(of_challenge),
        "accompaniment": sa.select(sa.func.count(Accompaniment.id)).join(Household),
        "entry": sa.select(sa.func.count(Entry.id)).join(Household).where(of_challenge),
        "answer": sa.select(sa.func.count(Answer.id)).join(Entry).join(Household),
    }
    statements["accompaniment"] = statements["accompaniment"].where(of_challenge)
    statements["answer"] = statements["answer"].where(of_challenge)
    return {table: db.session.scalar(statement) for table, statement in statements.items()}


def entry_of(challenge_name, code, rank) -> Entry:
    return db.session.scalar(
        sa.select(Entry)
        .join(Household)
        .join(Wave)
        .join(Challenge, Challenge.id == Wave.challenge_id)
        .where(Challenge.name == challenge_name, Household.code == code, Wave.rank == rank)
    )


def choice_id(key):
    """The id of the choice `key` in the questionnaire of Défi 2016."""
    return db.session.scalar(
        sa.select(Choice.id)
        .join(Question)
        .join(Challenge)
        .where(Challenge.name == "Défi 2016", Choice.key == key)
    )


@contextlib.contextmanager
def statements():
    """The SQL statements sent while in the block (an executemany counts once; a COPY, on
    PostgreSQL, is not seen)."""
    sent = []

    def note(_connection, _cursor, statement, *_args):
        sent.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)


def test_ten_thousand_rows_write_exactly_their_rows(app):
    counts = import_entries(releves(10_000), "Défi 2015")
    db.session.commit()
    assert counts == {"created": 10_000, "updated": 0, "unchanged": 0}
    # 3,334 foyers (the last with 1 collecte), 20 a group, 1 in 10 accompanied, 3 answers a row.
    assert counts_of("Défi 2015") == {
        "group": 167,
        "household": 3_334,
        "accompaniment": 334,
        "entry": 10_000,
        "answer": 30_000,
    }
    entry = entry_of("Défi 2015", "H-00001", 2)  # row 4
    assert (entry.persons, entry.period_days, entry.meal_covers) == (2, 14, 42)
    assert (entry.cost_mode, entry.spend_total_cents, entry.spend_local_cents) == (
        "totals",
        6450,
        2025,
    )
    assert (entry.declared_waste_grams, entry.status, entry.imported, entry.version) == (
        1250,
        "submitted",
        True,
        1,
    )
    assert sorted(answer.choice.key for answer in entry.answers) == [
        "manger_mieux",
        "mieux",
        "nouveaux_gouts",
    ]
    household = entry.household
    assert (household.display_name, household.adults, household.children) == ("H-00001", 2, 0)
    assert household.accompaniment is None

    before = fingerprint()
    again = import_entries(releves(10_000), "Défi 2015")
    db.session.commit()
    assert again == {"created": 0, "updated": 0, "unchanged": 10_000}
    assert fingerprint() == before


def test_a_modified_file_updates_exactly_the_changed_relevés(app):
    import_entries(releves(1_000), "Défi 2016")
    db.session.commit()
    before = fingerprint()
    changed = {
        4: {"jours": "7"},  # H-00001, collecte 2
        500: {"depenses_eur": "99,99"},  # H-00166, collecte 3
        901: {"j_agis_sur": "saison"},  # H-00300, collecte 2: one answer more
        902: {"manger_mieux": ""},  # H-00300, collecte 3: two answers fewer
    }
    counts = import_entries(releves(1_000, changed), "Défi 2016")
    db.session.commit()
    assert counts == {"created": 0, "updated": 4, "unchanged": 996}
    after = fingerprint()
    for table in ("challenge", "wave", "group", "household", "question", "choice", "user"):
        assert after[table] == before[table], table

    # Exactly the two relevés whose values differ are written, their version bumped so that a
    # form still open on them is refused as stale. (A change of answers alone leaves the relevé's
    # row as it is, as it did before imports were written in bulk.)
    four, five_hundred = entry_of("Défi 2016", "H-00001", 2), entry_of("Défi 2016", "H-00166", 3)
    assert (four.period_days, four.version) == (7, 2)
    assert (five_hundred.spend_total_cents, five_hundred.version) == (9999, 2)
    entries_before = {row.id: row._mapping for row in before["entry"]}
    differing = {row.id for row in after["entry"] if row._mapping != entries_before[row.id]}
    assert differing == {four.id, five_hundred.id}
    for entry, column in ((four, "period_days"), (five_hundred, "spend_total_cents")):
        old = entries_before[entry.id]
        new = db.session.execute(sa.select(Entry.__table__).where(Entry.id == entry.id)).one()
        changed_columns = {name for name in old if old[name] != new._mapping[name]}
        assert changed_columns == {column, "version", "updated_at"}

    more, fewer = entry_of("Défi 2016", "H-00300", 2), entry_of("Défi 2016", "H-00300", 3)
    answers_before, answers_after = set(before["answer"]), set(after["answer"])
    assert {(row.entry_id, row.choice_id) for row in answers_after - answers_before} == {
        (more.id, choice_id("saison"))
    }
    gone = answers_before - answers_after
    assert {row.entry_id for row in gone} == {fewer.id} and len(gone) == 2

    assert after["accompaniment"] == before["accompaniment"]
    # Each relevé the import changed says so in its history, field by field.
    from defi.models import EntryChange

    history = db.session.execute(
        sa.select(EntryChange.entry_id, EntryChange.field, EntryChange.old_value,
                  EntryChange.new_value, EntryChange.user_id)
        .order_by(EntryChange.id)
    ).all()  # fmt: skip
    spent_before = str(entries_before[five_hundred.id]["spend_total_cents"])
    assert set(history) == {
        (four.id, "period_days (import)", "14", "7", None),
        (five_hundred.id, "spend_total_cents (import)", spent_before, "9999", None),
        (more.id, "réponses (import)", "", "", None),
        (fewer.id, "réponses (import)", "", "", None),
    }  # fmt: skip


def test_an_import_never_makes_an_accompanied_foyer_named(app):
    import_entries(releves(30), "Défi 2016")
    db.session.commit()
    before = fingerprint()
    said = releves(30, {0: {"accompagne": "non"}})  # H-00000 is accompanied (one in ten)
    with pytest.raises(ImportRejected) as refused:
        import_entries(said, "Défi 2016")
    db.session.rollback()
    assert refused.value.message.startswith("Ligne 2 : le foyer H-00000 est inscrit comme accomp")
    assert fingerprint() == before


def test_an_import_never_makes_a_named_foyer_accompanied(app):
    # Once, a named foyer of the facilitator's roster became a label, the same relevés under it:
    # whoever saw both knew which family is accompanied.
    import_entries(releves(30), "Défi 2016")
    db.session.commit()
    before = fingerprint()
    said = releves(30, {11: {"accompagne": "oui"}})  # H-00003, named until now
    with pytest.raises(ImportRejected) as refused:
        import_entries(said, "Défi 2016")
    db.session.rollback()
    assert refused.value.message.startswith("Ligne 13 : le foyer H-00003 est déjà inscrit sans")
    assert fingerprint() == before


def test_the_number_of_queries_does_not_grow_with_the_rows(app):
    # The first accompanied foyer ever imported creates the import's structure: not counted.
    import_entries(releves(1), "Défi d'avant")
    sent = {}
    for size in (100, 2_000):
        name = f"Défi de {size} lignes"
        changed = {4: {"jours": "7"}, 901 % size: {"manger_mieux": ""}}
        for step, data in (
            ("created", releves(size)),
            ("unchanged", releves(size)),
            ("updated", releves(size, changed)),
        ):
            db.session.commit()
            with statements() as statements_sent:
                import_entries(data, name)
                db.session.commit()
            sent[size, step] = len(statements_sent)
    for step in ("created", "unchanged", "updated"):
        assert sent[100, step] == sent[2_000, step], (step, sent)
    # Most of them create the défi and its questionnaire (seed_default_questions).
    assert sent[100, "created"] <= 45, sent


def test_a_file_over_the_cap_is_refused_before_it_is_read(app):
    # Its first row is wrong too: the cap is checked before any line is parsed.
    data = releves(MAX_IMPORT_ROWS + 1, {0: {"jours": "quatre"}})
    with pytest.raises(ImportRejected) as refused:
        import_entries(data, "Défi trop grand")
    db.session.rollback()
    assert refused.value.message.startswith(CAP_REFUSAL)
    assert db.session.scalar(sa.select(sa.func.count(Challenge.id))) == 0


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
@pytest.mark.parametrize("last_end", [True, False])
def test_the_cap_counts_rows_whatever_their_line_ends(app, end, last_end):
    def csv_file(rows):
        data = end.join([b"header"] + [b"row"] * rows)
        return data + end if last_end else data

    check_size(csv_file(MAX_IMPORT_ROWS))
    with pytest.raises(ImportRejected) as refused:
        check_size(csv_file(MAX_IMPORT_ROWS + 1))
    assert refused.value.message.startswith(CAP_REFUSAL)
    # Blank lines, which the import skips, are not rows.
    check_size(csv_file(MAX_IMPORT_ROWS) + (end + b";;" + end + b" ") * MAX_IMPORT_ROWS)


def test_the_page_refuses_a_file_over_the_cap(demo, auth, client):
    assert auth.login("pilote").status_code == 303
    # One good row and 50,000 of rubbish: only the number of lines is looked at. (And the file
    # stays under the 500 kB from which the test client spools it to a file it never closes.)
    over_the_cap = releves(1) + b"x\n" * MAX_IMPORT_ROWS
    before = fingerprint()
    response = client.post(
        "/pilote/import",
        data={
            "file": (io.BytesIO(over_the_cap), "releves.csv"),
            "challenge_name": "Défi trop grand",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert CAP_REFUSAL in page_text(response)
    after = fingerprint()
    after.pop("user"), before.pop("user")  # the login's own writes
    assert after == before


def test_a_foyer_in_another_group_refuses_the_file(app):
    moved = releves(3, {2: {"groupe": "Autre groupe"}})
    with pytest.raises(ImportRejected) as refused:
        import_entries(moved, "Défi 2017")
    db.session.rollback()
    assert refused.value.message == "Ligne 4 : le foyer H-00000 est déjà dans un autre groupe."
    assert db.session.scalar(sa.select(sa.func.count(Challenge.id))) == 0

    import_entries(releves(3), "Défi 2017")
    db.session.commit()
    before = fingerprint()
    with pytest.raises(ImportRejected) as refused:
        import_entries(releves(1, {0: {"groupe": "Autre groupe"}}), "Défi 2017")
    db.session.rollback()
    assert refused.value.message == "Ligne 2 : le foyer H-00000 est déjà dans un autre groupe."
    assert fingerprint() == before


def accompanied_file(count):
    """`count` accompanied foyers, all in the demo's Est group."""
    changed = {
        index: {"foyer": f"ACC-{index:03d}", "groupe": "Les LokoMotiv'", "accompagne": "oui"}
        for index in range(count)
    }
    return releves(count, changed)


def labels_of(challenge_id):
    """{code: label} of the défi's accompanied foyers."""
    return dict(
        db.session.execute(
            sa.select(Household.code, Accompaniment.label)
            .join(Accompaniment)
            .where(Household.challenge_id == challenge_id)
        ).all()
    )


def test_accompanied_foyers_get_random_labels_unique_in_their_group(demo):
    est = db.session.scalar(sa.select(Group).where(Group.name == "Les LokoMotiv'"))
    existing = set(
        db.session.scalars(sa.select(Accompaniment.label).where(Accompaniment.group_id == est.id))
    )
    assert len(existing) == 3
    # 60 more: the 40 plain labels left, then 20 with a number.
    import_entries(accompanied_file(60), None)
    db.session.commit()
    labels = list(
        db.session.scalars(sa.select(Accompaniment.label).where(Accompaniment.group_id == est.id))
    )
    assert len(labels) == len(set(labels)) == 63
    assert existing <= set(labels)
    assert set(ANONYMOUS_LABELS) <= set(labels)
    numbered = [label for label in labels if label not in ANONYMOUS_LABELS]
    assert len(numbered) == 20
    for label in numbered:
        plain, number = label.rsplit(" ", 1)
        assert plain in ANONYMOUS_LABELS and 100 <= int(number) <= 999, label
    first = {code: label for code, label in labels_of(demo.id).items() if code.startswith("ACC")}

    # The same file for another défi: other labels, drawn at random, not from the codes.
    import_entries(accompanied_file(60).replace(b"LokoMotiv'", b"LokoMotiv' 2"), "Défi 2014")
    db.session.commit()
    other = db.session.scalar(sa.select(Challenge.id).where(Challenge.name == "Défi 2014"))
    second = labels_of(other)
    assert second.keys() == first.keys() and second != first


def test_a_row_for_a_collecte_the_defi_lacks_is_refused(app):
    from datetime import date

    from defi.pilot.setup import create_challenge

    two = [(date(2030, 1, 1), date(2030, 1, 31)), (date(2030, 6, 1), date(2030, 6, 30))]
    create_challenge(territory_id(), "Défi en deux collectes", two)
    db.session.commit()
    before = fingerprint()
    with pytest.raises(ImportRejected) as refused:
        import_entries(releves(3), "Défi en deux collectes")  # rows 0-2: collectes 1, 2, 3
    db.session.rollback()
    assert refused.value.message == ("Ligne 4 : le défi n'a pas de collecte 3 (il en a 2).")
    assert fingerprint() == before
