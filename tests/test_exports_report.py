"""Report-ready exports: the partners' workbook opens on a "Synthèse" laid out for a report,
every sheet has widths, a frozen header, a filter and number formats, the figures are the
publication's and count sent relevés only, and the pilot's microdata say which are drafts."""

import io
import re
import statistics
import zipfile
from decimal import ROUND_HALF_UP
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from defi.extensions import db
from defi.figures.disclosure import FEW
from defi.figures.export import COMPARISON_HEADER
from defi.figures.export import MICRODATA_WARNING
from defi.figures.export import QUESTIONNAIRE_HEADER
from defi.figures.export import RETENTION_HEADER
from defi.figures.export import comparison_tables
from defi.figures.export import microdata_table
from defi.figures.export import partner_tables
from defi.figures.export import synthesis_change
from defi.figures.files import CHANGE_PERCENT
from defi.figures.files import CHANGE_POINTS
from defi.figures.files import EUROS
from defi.figures.files import SHARE
from defi.figures.files import to_csv
from defi.figures.files import to_xlsx
from defi.figures.tables import ALL
from defi.figures.tables import SUBGROUPS
from defi.figures.tables import ZERO_START
from defi.figures.tables import Cell
from defi.figures.tables import publish
from defi.formatting import day
from defi.formatting import today
from defi.models import Answer
from defi.models import Choice
from defi.models import Entry
from defi.models import Group
from defi.models import Household
from defi.models import Purchase
from defi.models import Question
from defi.models import Wave
from defi.models import Weighing
from tests.conftest import IN_DEMO
from tests.conftest import demo_code
from tests.test_exports import read_csv

XLSX_URL = "/pilote/export/comparaison.xlsx"
MICRODATA_URL = "/pilote/export/donnees-CONFIDENTIEL.csv"
SHEETS = ["Synthèse", "comparaison", "retention", "questionnaire"]
CODE = re.compile(r"\b(?:EST|OUEST)-[0-9A-Z]{2,}\b")
# The Synthèse of the demo: 7 lines of title and notes (the end wave is open), a blank row,
# the groups' band, the header, then 3 subgroups × (1 retention row + 20 indicators + the
# 15 choices of the questionnaire); 2 label columns + 3 scopes × (3 waves + 2 changes).
HEADER_ROW = 10
ROWS = 3 * (1 + 20 + 15)
LAST_COLUMN = "Q"
SUBGROUP_NAMES = {
    "tous": "tous",
    "accompagnes": "accompagnés",
    "non_accompagnes": "non accompagnés",
}


def spaced(text):
    """A label or note with its non-breaking spaces read as spaces."""
    return text.replace("\xa0", " ")


def exact(value):
    """A float as the sheet holds it: 16 significant digits (openpyxl's `%.16g`)."""
    return value if value is None else pytest.approx(value, rel=1e-15, abs=1e-300)


def workbook_of(client, auth):
    assert auth.login("pilote").status_code == 303
    response = client.get(XLSX_URL)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="comparaison.xlsx"'
    return response.data, load_workbook(io.BytesIO(response.data))


def synthesis_cells(sheet):
    """{(label, subgroup): {(scope, column title): cell}} of the Synthèse's table."""
    scope, scopes = None, []
    for cell in sheet[HEADER_ROW - 1]:
        scope = cell.value or scope
        scopes.append(scope)
    titles = [cell.value for cell in sheet[HEADER_ROW]]
    found = {}
    for row in sheet.iter_rows(min_row=HEADER_ROW + 1):
        found[(spaced(row[0].value), row[1].value)] = {
            (scopes[i], titles[i]): cell for i, cell in enumerate(row) if i >= 2
        }
    return found


