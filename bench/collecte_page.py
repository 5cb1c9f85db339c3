"""Weight (gzip, with its CSS and JS) and SQL queries of the foyer's pages.

Run: .venv/bin/python bench/collecte_page.py
"""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._app import FOYER_PAGES  # noqa: E402
from bench._app import QueryCounter  # noqa: E402
from bench._app import demo_app  # noqa: E402
from bench._app import logged_in  # noqa: E402
from defi.extensions import db  # noqa: E402

GZIP = {"Accept-Encoding": "gzip"}


def main():
    app, _directory = demo_app()
    client = logged_in(app, "foyer-est-01")
    # A relevé in progress: the repas page with purchases is the heaviest.
    client.post(
        "/collecte/3/repas",
        data={"persons": "4", "period_days": "14", "meal_covers": "112", "cost_mode": "purchases"},
    )
    for total in ("23,40", "12,00", "8,75", "41,10"):
        client.post(
            "/collecte/3/achats",
            data={"total": total, "organic": "2", "local": "3", "place_type": "marche"},
        )
    with app.app_context():
        counter = QueryCounter(db.engine)
    print(f"{'page':<28}{'html gz':>9}{'+ css/js gz':>13}{'total KB':>10}{'queries':>9}")
    for page in FOYER_PAGES:
        counter.count = 0
        response = client.get(page, headers=GZIP)
        queries = counter.count
        assert response.status_code == 200, (page, response.status_code)
        html_size = len(response.data)
        html = client.get(page).get_data(as_text=True)
        assets = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', html)
        asset_size = 0
        for asset in assets:
            reply = client.get(asset, headers=GZIP)
            asset_size += len(reply.data)
            reply.close()
        total = (html_size + asset_size) / 1024
        print(f"{page:<28}{html_size:>9}{asset_size:>13}{total:>10.1f}{queries:>9}")


if __name__ == "__main__":
    main()
