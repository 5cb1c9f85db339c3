"""The pilot's exports and import: DESIGN.md's formats, safety, and the round trip."""

import csv
import io
import random
import re
import statistics
import zipfile
from decimal import ROUND_HALF_UP
from decimal import Decimal

import pytest
import sqlalchemy as sa

from defi.extensions import db
from defi.figures.disclosure import FEW
from defi.figures.export import COMPARISON_HEADER
from defi.figures.export import MICRODATA_WARNING
from defi.figures.export import RAW_HEADER
from defi.figures.export import comparison_tables
from defi.figures.export import microdata_table
from defi.figures.export import partner_tables
from defi.figures.files import INTEGER
from defi.figures.files import SHARE
from defi.figures.files import Layout
from defi.figures.files import Table
from defi.figures.files import cell_style
from defi.figures.files import column_widths
from defi.figures.files import header_height
from defi.figures.files import header_row
from defi.figures.files import sheet_lines
from defi.figures.files import style_cell
from defi.figures.files import to_csv
from defi.figures.files import to_xlsx
from defi.figures.indicators import EntrySums
from defi.figures.indicators import aggregate
from defi.figures.indicators import cost_per_meal_person
from defi.figures.indicators import foyer_values
from defi.figures.indicators import indicator_keys
from defi.figures.indicators import paired_change
from defi.figures.indicators import pooled_parts
from defi.figures.sums import sums_for
from defi.figures.tables import ALL
from defi.figures.tables import OPEN
from defi.figures.tables import SUBGROUPS
from defi.figures.tables import ZERO_START
from defi.figures.tables import publish
from defi.figures.tables import question_choices
from defi.formatting import neutralise
from defi.models import Accompaniment
from defi.models import Answer
from defi.models import Challenge
from defi.models import Entry
from defi.models import Group
from defi.models import Household
from defi.models import Purchase
from defi.models import Question
from defi.models import Wave
from defi.pilot.imports import HEADER
from defi.pilot.imports import ImportRejected
from tests.conftest import IN_DEMO
from tests.conftest import territory_id
from tests.test_import import import_entries


def read_csv(data: bytes):
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


def tables_of(challenge, k=3):
    return {table.name: table for table in comparison_tables(challenge, k)}


def test_demo_retention_holds_the_source_numbers(demo):
    rows = read_csv(to_csv(tables_of(demo)["retention"]))
    assert rows[0] == [
        "groupe",
        "sous_groupe",
        "inscrits",
        "actifs_collecte_1",
        "actifs_collecte_2",
        "actifs_collecte_3",
    ]
    by_key = {(row[0], row[1]): row[2:] for row in rows[1:]}
    assert by_key[("Tous", "tous")][:3] == ["40", "40", "24"]
    assert by_key[("Les LokoMotiv'", "tous")][:3] == ["20", "20", "16"]
    assert by_key[("Graines d'idées", "tous")][:3] == ["20", "20", "8"]
    # 3 accompanied foyers sent wave 2, 2 of them LokoMotiv's: its facilitator (or Noeux's
    # referent, who accompanies 2 of them) would be left with the third: protected.
    assert by_key[("Tous", "accompagnes")][:3] == ["6", "6", ""]
    # Each group's accompanied foyers at wave 2 (2 and 1, under K) are empty, and nothing
    # left shown gives them back: "Tous" minus the other group is empty too.
    for group in ("Les LokoMotiv'", "Graines d'idées"):
        assert by_key[(group, "accompagnes")][2] == ""


def test_demo_comparison_equals_figures_from_the_raw_rows(demo):
    rows = read_csv(to_csv(tables_of(demo)["comparaison"]))
    assert tuple(rows[0]) == COMPARISON_HEADER
    found = {(r[0], r[1], r[2], r[3]): r for r in rows[1:]}
    costs = {}
    for rank in (1, 2):
        entries = db.session.execute(
            sa.select(Entry.id, Entry.meal_covers, Entry.household_id)
            .join(Wave, Wave.id == Entry.wave_id)
            .where(Wave.challenge_id == demo.id, Wave.rank == rank, Entry.status == "submitted")
        ).all()
        costs[rank] = {}
        for entry_id, covers, household_id in entries:
            total = sum(
                db.session.scalars(
                    sa.select(Purchase.total_cents).where(Purchase.entry_id == entry_id)
                )
            )
            value = (Decimal(total) / 100 / covers).quantize(Decimal("0.01"), ROUND_HALF_UP)
            costs[rank][household_id] = float(value)
    for rank in (1, 2):
        row = found[("cout_repas_personne", "Tous", "tous", str(rank))]
        assert row[4] == str(len(costs[rank]))
        mean = statistics.fmean(costs[rank].values())
        assert float(row[5].replace(",", ".")) == pytest.approx(round(mean, 2))
        median = statistics.median(costs[rank].values())
        assert float(row[6].replace(",", ".")) == pytest.approx(round(median, 2))
    paired = [h for h in costs[2] if h in costs[1]]
    before = statistics.fmean(costs[1][h] for h in paired)
    after = statistics.fmean(costs[2][h] for h in paired)
    row = found[("cout_repas_personne", "Tous", "tous", "2")]
    assert row[8] == str(len(paired))
    assert float(row[9].replace(",", ".")) == pytest.approx(
        round((after - before) / before * 100, 1)
    )
    # Wave 2 of Graines d'idées: 1 accompanied foyer (< K): it and its complement are empty.
    for subgroup in ("accompagnes", "non_accompagnes"):
        assert found[("cout_repas_personne", "Graines d'idées", subgroup, "2")][4:] == [""] * 6