def test_partner_workbook_opens_on_a_synthesis_laid_out_for_a_report(demo, client, auth):
    _data, workbook = workbook_of(client, auth)
    assert workbook.sheetnames == SHEETS
    sheet = workbook["Synthèse"]
    assert sheet["A1"].value == "Synthèse des résultats" and sheet["A1"].font.b
    assert sheet["A2"].value == "Défi Famille à alimentation positive 2021-2022"
    with client.application.test_request_context():
        assert sheet["A3"].value == f"Export du {day(today())}"
    notes = spaced(" ".join(sheet.cell(row, 1).value for row in range(4, 8)))
    assert "Chiffres\xa0: moyenne" in sheet["A4"].value  # French typography
    assert "envoyé leur relevé" in notes and "brouillon" in notes
    assert "effectif trop faible (moins de 3 foyers" in notes
    assert "en points (pts) pour les parts, en % pour les montants" in notes
    assert "Collecte « fin » en cours" in notes
    # The groups' band over their columns, the header below, both frozen with the labels.
    assert [sheet.cell(HEADER_ROW - 1, column).value for column in (3, 8, 13)] == [
        "Tous les groupes",
        "Graines d'idées",
        "Les LokoMotiv'",
    ]
    assert {str(merged) for merged in sheet.merged_cells.ranges} == {"C9:G9", "H9:L9", "M9:Q9"}
    assert [cell.value for cell in sheet[HEADER_ROW]][:7] == [
        "Indicateur",
        "Foyers",
        "Début",
        "Milieu",
        "Fin",
        "Évolution début → milieu",
        "Évolution début → fin",
    ]
    assert all(cell.font.b for cell in sheet[HEADER_ROW])
    assert sheet.freeze_panes == f"C{HEADER_ROW + 1}"
    assert sheet.auto_filter.ref == f"A{HEADER_ROW}:{LAST_COLUMN}{HEADER_ROW + ROWS}"
    assert sheet.max_row == HEADER_ROW + ROWS
    assert sheet.column_dimensions["A"].width == 58
    assert sheet.column_dimensions["B"].width == 16
    assert [sheet.column_dimensions[letter].width for letter in "CDEFG"] == [11, 11, 11, 14, 14]
    assert sheet.column_dimensions[LAST_COLUMN].width == 14
    assert sheet.row_dimensions[HEADER_ROW].height == 30  # "Évolution début → milieu" wraps
    assert sheet.page_setup.orientation == "landscape"
    # One row per indicator and subgroup, in French, with its unit; the questionnaire last,
    # in its order.
    labels = [
        spaced(sheet.cell(row, 1).value) for row in range(HEADER_ROW + 1, HEADER_ROW + ROWS + 1)
    ]
    assert labels[::3] == list(dict.fromkeys(labels))
    assert [sheet.cell(row, 2).value for row in range(HEADER_ROW + 1, HEADER_ROW + 4)] == [
        "tous",
        "accompagnés",
        "non accompagnés",
    ]
    for label in (
        "Foyers ayant envoyé leur relevé (nombre)",
        "Coût d'un repas par personne (€)",
        "Part du bio (%)",
        "Part du local (%)",
        "Part achetée en vente directe / ferme (%)",
        "Part achetée au marché (%)",
        "Gaspillage (kg par personne et par an)",
        "Recettes partagées (par foyer)",
        "Adresses de producteurs collectées (par foyer)",
    ):
        assert label in labels, label
    questions = [label for label in labels[::3] if label.endswith("(% des foyers)")]
    assert questions[0] == (
        "En mangeant local, est-ce que j'ai réussi à manger mieux ? — manger mieux (% des foyers)"
    )
    assert questions[-1].startswith("Avez-vous réussi à maintenir vos actions")
    assert len(questions) == 15 and labels[-1] == questions[-1]
    assert not any("_" in label for label in labels)  # no code name


def test_synthesis_numbers_are_numbers_with_their_units(demo, client, auth):
    _data, workbook = workbook_of(client, auth)
    cells = synthesis_cells(workbook["Synthèse"])
    everyone = ("Tous les groupes", "Début")
    cost = cells[("Coût d'un repas par personne (€)", "tous")]
    assert cost[everyone].data_type == "n" and cost[everyone].number_format == EUROS
    assert cost[("Tous les groupes", "Évolution début → milieu")].number_format == CHANGE_PERCENT
    organic = cells[("Part du bio (%)", "tous")]
    assert organic[everyone].number_format == SHARE == "0.0 %"
    assert 0 < organic[everyone].value < 1  # a share stored as a ratio, shown in %
    assert organic[("Tous les groupes", "Évolution début → milieu")].number_format == CHANGE_POINTS
    sent = cells[("Foyers ayant envoyé leur relevé (nombre)", "tous")]
    assert [sent[("Tous les groupes", w)].value for w in ("Début", "Milieu", "Fin")] == [40, 24, 0]
    assert sent[everyone].number_format == "0"
    waste = cells[("Gaspillage (kg par personne et par an)", "tous")]
    assert waste[everyone].number_format == "0.0"
    for row in cells.values():
        for cell in row.values():
            assert cell.value is None or cell.data_type == "n", cell.coordinate


