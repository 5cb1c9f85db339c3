"""An import a pilot can trust (issue 13): every bad line listed at once, a template to
download, a preview of what will be written before anything is, and a new défi only when asked
for — through the pages and the command line."""

import io
import re
from html import unescape

import pytest
import sqlalchemy as sa

from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Answer
from defi.models import Challenge
from defi.models import Choice
from defi.models import Entry
from defi.models import Group
from defi.models import Household
from defi.models import Structure
from defi.pilot.imports import HEADER
from defi.pilot.imports import MAX_PROBLEMS
from defi.pilot.imports import ImportRejected
from defi.pilot.imports import import_entries as import_into
from defi.pilot.imports import preview_import as preview_into
from defi.pilot.imports import template_csv
from defi.pilot.imports.confirmation import seal
from tests.conftest import page_text
from tests.conftest import territory_id
from tests.test_import import cells
from tests.test_import import fingerprint
from tests.test_import import releves

DEMO_NAME = "Défi Famille à alimentation positive 2021-2022"
TYPO = "Defi famille a alimentation positive 2021-2O22"


@pytest.fixture
def pilot(demo, auth):
    assert auth.login("pilote").status_code == 303
    return demo


def csv_file(rows: list[str]) -> bytes:
    return ("\n".join([";".join(HEADER), *rows]) + "\n").encode()


def upload(client, data, challenge_name="", create=False, structure_id=0):
    """The import form posted with a file: the preview, or the page listing the problems."""
    form = {
        "file": (io.BytesIO(data), "releves.csv"),
        "challenge_name": challenge_name,
        "structure_id": str(structure_id),
    }
    if create:
        form["create_challenge"] = "y"
    return client.post("/pilote/import", data=form, content_type="multipart/form-data")


def hidden_fields(response) -> dict:
    """The confirmation form's hidden fields, as the preview page gives them."""
    html = response.get_data(as_text=True)
    form = html[html.index('action="/pilote/import/confirmer"') :]
    return {
        name: unescape(value)
        for name, value in re.findall(r'name="(payload|token)" type="hidden" value="([^"]*)"', form)
    }


def confirm(client, preview):
    return client.post("/pilote/import/confirmer", data=hidden_fields(preview))


def without_logins(tables: dict) -> dict:
    """A fingerprint without the user table, which each login writes to."""
    return {name: rows for name, rows in tables.items() if name != "user"}


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def import_entries(*args, **kwargs):
    """The import into the first territory (the demo's)."""
    return import_into(*args, territory_id=territory_id(), **kwargs)


def preview_import(*args, **kwargs):
    """The preview of an import into the first territory (the demo's)."""
    return preview_into(*args, territory_id=territory_id(), **kwargs)


def structure_id(name="MJEP d'Isbergues") -> int:
    return db.session.scalar(sa.select(Structure.id).where(Structure.name == name))


def squashed(response) -> str:
    """The page's words without its tags, every run of spaces and lines as one space."""
    html = response.get_data(as_text=True)
    html = html[html.index("<main") :]
    return " ".join(unescape(re.sub(r"<[^>]*>", " ", html)).replace("\u00a0", " ").split())


def problem_rows(response) -> list[tuple[str, str, str]]:
    """The (line, column, reason) rows of the problems' table of the import page."""
    html = response.get_data(as_text=True)
    table = html[html.index('id="problems-title"') : html.index("</table>")]
    found = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", table)
    return [tuple(unescape(cell).replace("\u00a0", " ") for cell in row) for row in found]


# Every bad line listed at once


def several_bad_lines() -> bytes:
    return csv_file(
        [
            cells(0, accompagne="non"),  # line 2: good
            cells(1, jours="quatre"),  # line 3
            cells(2, accompagne="peut-être", personnes=""),  # line 4: two cells
            cells(3, dont_bio_eur="900"),  # line 5: more organic than spent
            cells(4, maintien="beaucoup"),  # line 6: only the questionnaire says so
            cells(0, accompagne="non"),  # line 7: H-00000 at collecte 1 again
            "H-9;G;non;1",  # line 8: 4 columns
        ]
    )