def test_exports_hold_no_name_or_contact(demo):
    households = db.session.scalars(sa.select(Household)).all()
    tables = comparison_tables(demo, 3)
    assert [table.name for table in tables] == ["comparaison", "retention", "questionnaire"]
    blob = b"".join(to_csv(table) for table in tables).decode("utf-8-sig")
    xlsx = to_xlsx(tables)
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        xml = "".join(archive.read(name).decode() for name in archive.namelist())
    microdata = to_csv(microdata_table(demo)).decode("utf-8-sig")
    for household in households:
        for value in (household.display_name, household.phone, household.email):
            if value:
                assert value not in blob and value not in xml and value not in microdata, value
        # The files for partners hold tables only: no foyer's code, no relevé. The microdata
        # hold the défi's own foyers' codes, never another territory's.
        assert household.code not in blob and household.code not in xml, household.code
        assert (household.code in microdata) == (household.challenge_id == demo.id)


def test_microdata_say_they_are_confidential(demo, auth, client):
    assert auth.login("pilote").status_code == 303
    response = client.get("/pilote/export/donnees-CONFIDENTIEL.csv")
    assert response.status_code == 200
    assert "CONFIDENTIEL" in response.headers["Content-Disposition"]
    lines = read_csv(response.data)
    assert lines[0] == [MICRODATA_WARNING]
    assert lines[1][:3] == ["foyer", "groupe", "accompagne"]
    assert len(lines) == 2 + 40 + 24  # the header, then every relevé of waves 1 and 2
    # The partners' spreadsheet has no "donnees" sheet and the old CSV is gone.
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(client.get("/pilote/export/comparaison.xlsx").data))
    assert workbook.sheetnames == ["Synthèse", "comparaison", "retention", "questionnaire"]
    assert client.get("/pilote/export/donnees.csv").status_code == 404


def test_microdata_equal_each_releves_own_sums(demo):
    """The microdata's own query gives, relevé by relevé, what the figures' sums give."""
    # A relevé of each kind beside the demo's purchases: totals from a paper sheet, a cost
    # given directly, a declared waste total, and two choices ticked for one question.
    entries = db.session.scalars(
        sa.select(Entry).join(Wave).where(Wave.challenge_id == demo.id).order_by(Entry.id)
    ).all()
    entries[0].cost_mode, entries[0].spend_total_cents = "totals", 12345
    entries[0].spend_organic_cents, entries[0].spend_local_cents = 2345, 345
    entries[1].cost_mode, entries[1].direct_cost_cents = "direct", 275
    entries[2].declared_waste_grams, entries[2].declared_recipes = 1250, 4
    question = db.session.scalar(
        sa.select(Question).where(Question.challenge_id == demo.id, Question.kind == "multiple")
    )
    db.session.execute(sa.delete(Answer).where(Answer.entry_id == entries[3].id))
    for choice in reversed(question.choices[:2]):
        db.session.add(Answer(entry_id=entries[3].id, question_id=question.id, choice_id=choice.id))
    db.session.flush()
    sums = sums_for(sa.select(Entry.id).join(Wave).where(Wave.challenge_id == demo.id))
    by_entry = {
        (entry.household.code, entry.wave.rank): (entry, sums[entry.id]) for entry in entries
    }
    table = microdata_table(demo)
    questions = table.header[len(RAW_HEADER) : -1]
    assert len(table.rows) == len(entries)
    for row in table.rows:
        entry, entry_sums = by_entry[row[0], row[3]]
        spend = None if entry.cost_mode == "direct" else entry_sums.spend_total_cents
        assert row[6:9] == (
            (None, None, None)
            if spend is None
            else (
                spend / 100,
                entry_sums.spend_organic_cents / 100,
                entry_sums.spend_local_cents / 100,
            )
        )
        assert row[10] == cost_per_meal_person(entry_sums)
        waste = entry_sums.waste_grams
        assert row[11:14] == (
            None if waste is None else waste / 1000,
            entry_sums.recipes,
            entry_sums.producers,
        )
        ticked = {}
        for item in sorted(entry_sums.choices):
            key, choice = item.split(":", 1)
            ticked.setdefault(key, []).append(choice)
        assert row[len(RAW_HEADER) : -1] == tuple("|".join(ticked.get(q, [])) for q in questions)
    rows = {(row[0], row[3]): row for row in table.rows}
    first = entries[0]
    assert rows[first.household.code, first.wave.rank][6:9] == (123.45, 23.45, 3.45)
    assert rows[entries[1].household.code, entries[1].wave.rank][10] == 2.75
    assert rows[entries[2].household.code, entries[2].wave.rank][11:13] == (1.25, 4)
    two = "|".join(sorted(choice.key for choice in question.choices[:2]))
    column = len(RAW_HEADER) + questions.index(question.key)
    assert rows[entries[3].household.code, entries[3].wave.rank][column] == two