def test_every_sheet_has_widths_a_frozen_header_a_filter_and_formats(demo, client, auth):
    _data, workbook = workbook_of(client, auth)
    headers = {
        "comparaison": COMPARISON_HEADER,
        "retention": RETENTION_HEADER,
        "questionnaire": QUESTIONNAIRE_HEADER,
    }
    for name, header in headers.items():
        sheet = workbook[name]
        # DESIGN.md's machine columns, exactly, on the first row.
        assert tuple(cell.value for cell in sheet[1]) == header, name
        assert all(cell.font.b for cell in sheet[1])
        assert sheet.freeze_panes == "A2"
        last = sheet.cell(1, len(header)).column_letter
        assert sheet.auto_filter.ref == f"A1:{last}{sheet.max_row}"
        for column, title in enumerate(header, 1):
            letter = sheet.cell(1, column).column_letter
            assert sheet.column_dimensions[letter].width >= min(len(title) + 2, 45), (name, title)
    comparison = workbook["comparaison"]
    # A row of a later wave, all its cells written (an empty cell has no format).
    later = next(
        row for row in comparison.iter_rows(min_row=2) if row[3].value == 2 and row[9].value
    )
    assert [cell.number_format for cell in later[3:]] == [
        "0",
        "0",
        "0.00",
        "0.00",
        "0.00",
        "0",
        "0.0",
    ]
    assert workbook["retention"]["C2"].value == 40 and workbook["retention"]["C2"].data_type == "n"
    assert workbook["questionnaire"]["G2"].number_format == "0.00"


def test_synthesis_equals_the_publication_cell_by_cell(demo, client, auth):
    _data, workbook = workbook_of(client, auth)
    cells = synthesis_cells(workbook["Synthèse"])
    published = publish(demo, 3)
    scopes = {ALL: "Tous les groupes"} | {group.id: group.name for group in demo.groups}
    from defi.figures.export import synthesis_labels

    with client.application.test_request_context():
        labels = {k: spaced(v) for k, v in synthesis_labels(published.choices).items()}
    waves = {1: "Début", 2: "Milieu", 3: "Fin"}
    shown = hidden = changes = 0
    for scope, name in scopes.items():
        for key, by_rank in published.tables[scope].items():
            for subgroup in SUBGROUPS:
                row = cells[(labels[key], SUBGROUP_NAMES[subgroup])]
                start = by_rank[1][subgroup]
                for rank, title in waves.items():
                    cell = by_rank[rank][subgroup]
                    found = row[(name, title)].value
                    if cell.hidden is not None:
                        assert found is None, (name, key, rank, subgroup)
                        hidden += 1
                        continue
                    # A number written with 16 digits, as openpyxl writes it.
                    assert found == exact(cell.mean), (name, key, rank, subgroup)
                    shown += found is not None
                    if rank == 1:
                        continue
                    change = row[(name, f"Évolution début → {title.lower()}")].value
                    assert change == exact(synthesis_change(key, start, cell))
                    if change is not None:
                        changes += 1
                        share = key.startswith(("part", "q_"))
                        expected = cell.change_delta * 100 if share else cell.change_pct / 100
                        assert change == exact(expected)
                        assert start.hidden is None and cell.paired_n >= 3
            counts = published.retention[scope]
            for subgroup in SUBGROUPS:
                row = cells[("Foyers ayant envoyé leur relevé (nombre)", SUBGROUP_NAMES[subgroup])]
                for rank, title in waves.items():
                    assert row[(name, title)].value == counts[subgroup].submitted[rank]
    # The end wave is open: its figures wait for its closing, in the Synthèse too.
    # (The territory's accompanied and non-accompanied at the mid wave are protected from the
    # insiders, fewer changes show.)
    assert shown > 200 and hidden > 300 and changes > 80


def cost_of(entry_id, covers):
    total = sum(
        db.session.scalars(sa.select(Purchase.total_cents).where(Purchase.entry_id == entry_id))
    )
    return float((Decimal(total) / 100 / covers).quantize(Decimal("0.01"), ROUND_HALF_UP))