def test_every_bad_line_is_listed_with_its_column_and_nothing_is_written(pilot, client):
    before = without_logins(fingerprint())
    refused = upload(client, several_bad_lines(), DEMO_NAME)
    assert refused.status_code == 200
    text = page_text(refused)
    assert "7 problèmes : rien n'a été importé" in text
    assert "Le fichier n'est pas importé : 7 problèmes, indiqués ci-dessous." in text
    assert problem_rows(refused) == [
        ("3", "jours", "jours doit être un nombre entier (« quatre »)."),
        ("4", "accompagne", "accompagne doit valoir oui ou non."),
        ("4", "personnes", "personnes est obligatoire."),
        ("5", "dont_bio_eur", "dont_bio_eur ne peut pas dépasser depenses_eur."),
        ("6", "maintien", "« beaucoup » n'est pas une réponse de maintien."),
        ("7", "collecte", "le foyer H-00000 a déjà une ligne pour la collecte 1 (ligne 2)."),
        ("8", "—", "4 colonnes au lieu de 17."),
    ]
    assert "Confirmer l'import" not in text
    # What was chosen is kept for the next try.
    assert f'value="{DEMO_NAME}"' in unescape(refused.get_data(as_text=True))
    assert without_logins(fingerprint()) == before


def test_a_control_character_in_a_bad_cell_is_not_echoed(app):
    """A NUL byte in a cell shows as "�" in the reason, never raw on the page or terminal."""
    with pytest.raises(ImportRejected) as refused:
        import_entries(csv_file([cells(0, jours="qu\x00atre")]), "Défi 2019", create_challenge=True)
    db.session.rollback()
    assert refused.value.message == (
        "Ligne 2 : jours doit être un nombre entier (« qu\ufffdatre »)."
    )


def test_the_service_lists_every_problem_in_its_message(app):
    with pytest.raises(ImportRejected) as refused:
        import_entries(several_bad_lines(), "Défi 2019", create_challenge=True)
    db.session.rollback()
    assert refused.value.count == 7
    lines = refused.value.message.splitlines()
    assert lines[0] == "Ligne 3 : jours doit être un nombre entier (« quatre »)."
    assert lines[-1] == "Ligne 8 : 4 colonnes au lieu de 17."
    assert [(p.line, p.column) for p in refused.value.problems][:3] == [
        (3, "jours"),
        (4, "accompagne"),
        (4, "personnes"),
    ]
    assert count(Challenge) == 0


def test_a_huge_bad_file_lists_the_first_problems_and_counts_the_others(pilot, client):
    rows = [cells(i, jours="zéro") for i in range(3 * MAX_PROBLEMS)]
    refused = upload(client, csv_file(rows), DEMO_NAME)
    assert refused.status_code == 200
    text = page_text(refused)
    assert f"{3 * MAX_PROBLEMS} problèmes : rien n'a été importé" in text
    assert len(problem_rows(refused)) == MAX_PROBLEMS
    assert problem_rows(refused)[-1][0] == str(MAX_PROBLEMS + 1)
    more = 2 * MAX_PROBLEMS
    assert f"… et {more} autres problèmes, non listés : corrigez ceux-ci" in text


def test_a_wrong_header_names_the_missing_columns(pilot, client):
    header = ";".join(name for name in HEADER if name != "jours").replace("foyer", "code")
    data = f"{header}\nH-1;G;non;1\n".encode()
    refused = upload(client, data, DEMO_NAME)
    ((line, column, reason),) = problem_rows(refused)
    assert (line, column) == ("1", "—")
    assert reason.startswith("les colonnes doivent être exactement : foyer;groupe;")
    assert reason.endswith("Manquantes : foyer, jours. Inconnues : code.")


# The template


def test_the_template_is_linked_and_in_the_dialect_the_import_reads(pilot, client):
    page = client.get("/pilote/import")
    assert page.status_code == 200
    assert 'href="/pilote/import/modele.csv"' in page.get_data(as_text=True)
    template = client.get("/pilote/import/modele.csv")
    assert template.status_code == 200
    assert template.mimetype == "text/csv"
    assert "attachment" in template.headers["Content-Disposition"]
    assert template.data == template_csv()
    assert template.data.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads it as UTF-8
    lines = template.data.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ";".join(HEADER)
    assert lines[1] == (
        "EX-01;Groupe exemple;non;1;4;14;182,40;21,50;46,80;96;;3,250;1;2;"
        "manger_mieux|nouveaux_gouts;achats_locaux|saison;"
    )
    assert lines[2] == (
        "EX-02;Groupe exemple;oui;2;3;14;;;;;2,35;1,8;2;0;plus_equilibre;"
        "gaspillage|compostage;mieux"
    )
    assert lines[3:] == [""]