PAYLOADS = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", '=HYPERLINK("x")']


def import_file(rows, delimiter=";", bom=True):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    return ("\ufeff".encode() + data) if bom else data


def row(code, group, rank, **values):
    base = {
        "accompagne": "non",
        "personnes": "3",
        "jours": "14",
        "depenses_eur": "84,50",
        "dont_bio_eur": "10.25",
        "dont_local_eur": "20",
        "repas_convives": "42",
        "cout_repas_personne_eur": "",
        "gaspillage_kg": "1,250",
        "recettes": "1",
        "producteurs": "2",
        "manger_mieux": "",
        "j_agis_sur": "",
        "maintien": "",
    }
    base.update(values)
    return [code, group, base["accompagne"], str(rank)] + [base[h] for h in HEADER[4:]]


def test_export_neutralises_formula_triggers(app):
    rows = [row(f"F{i}", payload, 1) for i, payload in enumerate(PAYLOADS)]
    import_entries(import_file(rows), "Défi piégé")
    db.session.commit()
    challenge = db.session.scalar(sa.select(Challenge).where(Challenge.name == "Défi piégé"))
    tables = comparison_tables(challenge, 3)
    for table in tables:
        for line in read_csv(to_csv(table))[1:]:
            for cell in line:
                if cell and cell[0] in "=+-@\t\r":
                    # Only numbers may start with a minus sign.
                    assert re.fullmatch(r"-\d+(,\d+)?", cell), (table.name, cell)
    with zipfile.ZipFile(io.BytesIO(to_xlsx(tables))) as archive:
        for name in archive.namelist():
            xml = archive.read(name).decode()
            assert "<f>" not in xml and "<f " not in xml, name
        strings = (
            archive.read("xl/sharedStrings.xml").decode()
            if "xl/sharedStrings.xml" in archive.namelist()
            else ""
        )
        sheets = strings + "".join(
            archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/")
        )
    from xml.sax.saxutils import escape

    names = db.session.scalars(sa.select(Group.name).where(Group.challenge_id == challenge.id))
    triggered = [name for name in names if name.startswith(("=", "+", "-", "@"))]
    assert len(triggered) >= 4
    for name in triggered:
        assert ">'" + escape(name, {'"': "&quot;"}) in sheets or ">'" + escape(name) in sheets, name