def test_synthesis_figures_equal_those_computed_from_the_raw_rows(demo, client, auth):
    """Cost, organic share and one questionnaire choice, from the relevés' rows alone."""
    _data, workbook = workbook_of(client, auth)
    cells = synthesis_cells(workbook["Synthèse"])
    choice = db.session.scalar(
        sa.select(Choice)
        .join(Question)
        .where(
            Question.challenge_id == demo.id,
            Question.key == "manger_mieux",
            Choice.key == "nouveaux_gouts",
        )
    )
    values = {}  # (group name, rank) → {household: (cost, organic share, ticked)}
    rows = db.session.execute(
        sa.select(Entry.id, Entry.meal_covers, Entry.household_id, Wave.rank, Group.name)
        .join(Wave, Wave.id == Entry.wave_id)
        .join(Household, Household.id == Entry.household_id)
        .join(Group, Group.id == Household.group_id)
        .where(Wave.challenge_id == demo.id, Entry.status == "submitted", Wave.rank.in_((1, 2)))
    ).all()
    for entry_id, covers, household, rank, group in rows:
        purchases = db.session.execute(
            sa.select(Purchase.total_cents, Purchase.organic_cents).where(
                Purchase.entry_id == entry_id
            )
        ).all()
        organic = sum(p[1] for p in purchases) / sum(p[0] for p in purchases)
        ticked = db.session.scalar(
            sa.select(sa.func.count(Answer.id)).where(
                Answer.entry_id == entry_id, Answer.choice_id == choice.id
            )
        )
        for scope in ("Tous les groupes", group):
            values.setdefault((scope, rank), {})[household] = (
                cost_of(entry_id, covers),
                organic,
                ticked,
            )
    label = (
        "En mangeant local, est-ce que j'ai réussi à manger mieux ? — nouveaux goûts (% des foyers)"
    )
    for scope in ("Tous les groupes", "Les LokoMotiv'", "Graines d'idées"):
        first, second = values[(scope, 1)], values[(scope, 2)]
        paired = [h for h in second if h in first]
        for index, row_label in enumerate(
            ("Coût d'un repas par personne (€)", "Part du bio (%)", label)
        ):
            row = cells[(row_label, "tous")]
            for rank, title in ((1, "Début"), (2, "Milieu")):
                mean = statistics.fmean(v[index] for v in values[(scope, rank)].values())
                assert row[(scope, title)].value == pytest.approx(mean), (scope, row_label, rank)
            before = statistics.fmean(first[h][index] for h in paired)
            after = statistics.fmean(second[h][index] for h in paired)
            change = row[(scope, "Évolution début → milieu")].value
            if index == 0:  # an amount: in %, stored as a ratio
                assert change == pytest.approx((after - before) / before)
            else:  # a share: in points
                assert change == pytest.approx((after - before) * 100)


def test_suppressed_cells_stay_empty_in_the_synthesis(demo, client, auth):
    _data, workbook = workbook_of(client, auth)
    cells = synthesis_cells(workbook["Synthèse"])
    # Graines d'idées keeps 1 accompanied foyer at the mid wave (under K): it and its
    # complement are empty, their changes too.
    for subgroup in ("accompagnés", "non accompagnés"):
        row = cells[("Coût d'un repas par personne (€)", subgroup)]
        assert row[("Graines d'idées", "Milieu")].value is None
        assert row[("Graines d'idées", "Évolution début → milieu")].value is None
    # The open end wave: nothing but the count of relevés sent.
    for (label, _subgroup), row in cells.items():
        if label != "Foyers ayant envoyé leur relevé (nombre)":
            assert row[("Tous les groupes", "Fin")].value is None
            assert row[("Tous les groupes", "Évolution début → fin")].value is None
    # K is the setting's.
    client.application.config["DEFI_MIN_COUNT"] = 5
    data = client.get(XLSX_URL).data
    notes = " ".join(str(c.value) for c in load_workbook(io.BytesIO(data))["Synthèse"]["A"][:8])
    assert "moins de 5 foyers" in notes


def test_a_change_is_shown_only_over_both_published_ends():
    start = Cell(10, 0.2, 0.2, 0.2)
    later = Cell(10, 0.3, 0.3, 0.3, paired_n=8, change_pct=50.0, change_delta=0.1)
    assert synthesis_change("part_bio", start, later) == pytest.approx(10.0)  # points
    assert synthesis_change("q_maintien_mieux", start, later) == pytest.approx(10.0)
    assert synthesis_change("cout_repas_personne", start, later) == pytest.approx(0.5)  # 50 %
    assert synthesis_change("part_bio", Cell(None, None, None, None, hidden=FEW), later) is None
    hidden = Cell(10, 0.3, 0.3, 0.3, change_hidden=FEW)
    assert synthesis_change("part_bio", start, hidden) is None
    # From zero, a share still moves by points; an amount has no change in %.
    zero = Cell(10, 0.0, 0.0, 0.0)
    moved = Cell(10, 0.1, 0.1, 0.1, paired_n=9, change_delta=0.1, change_hidden=ZERO_START)
    assert synthesis_change("part_lieu_amap", zero, moved) == pytest.approx(10.0)
    assert synthesis_change("recettes", zero, moved) is None