def test_the_template_imports_cleanly_as_it_is(pilot, client):
    data = client.get("/pilote/import/modele.csv").data
    preview = upload(client, data, "Défi exemple", create=True, structure_id=structure_id())
    assert preview.status_code == 200
    text = squashed(preview)
    assert "Nouveau défi, créé par l'import : Défi exemple" in text
    assert "2 relevés créés" not in text and "2 créés" in text
    done = confirm(client, preview)
    assert done.status_code == 303
    assert "Import terminé : 2 relevés créés, 0 mis à jour, 0 inchangé." in page_text(
        client.get(done.headers["Location"])
    )
    example = db.session.scalar(sa.select(Challenge).where(Challenge.name == "Défi exemple"))
    second = db.session.scalar(sa.select(Entry).join(Household).where(Household.code == "EX-02"))
    assert second.wave.challenge_id == example.id and second.wave.rank == 2
    assert (second.cost_mode, second.direct_cost_cents, second.declared_waste_grams) == (
        "direct",
        235,
        1800,
    )
    assert sorted(answer.choice.key for answer in second.answers) == [
        "compostage",
        "gaspillage",
        "mieux",
        "plus_equilibre",
    ]
    assert second.household.accompaniment.structure_id == structure_id()


# The preview, the confirmation, cancelling


def past_defi(app_rows=30):
    """A past défi of `app_rows` relevés, imported and committed: 'Défi 2016'."""
    import_entries(releves(app_rows), "Défi 2016", structure_id(), create_challenge=True)
    db.session.commit()


def modified_file() -> bytes:
    """Défi 2016's file with 1 relevé changed, 1 with other answers, 2 new ones (a new foyer
    in a new group, at 2 collectes)."""
    changed = {4: {"jours": "7"}, 5: {"manger_mieux": ""}}
    lines = releves(30, changed).decode().splitlines()
    new = {"groupe": "Les Nouveaux", "accompagne": "non"}
    lines += [cells(3000, **new), cells(3001, **new)]
    return ("\n".join(lines) + "\n").encode()


def test_the_preview_says_what_will_change_and_writes_nothing(pilot, client):
    past_defi()
    before = without_logins(fingerprint())
    preview = upload(client, modified_file(), "Défi 2016")
    assert preview.status_code == 200
    text = squashed(preview)
    assert "Aperçu de l'import" in text
    assert "Rien n'est encore enregistré" in text
    assert "Défi existant : Défi 2016" in text
    assert "Groupes 1 nouveau : Les Nouveaux 1 existant : Groupe 000" in text
    assert "Foyers 1 nouveau : H-01000 10 existants" in text
    assert "Relevés 2 créés 2 mis à jour 28 inchangés" in text
    assert "Ligne 6 : H-00001, collecte 2 — jours" in text
    assert "Ligne 7 : H-00001, collecte 3 — réponses" in text
    assert "Ligne 32 : H-01000 (Les Nouveaux), collecte 1" in text
    assert "Confirmer l'import" in text
    cancel = re.search(r'<a href="([^"]*)">Annuler\W+ne rien importer</a>', preview.get_data(True))
    assert cancel and cancel[1] == "/pilote/import"
    assert without_logins(fingerprint()) == before
    # Cancelling is a link back to the import page: nothing is written either.
    assert client.get("/pilote/import").status_code == 200
    assert without_logins(fingerprint()) == before


def test_the_confirmation_writes_once(pilot, client):
    entries, answers = count(Entry), count(Answer)
    preview = upload(client, releves(9), DEMO_NAME, structure_id=structure_id())
    assert "Relevés 9 créés 0 mis à jour 0 inchangé" in squashed(preview)
    done = confirm(client, preview)
    assert done.status_code == 303 and done.headers["Location"] == "/pilote/import"
    assert "Import terminé : 9 relevés créés, 0 mis à jour, 0 inchangé." in page_text(
        client.get("/pilote/import")
    )
    assert count(Entry) == entries + 9
    assert count(Answer) == answers + 9 * 3
    after = without_logins(fingerprint())
    # A second click on the same button: the file is there already, nothing changes.
    again = confirm(client, preview)
    assert again.status_code == 200
    assert "Ce fichier est déjà importé : l'importer ne changerait rien." in page_text(again)
    assert "Confirmer l'import" not in page_text(again)
    assert without_logins(fingerprint()) == after
    assert db.session.scalar(sa.select(Challenge.name).where(Challenge.is_current)) == DEMO_NAME


def test_a_defi_changed_since_the_preview_is_previewed_again(pilot, client):
    past_defi()
    preview = upload(client, modified_file(), "Défi 2016")
    # Meanwhile, another import writes part of the same changes.
    import_entries(releves(30, {4: {"jours": "7"}}), "Défi 2016", structure_id())
    db.session.commit()
    before = without_logins(fingerprint())
    again = confirm(client, preview)
    assert again.status_code == 200
    text = squashed(again)
    assert "Les données ont changé depuis l'aperçu que vous avez vu : rien n'a été importé." in text
    assert "Relevés 2 créés 1 mis à jour 29 inchangés" in text
    assert without_logins(fingerprint()) == before
    # Its new preview confirms.
    assert confirm(client, again).status_code == 303
    new = sa.select(sa.func.count(Entry.id)).join(Household).where(Household.code == "H-01000")
    assert db.session.scalar(new) == 2