def test_import_then_export_round_trip(app):
    rows = [
        row("A-01", "Les Radis", 1, manger_mieux="manger_mieux|nouveaux_gouts", j_agis_sur="bio"),
        row("A-01", "Les Radis", 2, depenses_eur="90", maintien="mieux", accompagne="non"),
        row(
            "A-02",
            "Les Radis",
            1,
            depenses_eur="",
            dont_bio_eur="",
            dont_local_eur="",
            repas_convives="",
            cout_repas_personne_eur="2,75",
        ),
        row("B-01", "Les Navets", 1, accompagne="oui", gaspillage_kg=""),
    ]
    data = import_file(rows, delimiter=",", bom=False)
    counts = import_entries(data, "Défi 2020-2021")
    db.session.commit()
    assert counts == {"created": 4, "updated": 0, "unchanged": 0}
    challenge = db.session.scalar(sa.select(Challenge).where(Challenge.name == "Défi 2020-2021"))
    assert [wave.rank for wave in challenge.waves] == [1, 2, 3]
    raw = read_csv(to_csv(microdata_table(challenge)))[1:]
    assert raw[0][: len(HEADER)] == list(HEADER)
    by_key = {(r[0], r[3]): r for r in raw[1:]}
    a1 = by_key[("A-01", "1")]
    assert a1[6:12] == ["84,5", "10,25", "20", "42", "2,01", "1,25"]  # 84,50 / 42 = 2,0119
    assert a1[14] == "manger_mieux|nouveaux_gouts" and a1[15] == "bio"
    assert by_key[("A-01", "2")][16] == "mieux"
    assert by_key[("A-02", "1")][10] == "2,75"
    assert by_key[("B-01", "1")][2] == "oui"
    # The same file again changes nothing.
    before = db.session.scalar(sa.select(sa.func.count(Entry.id)))
    assert import_entries(data, "Défi 2020-2021") == {"created": 0, "updated": 0, "unchanged": 4}
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(Entry.id))) == before


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"collecte": "4"}, "Ligne 3 : collecte doit être entre 1 et 3."),
        ({"personnes": "deux"}, "Ligne 3 : personnes doit être un nombre entier"),
        ({"dont_bio_eur": "100"}, "Ligne 3 : dont_bio_eur ne peut pas dépasser depenses_eur."),
        ({"accompagne": "peut-être"}, "Ligne 3 : accompagne doit valoir oui ou non."),
        ({"maintien": "beaucoup"}, "n'est pas une réponse de maintien"),
        (
            {"repas_convives": "", "cout_repas_personne_eur": ""},
            "Ligne 3 : il faut cout_repas_personne_eur",
        ),
    ],
)
def test_one_bad_row_rejects_the_whole_file(app, bad, message):
    good = row("C-01", "Les Choux", 2)
    broken = row("C-02", "Les Choux", 2)
    columns = ["foyer", "groupe", "accompagne", "collecte", *HEADER[4:]]
    for name, value in bad.items():
        broken[columns.index(name)] = value
    with pytest.raises(ImportRejected) as rejected:
        import_entries(import_file([good, broken]), "Défi rejeté")
    db.session.rollback()
    assert message in rejected.value.message
    assert db.session.scalar(sa.select(sa.func.count(Entry.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Challenge.id))) == 0


def test_import_command_reports_the_line(app, tmp_path):
    territory_id()  # the install's only territory: no need to name it
    db.session.commit()
    path = tmp_path / "releves.csv"
    path.write_bytes(import_file([row("D-01", "G", 1, jours="999")]))
    result = app.test_cli_runner().invoke(args=["import-entries", str(path), "--challenge", "X"])
    assert result.exit_code != 0
    assert "Ligne 2 : jours doit être entre 1 et 366." in result.output
    assert db.session.scalar(sa.select(sa.func.count(Challenge.id))) == 0


def test_export_command_writes_csv_and_xlsx(demo, app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "export-comparison",
            *IN_DEMO,
            "--format",
            "csv",
            "--output",
            str(tmp_path / "c.csv"),
        ]
    )
    assert result.exit_code == 0, result.output
    for name in ("c.csv", "c-retention.csv", "c-questionnaire.csv"):
        assert (tmp_path / name).read_bytes().startswith("\ufeff".encode())
    assert not (tmp_path / "c-donnees.csv").exists()
    result = runner.invoke(
        args=[
            "export-comparison",
            *IN_DEMO,
            "--format",
            "xlsx",
            "--output",
            str(tmp_path / "c.xlsx"),
        ]
    )
    assert result.exit_code == 0, result.output
    from openpyxl import load_workbook

    workbook = load_workbook(tmp_path / "c.xlsx")
    assert workbook.sheetnames == ["Synthèse", "comparaison", "retention", "questionnaire"]
    retention = workbook["retention"]
    assert [cell.value for cell in retention[2]][:5] == ["Tous", "tous", 40, 40, 24]
    result = runner.invoke(args=["export-microdata", *IN_DEMO, str(tmp_path / "m.csv")])
    assert result.exit_code == 0, result.output
    lines = read_csv((tmp_path / "m.csv").read_bytes())
    assert lines[0] == [MICRODATA_WARNING] and len(lines) == 2 + 40 + 24