def test_partner_files_hold_tables_only_never_a_raw_row(demo, client, auth):
    data, workbook = workbook_of(client, auth)
    assert "donnees" not in workbook.sheetnames
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = "".join(archive.read(name).decode() for name in archive.namelist())
    assert not CODE.search(xml)
    assert "<f>" not in xml and "<f " not in xml
    households = db.session.scalars(sa.select(Household)).all()
    for household in households:
        assert household.code not in xml
        for value in (household.display_name, household.phone, household.email, household.commune):
            if value and len(value) > 3:
                assert value not in xml, value
    for name in ("comparaison", "retention", "questionnaire"):
        response = client.get(f"/pilote/export/{name}.csv")
        assert response.status_code == 200
        assert not CODE.search(response.data.decode("utf-8-sig"))


def test_a_group_name_that_looks_like_a_formula_stays_text(demo, client, auth):
    group = db.session.scalar(sa.select(Group).where(Group.name == "Les LokoMotiv'"))
    group.name = '=HYPERLINK("http://x")'
    db.session.commit()
    data, workbook = workbook_of(client, auth)
    bands = [cell for cell in workbook["Synthèse"][HEADER_ROW - 1] if cell.value]
    band = next(cell for cell in bands if "HYPERLINK" in cell.value)
    assert band.value == '\'=HYPERLINK("http://x")' and band.data_type == "s"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert not any(b"<f>" in archive.read(name) for name in archive.namelist())


def add_drafts(demo):
    """Two foyers' relevés of the open wave as drafts, and a new foyer's drafts in the closed
    waves 1 and 2, each with purchases, a weighing and a ticked choice."""
    groups = {group.name: group for group in demo.groups}
    waves = {wave.rank: wave for wave in demo.waves}
    choice = db.session.scalar(
        sa.select(Choice).join(Question).where(Question.key == "manger_mieux")
    )
    newcomer = Household(
        challenge_id=demo.id, group=groups["Les LokoMotiv'"], code="EST-99", display_name="Nouveau"
    )
    db.session.add(newcomer)
    db.session.commit()  # the foyer itself is enrolled: it counts in the retention, as it should
    est_01 = db.session.scalar(sa.select(Household).where(Household.code == demo_code("EST-01")))
    ouest_01 = db.session.scalar(
        sa.select(Household).where(Household.code == demo_code("OUEST-01"))
    )
    for household, rank in ((newcomer, 1), (newcomer, 2), (est_01, 3), (ouest_01, 3)):
        entry = Entry(
            household=household,
            wave=waves[rank],
            status="draft",
            persons=3,
            period_days=7,
            meal_covers=20,
        )
        entry.purchases.append(
            Purchase(place_type="amap", total_cents=9000, organic_cents=9000, local_cents=9000)
        )
        entry.weighings.append(Weighing(category="evitable", grams=5000))
        entry.answers.append(Answer(question_id=choice.question_id, choice=choice))
        db.session.add(entry)
    db.session.commit()


def published_figures(challenge):
    published = publish(challenge, 3)
    return published.tables, published.retention


def test_a_draft_changes_no_figure(demo, client, auth):
    groups = {group.name: group for group in demo.groups}
    newcomer = Household(
        challenge_id=demo.id, group=groups["Les LokoMotiv'"], code="EST-98", display_name="N"
    )
    db.session.add(newcomer)
    db.session.commit()
    before = published_figures(demo)
    tables_before = [table.rows for table in comparison_tables(demo, 3)]
    _data, workbook = workbook_of(client, auth)
    synthesis_before = list(workbook["Synthèse"].iter_rows(min_row=HEADER_ROW, values_only=True))
    add_drafts(demo)
    assert db.session.scalar(sa.select(sa.func.count()).where(Entry.status == "draft")) == 4
    assert published_figures(demo) == before
    assert [table.rows for table in comparison_tables(demo, 3)] == tables_before
    _data, workbook = workbook_of(client, auth)
    assert (
        list(workbook["Synthèse"].iter_rows(min_row=HEADER_ROW, values_only=True))
        == synthesis_before
    )
    # The same relevé sent does change them: the check above could fail.
    entry = db.session.scalar(
        sa.select(Entry)
        .join(Household)
        .join(Wave)
        .where(Household.code == "EST-99", Wave.rank == 1)
    )
    entry.status = "submitted"
    db.session.commit()
    tables, retention = published_figures(demo)
    assert retention[ALL]["tous"].submitted[1] == 41
    assert tables[ALL]["cout_repas_personne"][1]["tous"].n == 41
    assert tables != before[0]