def test_a_tampered_confirmation_writes_nothing(pilot, client, app):
    preview = upload(client, releves(3), DEMO_NAME, structure_id=structure_id())
    fields = hidden_fields(preview)
    other = hidden_fields(upload(client, releves(6), DEMO_NAME, structure_id=structure_id()))
    with app.test_request_context():
        forged_payload, forged_token = seal(releves(3), {"challenge_name": "Défi pirate"}, [], 999)
    before = without_logins(fingerprint())
    refusal = "Cette confirmation ne correspond pas à l'aperçu affiché : rien n'a été importé."
    tampered = [
        {**fields, "payload": other["payload"]},  # another file, under the first one's token
        {**fields, "token": other["token"]},
        {**fields, "token": fields["token"][:-2] + "xx"},
        {**fields, "payload": fields["payload"][:-4] + "AAAA"},
        {"payload": forged_payload, "token": forged_token},  # signed for another user
        {"payload": "x" * 100, "token": "not-a-token"},
    ]
    for data in tampered:
        response = client.post("/pilote/import/confirmer", data=data)
        assert response.status_code == 200
        assert refusal in page_text(response), data
        assert "Confirmer l'import" not in page_text(response)
    for missing in ("payload", "token"):
        response = client.post("/pilote/import/confirmer", data={missing: fields[missing]})
        assert response.status_code == 200
        assert "Rien n'a été importé : choisissez de nouveau le fichier." in page_text(response)
    assert without_logins(fingerprint()) == before
    # The untouched one still goes through.
    assert client.post("/pilote/import/confirmer", data=fields).status_code == 303


def test_only_the_pilot_reaches_the_import(demo, client, auth):
    for username in ("animateur-est", "referent-mjep", "foyer-est-01"):
        auth.login(username)
        assert client.get("/pilote/import/modele.csv").status_code == 403
        assert client.post("/pilote/import/confirmer", data={}).status_code == 403
        auth.logout()
    assert client.get("/pilote/import/modele.csv").status_code == 302


# A new défi only when asked for


def test_a_typo_in_the_defi_name_is_refused_with_the_closest_names(pilot, client):
    challenges = count(Challenge)
    before = without_logins(fingerprint())
    refused = upload(client, releves(3), TYPO, structure_id=structure_id())
    assert refused.status_code == 200
    text = page_text(refused)
    assert problem_rows(refused) == [
        (
            "—",
            "—",
            f"Aucun défi ne s'appelle « {TYPO} ». Les défis aux noms les plus proches : "
            f"« {DEMO_NAME} ». Corrigez le nom, ou demandez la création d'un nouveau défi.",
        )
    ]
    assert f"Créer un nouveau défi « {TYPO} »" in text
    assert without_logins(fingerprint()) == before

    preview = upload(client, releves(3), TYPO, create=True, structure_id=structure_id())
    assert f"Nouveau défi, créé par l'import : {TYPO}" in squashed(preview)
    assert count(Challenge) == challenges
    assert confirm(client, preview).status_code == 303
    assert count(Challenge) == challenges + 1
    assert db.session.scalar(sa.select(Challenge.name).where(Challenge.is_current)) == DEMO_NAME


def test_a_name_that_differs_only_by_case_or_accents_never_makes_a_new_defi(pilot, client):
    twin = DEMO_NAME.upper().replace("É", "E")
    for create in (False, True):
        refused = upload(client, releves(3), twin, create=create, structure_id=structure_id())
        ((_line, _column, reason),) = problem_rows(refused)
        assert reason == (
            f"Aucun défi ne s'appelle exactement « {twin} », mais « {DEMO_NAME} » porte presque "
            "ce nom : indiquez-le tel quel pour y importer le fichier."
        )
    assert count(Challenge) == 2  # the two demo territories' défis


def test_the_defi_name_is_listed_with_the_lines_at_fault(app):
    db.session.add(Challenge(name="Défi 2017", territory_id=territory_id()))
    db.session.commit()
    with pytest.raises(ImportRejected) as refused:
        named = {"accompagne": "non"}
        data = releves(3, {0: named, 1: {**named, "jours": "0"}, 2: named})
        preview_import(data, "Défi 2071")
    assert refused.value.message.splitlines() == [
        "Aucun défi ne s'appelle « Défi 2071 ». Les défis aux noms les plus proches : "
        "« Défi 2017 ». Corrigez le nom, ou demandez la création d'un nouveau défi.",
        "Ligne 3 : jours doit être entre 1 et 366.",
    ]