def independent_values(challenge, rank):
    """Each submitted relevé's indicators at a wave, from the raw rows (not the app's code)."""
    from defi.models import Accompaniment
    from defi.models import Producer
    from defi.models import Recipe
    from defi.models import Weighing

    rows = db.session.execute(
        sa.select(
            Entry.id,
            Entry.persons,
            Entry.period_days,
            Entry.meal_covers,
            Group.name,
            Accompaniment.id.is_not(None),
        )
        .join(Household, Household.id == Entry.household_id)
        .join(Group, Group.id == Household.group_id)
        .join(Wave, Wave.id == Entry.wave_id)
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Wave.challenge_id == challenge.id, Wave.rank == rank, Entry.status == "submitted")
    ).all()
    foyers = []
    for entry_id, persons, days, _covers, group_name, accompanied in rows:
        purchases = db.session.execute(
            sa.select(Purchase.total_cents, Purchase.organic_cents, Purchase.local_cents).where(
                Purchase.entry_id == entry_id
            )
        ).all()
        total = sum(p[0] for p in purchases)
        grams = db.session.scalars(
            sa.select(Weighing.grams).where(Weighing.entry_id == entry_id)
        ).all()
        values = {
            "part_bio": sum(p[1] for p in purchases) / total,
            "part_locale": sum(p[2] for p in purchases) / total,
            "recettes": db.session.scalar(
                sa.select(sa.func.count(Recipe.id)).where(Recipe.entry_id == entry_id)
            ),
            "producteurs": db.session.scalar(
                sa.select(sa.func.count(Producer.id)).where(Producer.entry_id == entry_id)
            ),
            "gaspillage_kg_pers_an": sum(grams) / 1000 / persons / days * 365 if grams else None,
        }
        parts = {
            "part_bio": (sum(p[1] for p in purchases), total),
            "part_locale": (sum(p[2] for p in purchases), total),
            "gaspillage_kg_pers_an": (sum(grams) / 1000 * 365, persons * days) if grams else None,
        }
        foyers.append((group_name, bool(accompanied), values, parts))
    return foyers


def number(cell):
    return float(cell.replace(",", "."))


@pytest.mark.parametrize(
    "key", ["part_bio", "part_locale", "gaspillage_kg_pers_an", "recettes", "producteurs"]
)
def test_every_comparison_figure_equals_the_raw_rows(demo, key):
    rows = read_csv(to_csv(tables_of(demo)["comparaison"]))
    found = {(r[0], r[1], r[2], r[3]): r for r in rows[1:]}
    scale = 100 if key.startswith("part") else 1
    checked = 0
    for rank in (1, 2):
        foyers = independent_values(demo, rank)
        scopes = {"Tous": foyers}
        for name in ("Les LokoMotiv'", "Graines d'idées"):
            scopes[name] = [f for f in foyers if f[0] == name]
        for scope, members in scopes.items():
            subgroups = {
                "tous": members,
                "accompagnes": [f for f in members if f[1]],
                "non_accompagnes": [f for f in members if not f[1]],
            }
            # n counts the foyers with a value; under K = 3 a cell and its complement are empty.
            with_value = {
                name: [f for f in subset if f[2][key] is not None]
                for name, subset in subgroups.items()
            }
            few = {name for name, subset in with_value.items() if 0 < len(subset) < 3}
            for subgroup, subset in subgroups.items():
                row = found[(key, scope, subgroup, str(rank))]
                values = [f[2][key] for f in subset if f[2][key] is not None]
                if subgroup in few or row[4] == "":
                    # Under K, or hidden so that no difference gives it back (test_disclosure).
                    assert row[4:] == [""] * 6, (scope, subgroup, rank)
                    continue
                assert row[4] == str(len(values)), (scope, subgroup, rank)
                if not values:
                    continue
                assert number(row[5]) == pytest.approx(
                    round(statistics.fmean(values) * scale, 2), abs=0.006
                )
                assert number(row[6]) == pytest.approx(
                    round(statistics.median(values) * scale, 2), abs=0.006
                )
                parts = [f[3][key] for f in subset if key in f[3] and f[3][key] is not None]
                if parts:
                    pooled = sum(p[0] for p in parts) / sum(p[1] for p in parts) * scale
                    assert number(row[7]) == pytest.approx(round(pooled, 2), abs=0.006)
                checked += 1
    # Waste is weighed by fewer foyers: more of its cells are hidden (at the mid wave, the
    # territory's too, which a facilitator could take its own group's weighings out of).
    assert checked >= 3