def test_microdata_have_a_status_column(demo, client, auth):
    add_drafts(demo)
    assert auth.login("pilote").status_code == 303
    response = client.get(MICRODATA_URL)
    assert response.status_code == 200
    lines = read_csv(response.data)
    assert lines[0] == [MICRODATA_WARNING]
    assert "statut" in MICRODATA_WARNING and "brouillon" in MICRODATA_WARNING
    header, rows = lines[1], lines[2:]
    assert header[:4] == ["foyer", "groupe", "accompagne", "collecte"]
    assert header[-1] == "statut"
    status = {(row[0], row[3]): row[-1] for row in rows}
    assert len(rows) == 40 + 24 + 4
    assert sorted(status.values()).count("envoye") == 64
    assert sorted(key for key, value in status.items() if value == "brouillon") == sorted(
        [(demo_code("EST-01"), "3"), ("EST-99", "1"), ("EST-99", "2"), (demo_code("OUEST-01"), "3")]
    )
    assert set(status.values()) == {"envoye", "brouillon"}


def test_microdata_as_a_laid_out_workbook_from_the_command(demo, app, tmp_path):
    add_drafts(demo)
    result = app.test_cli_runner().invoke(
        args=["export-microdata", *IN_DEMO, str(tmp_path / "m.xlsx")]
    )
    assert result.exit_code == 0, result.output
    workbook = load_workbook(tmp_path / "m.xlsx")
    assert workbook.sheetnames == ["donnees"]
    sheet = workbook["donnees"]
    assert sheet["A1"].value == MICRODATA_WARNING and sheet["A1"].font.b
    header = [cell.value for cell in sheet[3]]
    assert header[:3] == ["foyer", "groupe", "accompagne"] and header[-1] == "statut"
    assert sheet.freeze_panes == "B4"  # the header and the foyer's code stay in view
    last = sheet.cell(3, len(header)).column_letter
    assert sheet.auto_filter.ref == f"A3:{last}{3 + 68}"
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    assert [row[-1] for row in rows].count("brouillon") == 4
    spend = header.index("depenses_eur") + 1
    assert sheet.cell(4, spend).number_format == "0.00" and sheet.cell(4, spend).data_type == "n"
    assert sheet.cell(4, header.index("gaspillage_kg") + 1).number_format == "0.000"
    assert all(
        sheet.column_dimensions[sheet.cell(3, c).column_letter].width >= 8
        for c in range(1, len(header) + 1)
    )
    # The CSV, as before, and the same rows.
    result = app.test_cli_runner().invoke(
        args=["export-microdata", *IN_DEMO, str(tmp_path / "m.csv")]
    )
    assert result.exit_code == 0, result.output
    lines = read_csv((tmp_path / "m.csv").read_bytes())
    assert len(lines) == 2 + 68 and lines[1][-1] == "statut"


def test_comparison_command_writes_the_synthesis_first(demo, app, tmp_path):
    result = app.test_cli_runner().invoke(
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
    assert "Synthèse, comparaison, retention, questionnaire" in result.output
    workbook = load_workbook(tmp_path / "c.xlsx")
    assert workbook.sheetnames == SHEETS
    sheet = workbook["Synthèse"]
    assert sheet.freeze_panes == f"C{HEADER_ROW + 1}"
    with app.test_request_context():
        expected = to_xlsx(partner_tables(demo, 3))
    same = load_workbook(io.BytesIO(expected))["Synthèse"]
    assert [r for r in sheet.iter_rows(min_row=2, values_only=True)] == [
        r for r in same.iter_rows(min_row=2, values_only=True)
    ]
    assert microdata_table(demo).name == "donnees"
    assert to_csv(comparison_tables(demo, 3)[0]).startswith("\ufeff".encode())