def test_without_any_defi_the_name_refusal_says_so(app):
    with pytest.raises(ImportRejected) as refused:
        preview_import(releves(1, {0: {"accompagne": "non"}}), "Défi 2019")
    assert refused.value.message == (
        "Aucun défi ne s'appelle « Défi 2019 », et il n'y a encore aucun défi. Pour le créer "
        "avec ce fichier, demandez la création d'un nouveau défi."
    )


def test_rows_of_a_new_foyer_must_agree_on_its_accompaniment(app):
    db.session.add(Structure(name="Centre social", territory_id=territory_id()))
    db.session.commit()
    data = releves(3, {1: {"accompagne": "non"}})  # H-00000: oui, then non, then oui
    with pytest.raises(ImportRejected) as refused:
        preview_import(data, "Défi 2019", structure_id("Centre social"), create_challenge=True)
    assert refused.value.message == (
        "Ligne 3 : le foyer H-00000 est dit accompagné à la ligne 2, pas ici."
    )


# The command line


def write(tmp_path, data) -> str:
    path = tmp_path / "releves.csv"
    path.write_bytes(data)
    return str(path)


def test_the_command_lists_every_problem(app, tmp_path):
    territory_id()  # the install's only territory
    db.session.commit()
    result = app.test_cli_runner().invoke(
        args=["import-entries", write(tmp_path, several_bad_lines()), "--challenge", "X"]
    )
    assert result.exit_code != 0
    assert "8 problem(s), nothing imported:" in result.output
    for line in (
        "Aucun défi ne s'appelle « X », et il n'y a encore aucun défi.",
        "Ligne 3 : jours doit être un nombre entier (« quatre »).",
        "Ligne 4 : accompagne doit valoir oui ou non.",
        "Ligne 4 : personnes est obligatoire.",
        "Ligne 8 : 4 colonnes au lieu de 17.",
        "(--create-challenge creates a new défi of this name.)",
    ):
        assert line in result.output, result.output
    assert count(Challenge) == 0


def test_the_command_creates_a_defi_only_with_its_flag_and_previews_with_dry_run(app, tmp_path):
    db.session.add(Structure(name="Centre social", territory_id=territory_id()))
    db.session.commit()
    path = write(tmp_path, releves(6))
    runner = app.test_cli_runner()
    base = ["import-entries", path, "--challenge", "Défi 2018", "--structure", "Centre social"]
    refused = runner.invoke(args=base)
    assert refused.exit_code != 0
    assert "Aucun défi ne s'appelle « Défi 2018 »" in refused.output
    assert count(Challenge) == 0

    dry = runner.invoke(args=[*base, "--create-challenge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines() == [
        "défi: Défi 2018 (NEW)",
        "groups: 1 new, 0 existing",
        "foyers: 2 new (1 accompanied), 0 existing",
        "relevés to create: 6, to update: 0, unchanged: 0",
        "Dry run: nothing written.",
    ]
    assert count(Challenge) == 0 and count(Group) == 0

    done = runner.invoke(args=[*base, "--create-challenge"])
    assert done.exit_code == 0, done.output
    assert "relevés: 6 created, 0 updated, 0 unchanged." in done.output
    assert count(Entry) == 6 and count(Accompaniment) == 1
    again = runner.invoke(args=[*base, "--dry-run"])
    assert "défi: Défi 2018 (existing)" in again.output
    assert "relevés to create: 0, to update: 0, unchanged: 6" in again.output
    assert db.session.scalar(sa.select(sa.func.count(Choice.id))) > 0


# Valid HTML


def test_the_import_pages_are_valid_html(pilot, client, tmp_path):
    from tests.test_html_valid import JAVA
    from tests.test_html_valid import validate

    if JAVA is None:
        pytest.skip("Java is needed by the W3C Nu validator")
    past_defi()
    pages = {
        "refused": upload(client, several_bad_lines(), TYPO),
        "preview": upload(client, modified_file(), "Défi 2016"),
        "new défi": upload(client, releves(3), "Défi 2030", True, structure_id()),
        "unchanged": upload(client, releves(30), "Défi 2016"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
    errors = validate({k: r.get_data(as_text=True) for k, r in pages.items()}, tmp_path)
    assert errors == [], "\n".join(errors)