def add_random_releves(challenge, seed=7, count=60):
    """Foyers with random relevés in the défi's groups, with the odd cases the sums must keep.

    Purchases of 0 € and several at one place, totals and direct modes beside purchases,
    weighings of 0 g, declared counts, empty recipe titles and producer names, drafts, foyers
    missing a wave, a third of them accompanied.
    """
    from defi.models import Producer
    from defi.models import Question
    from defi.models import Recipe
    from defi.models import Structure
    from defi.models import Weighing
    from defi.models.collecte import COST_MODES
    from defi.models.collecte import PLACE_TYPES
    from defi.models.collecte import WEIGHING_CATEGORIES

    rng = random.Random(seed)
    structure = db.session.scalar(sa.select(Structure).limit(1))
    questions = db.session.scalars(
        sa.select(Question).where(Question.challenge_id == challenge.id)
    ).all()
    for number in range(count):
        group = challenge.groups[number % len(challenge.groups)]
        household = Household(
            challenge_id=challenge.id, group=group, code=f"GEN-{number:02d}", display_name="G"
        )
        if number % 3 == 0:
            household.accompaniment = Accompaniment(
                structure=structure, group_id=group.id, label=f"Panais {number}"
            )
        db.session.add(household)
        for wave in challenge.waves:
            if rng.random() < 0.2:
                continue
            entry = Entry(
                household=household,
                wave=wave,
                status="draft" if rng.random() < 0.15 else "submitted",
                persons=rng.choice((None, 1, 3, 5)),
                period_days=rng.choice((None, 7, 14)),
                meal_covers=rng.choice((None, 0, 12, 41)),
                cost_mode=rng.choice(COST_MODES),
            )
            db.session.add(entry)
            if entry.cost_mode == "totals":
                entry.spend_total_cents = rng.choice((0, 4500, 8999))
                entry.spend_organic_cents = rng.randint(0, entry.spend_total_cents)
                entry.spend_local_cents = rng.randint(0, entry.spend_total_cents)
            if entry.cost_mode == "direct":
                entry.direct_cost_cents = rng.choice((None, 275))
            if rng.random() < 0.2:
                entry.declared_waste_grams = rng.choice((0, 2500))
            if rng.random() < 0.2:
                entry.declared_recipes, entry.declared_producers = rng.randint(0, 3), 0
            for _ in range(rng.randint(0, 4)):
                total = rng.choice((0, 150, 999, 4321))
                entry.purchases.append(
                    Purchase(
                        place_type=rng.choice(PLACE_TYPES[:3]),
                        total_cents=total,
                        organic_cents=rng.randint(0, total),
                        local_cents=rng.randint(0, total),
                    )
                )
            for _ in range(rng.randint(0, 3)):
                entry.weighings.append(
                    Weighing(category=rng.choice(WEIGHING_CATEGORIES), grams=rng.choice((0, 1234)))
                )
            for _ in range(rng.randint(0, 2)):
                entry.recipes.append(Recipe(title=rng.choice(("", "Soupe")), purpose="restes"))
            for _ in range(rng.randint(0, 2)):
                name = rng.choice(("", "Ferme"))
                entry.producers.append(Producer(name=name, kind="ferme", dedup_key=name))
            for question in questions:
                if question.from_rank <= wave.rank:
                    for choice in question.choices:
                        if rng.random() < 0.4:
                            entry.answers.append(Answer(question_id=question.id, choice=choice))
    db.session.commit()


def summed_one_by_one(entry):
    """The EntrySums of a relevé, its rows added one by one in Python (no SQL sum)."""
    if entry.cost_mode == "totals":
        total = entry.spend_total_cents or 0
        organic = entry.spend_organic_cents or 0
        local = entry.spend_local_cents or 0
        places = None
    else:
        total = organic = local = 0
        places = {}
        for purchase in entry.purchases:
            total += purchase.total_cents
            organic += purchase.organic_cents
            local += purchase.local_cents
            places[purchase.place_type] = places.get(purchase.place_type, 0) + purchase.total_cents
    if entry.declared_waste_grams is not None:
        waste, categories = entry.declared_waste_grams, None
    else:
        categories = {}
        for weighing in entry.weighings:
            categories[weighing.category] = categories.get(weighing.category, 0) + weighing.grams
        waste = sum(categories.values()) if entry.weighings else None
    recipes = sum(1 for recipe in entry.recipes if recipe.title)
    producers = sum(1 for producer in entry.producers if producer.name)
    return EntrySums(
        persons=entry.persons,
        period_days=entry.period_days,
        meal_covers=entry.meal_covers,
        cost_mode=entry.cost_mode,
        direct_cost_cents=entry.direct_cost_cents,
        spend_total_cents=total,
        spend_organic_cents=organic,
        spend_local_cents=local,
        spend_by_place=places,
        waste_grams=waste,
        waste_by_category=categories,
        recipes=recipes if entry.declared_recipes is None else entry.declared_recipes,
        producers=producers if entry.declared_producers is None else entry.declared_producers,
        choices=frozenset(f"{a.choice.question.key}:{a.choice.key}" for a in entry.answers),
        household_id=entry.household_id,
        wave_id=entry.wave_id,
        status=entry.status,
    )


