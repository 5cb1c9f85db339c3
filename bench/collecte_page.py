"""Weight (gzip, with its CSS and JS) and SQL queries of every page of a foyer.

QUALITY.md, speed: "A household page, with its CSS and JS, weighs ≤ 60 KB compressed."
The foyer's pages are found as in bench/queries.py (bench/_pages.py): foyer-est-01 with a
relevé in progress. Downloads (its data, its calendar feed) are not pages and are left out.

Run: .venv/bin/python bench/collecte_page.py [--no-doc]
"""

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._app import QueryCounter  # noqa: E402
from bench._app import demo_app  # noqa: E402
from bench._app import logged_in  # noqa: E402
from bench._doc import code  # noqa: E402
from bench._doc import markdown_table  # noqa: E402
from bench._doc import write_section  # noqa: E402
from bench._pages import main_pages  # noqa: E402
from bench._pages import prepare  # noqa: E402
from defi.extensions import db  # noqa: E402

GZIP = {"Accept-Encoding": "gzip"}
LIMIT_KB = 60
ASSET = re.compile(r'(?:href|src)="(/static/[^"?]+\.(?:css|js)(?:\?v=[0-9a-f]+)?)"')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/PERFORMANCE.md")
    args = parser.parse_args()
    app, _directory = demo_app()
    foyer = prepare(app)[0]
    client = logged_in(app, foyer.username)
    pages, _not_pages = main_pages(app, {foyer.username: client}, [foyer])
    with app.app_context():
        counter = QueryCounter(db.engine)
    print(f"{'page':<44}{'html gz':>9}{'+ css/js gz':>13}{'total KB':>10}{'queries':>9}")
    rows = []
    for page in pages:
        counter.count = 0
        response = client.get(page.url, headers=dict(page.headers) | GZIP)
        queries = counter.count
        assert response.status_code == 200, (page, response.status_code)
        if response.mimetype != "text/html":
            continue  # a download
        html_size = len(response.data)
        html = client.get(page.url, headers=dict(page.headers)).get_data(as_text=True)
        asset_size = 0
        for asset in ASSET.findall(html):
            reply = client.get(asset, headers=GZIP)
            asset_size += len(reply.data)
            reply.close()
        total = (html_size + asset_size) / 1024
        rows.append((page.label, html_size, asset_size, total, queries))
        flag = f"  > {LIMIT_KB} KB" if total > LIMIT_KB else ""
        print(f"{page.label:<44}{html_size:>9}{asset_size:>13}{total:>10.1f}{queries:>9}{flag}")
    heaviest = max(rows, key=lambda row: row[3])
    print(f"Heaviest: {heaviest[0]} at {heaviest[3]:.1f} KB (bar: {LIMIT_KB} KB).")
    if not args.no_doc:
        table = markdown_table(
            ("page", "HTML gz (bytes)", "CSS + JS gz (bytes)", "total (KB)", "SQL queries"),
            [
                (code(label), f"{html:,}", f"{assets:,}", f"{total:.1f}", queries)
                for label, html, assets, total, queries in rows
            ],
            "lrrrr",
        )
        over = sum(1 for row in rows if row[3] > LIMIT_KB)
        write_section(
            "weight",
            f"{table}\n\n{len(rows)} pages; heaviest {code(heaviest[0])} at {heaviest[3]:.1f} KB; "
            f"{over} above {LIMIT_KB} KB.",
        )


if __name__ == "__main__":
    main()
