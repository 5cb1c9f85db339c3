"""The file a pilot downloads to start an import: the header and two example rows, in the
dialect a French spreadsheet writes and the import reads (UTF-8 with a BOM, `;`, decimal
comma)."""

import csv
import io

from defi.pilot.imports.parse import HEADER

# A plain foyer at the first collecte, its sums from a paper sheet; an accompanied foyer at the
# second, its cost per meal given directly, with the question asked from the second on.
EXAMPLE_ROWS = (
    {
        "foyer": "EX-01",
        "groupe": "Groupe exemple",
        "accompagne": "non",
        "collecte": "1",
        "personnes": "4",
        "jours": "14",
        "depenses_eur": "182,40",
        "dont_bio_eur": "21,50",
        "dont_local_eur": "46,80",
        "repas_convives": "96",
        "cout_repas_personne_eur": "",
        "gaspillage_kg": "3,250",
        "recettes": "1",
        "producteurs": "2",
        "manger_mieux": "manger_mieux|nouveaux_gouts",
        "j_agis_sur": "achats_locaux|saison",
        "maintien": "",
    },
    {
        "foyer": "EX-02",
        "groupe": "Groupe exemple",
        "accompagne": "oui",
        "collecte": "2",
        "personnes": "3",
        "jours": "14",
        "depenses_eur": "",
        "dont_bio_eur": "",
        "dont_local_eur": "",
        "repas_convives": "",
        "cout_repas_personne_eur": "2,35",
        "gaspillage_kg": "1,8",
        "recettes": "2",
        "producteurs": "0",
        "manger_mieux": "plus_equilibre",
        "j_agis_sur": "gaspillage|compostage",
        "maintien": "mieux",
    },
)


def template_csv() -> bytes:
    """The header and the example rows, as the import reads them."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows([row[column] for column in HEADER] for row in EXAMPLE_ROWS)
    return text.getvalue().encode("utf-8-sig")