def test_sql_sums_equal_the_rows_summed_one_by_one(demo):
    add_random_releves(demo)
    entries = db.session.scalars(sa.select(Entry)).all()
    assert len(entries) > 150
    expected = {entry.id: summed_one_by_one(entry) for entry in entries}
    assert sums_for(sa.select(Entry.id)) == expected
    # One relevé alone, as the foyer's pages ask for it.
    one = entries[-1].id
    assert sums_for(sa.select(Entry.id).where(Entry.id == one)) == {one: expected[one]}
    assert sums_for(sa.select(Entry.id).where(Entry.id == -1)) == {}


def progress_foyer_by_foyer(challenge, group_ids, k, choices):
    """The progress table computed the plain way, one foyer's dict of values at a time."""
    rows = db.session.execute(
        sa.select(Entry.id, Entry.household_id, Wave.rank, Accompaniment.id.is_not(None))
        .join(Household, Household.id == Entry.household_id)
        .join(Wave, Wave.id == Entry.wave_id)
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Household.group_id.in_(group_ids), Entry.status == "submitted")
    ).all()
    sums = sums_for(sa.select(Entry.id))
    pairs = [(question, choice) for question, choice, *_rest in choices]
    from_rank = {question: rank for question, _c, _t, _l, rank in choices}
    values, parts, side = {}, {}, {}
    for entry_id, household, rank, accompanied in rows:
        asked = [(q, c) for q, c in pairs if from_rank[q] <= rank]
        values[(household, rank)] = foyer_values(sums[entry_id], asked)
        parts[(household, rank)] = sums[entry_id]
        side[household] = "accompagnes" if accompanied else "non_accompagnes"
    table = {}
    for key in indicator_keys(pairs):
        table[key] = {}
        for rank in (1, 2, 3):
            members = {
                subgroup: [h for (h, r) in values if r == rank and subgroup in ("tous", side[h])]
                for subgroup in SUBGROUPS
            }
            cells = {
                subgroup: aggregate(
                    [values[(h, rank)].get(key) for h in foyers],
                    [pooled_parts(key, parts[(h, rank)]) for h in foyers],
                )
                for subgroup, foyers in members.items()
            }
            table[key][rank] = {}
            for subgroup, figure in cells.items():
                change = (None, None)
                if rank > 1 and figure.n:
                    first = {
                        h: values[(h, 1)].get(key) for h in members[subgroup] if (h, 1) in values
                    }
                    later = {h: values[(h, rank)].get(key) for h in members[subgroup]}
                    change = paired_change(first, later)
                table[key][rank][subgroup] = (figure, change)
    return table


def test_progress_of_every_scope_equals_a_foyer_by_foyer_computation(demo):
    add_random_releves(demo, seed=11, count=90)
    choices = question_choices(demo.id)
    scopes = {ALL: [group.id for group in demo.groups]}
    scopes.update({group.id: [group.id] for group in demo.groups})
    tables = publish(demo, 3).tables
    checked = paired = protected = 0
    for scope, group_ids in scopes.items():
        expected = progress_foyer_by_foyer(demo, group_ids, 3, choices)
        assert tables[scope].keys() == expected.keys()
        for key, by_rank in expected.items():
            for rank, cells in by_rank.items():
                for subgroup, (figure, (paired_n, change)) in cells.items():
                    cell = tables[scope][key][rank][subgroup]
                    where = (scope, key, rank, subgroup)
                    if 0 < figure.n < 3:
                        assert cell.hidden in (FEW, OPEN), where
                    if cell.hidden is not None:
                        assert (cell.n, cell.mean, cell.median, cell.paired_n) == (None,) * 4
                        protected += figure.n >= 3
                        continue
                    assert cell.n == figure.n, where
                    for found, value in (
                        (cell.mean, figure.mean),
                        (cell.median, figure.median),
                        (cell.pooled, figure.pooled),
                    ):
                        assert found == (value if value is None else pytest.approx(value))
                    if rank == 1 or not figure.n:
                        assert (cell.paired_n, cell.change_pct) == (None, None)
                    elif 0 < paired_n < 3:
                        assert (cell.paired_n, cell.change_pct) == (None, None), where
                        assert cell.change_hidden == FEW
                    elif cell.change_hidden == ZERO_START:
                        assert change is None and cell.paired_n == paired_n
                    elif cell.change_hidden is None and paired_n:
                        assert cell.paired_n == paired_n
                        assert cell.change_pct == pytest.approx(change)
                        paired += 1
                    checked += 1
    # Every generated accompanied foyer has the same structure, the other has 2 or 3: its
    # referent would take its own out of any accompanied figure and be left with those, so
    # accompanied figures (and the non-accompanied ones that give them back) are protected.
    assert checked > 200 and paired > 40 and protected > 0


# Text a sheet must keep as it is: spaces around, XML's special characters, accents, emoji,
# line breaks, formula triggers (neutralised first), a text over a cell's 32,767 characters.
AWKWARD_TEXTS = [
    "plain", " leading", "trailing ", "  ", "", "a&b<c>d\"e'f", "Graines d'idées", "🥕 — ü",
    "line\nbreak", "=1+1", "+1", "-x", "@x", "\tTab", "\rCR", "x" * 40000,
]  # fmt: skip
AWKWARD_NUMBERS = [0, 1, -7, 2**40, 0.1, -0.0, 2.5, 1 / 3, 1e20, 1e-7, -9.5, 12345678901234567]


def openpyxl_xlsx(tables) -> bytes:
    """The same sheets through openpyxl's own write-only sheets: the layout set through its
    API, every cell styled as it is appended, text neutralised first."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.cell_range import CellRange

    workbook = Workbook(write_only=True)
    for table in tables:
        sheet = workbook.create_sheet(title=table.name)
        layout = table.layout
        for column, width in enumerate(column_widths(table), 1):
            sheet.column_dimensions[get_column_letter(column)].width = width
        header = header_row(table)
        sheet.freeze_panes = f"{get_column_letter(layout.frozen_columns + 1)}{header + 1}"
        last = get_column_letter(len(table.header))
        sheet.auto_filter.ref = f"A{header}:{last}{header + len(table.rows)}"
        for _title, first, end in layout.bands:
            sheet.merged_cells.add(
                CellRange(min_col=first, max_col=end, min_row=header - 1, max_row=header - 1)
            )
        if layout.landscape:
            sheet.page_setup.orientation = "landscape"
            sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
            sheet.sheet_properties.pageSetUpPr.fitToPage = True
            sheet.print_title_rows = f"{header - bool(layout.bands)}:{header}"
        if header_height(table):
            sheet.row_dimensions[header].height = header_height(table)
        for _number, kind, values in sheet_lines(table):
            cells = []
            for column, value in enumerate(values):
                if value is None:
                    cells.append(None)
                    continue
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    value = neutralise(str(value))
                cell = WriteOnlyCell(sheet, value=value)
                key = cell_style(table, kind, column)
                cells.append(cell if key is None else style_cell(cell, key))
            sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def assert_same_xlsx(written: bytes, expected: bytes):
    with (
        zipfile.ZipFile(io.BytesIO(expected)) as expected,
        zipfile.ZipFile(io.BytesIO(written)) as written,
    ):
        assert written.namelist() == expected.namelist()
        for name in expected.namelist():
            if name != "docProps/core.xml":  # holds the time it was written
                assert written.read(name) == expected.read(name), name
        assert b"<f>" not in written.read("xl/worksheets/sheet1.xml")


def test_xlsx_sheets_are_the_xml_openpyxl_writes():
    rows = [
        (text, number, None, True, text)
        for text, number in zip(AWKWARD_TEXTS, AWKWARD_NUMBERS * 2, strict=False)
    ]
    rows += [(None, None), (), ("last",)]
    tables = [Table("un", ("a", "b", "c", "d", "e"), rows), Table("deux", ("x",), [])]
    assert_same_xlsx(to_xlsx(tables), openpyxl_xlsx(tables))


def test_laid_out_sheets_are_the_xml_openpyxl_writes(demo):
    # Title and notes, merged bands, a format per row, wrapped labels, a tall header, frozen
    # columns, landscape pages: the partners' workbook, and the microdata as a workbook.
    tables = partner_tables(demo, 3) + [microdata_table(demo)]
    tables.append(
        Table(
            "formats",
            ("n", "part", "texte"),
            [(1, 0.25, "=1+1"), (None, 0.5, None), (2.5, None, "x")],
            preamble=("Titre", "+note"),
            layout=Layout(formats=(INTEGER, SHARE), wrapped=(2,), widths=(3, 3, 3)),
        )
    )
    assert_same_xlsx(to_xlsx(tables), openpyxl_xlsx(tables))


def test_xlsx_keeps_an_error_code_as_text():
    # openpyxl would store "#N/A" as an error cell: a group's name stays a name.
    from openpyxl import load_workbook

    data = to_xlsx([Table("t", ("groupe",), [("#N/A",), ("#DIV/0!",)])])
    sheet = load_workbook(io.BytesIO(data))["t"]
    assert [(cell.value, cell.data_type) for (cell,) in sheet.iter_rows(min_row=2)] == [
        ("#N/A", "s"),
        ("#DIV/0!", "s"),
    ]
