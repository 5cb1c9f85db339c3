"""Long lists shown a page at a time: which page was asked for, and how many there are.

The recipe book and the producer directory (ten cards a page), and the facilitator's roster
(its named and its accompanied foyers, each list paged on its own) read only the rows of the
page they show: a group of 5,000 foyers costs the page what a group of 25 does.
"""

import functools
from dataclasses import dataclass

from flask import request

from defi.forms import strip
from defi.producers import fold


@dataclass(frozen=True)
class Paging:
    """Which page of a list is shown: its number (from 1), how many pages, how many items,
    how many a page holds, and the query argument that carries its number."""

    number: int
    pages: int
    total: int
    size: int
    arg: str = "page"

    @property
    def offset(self):
        return (self.number - 1) * self.size


def asked_page(arg="page"):
    """The page number in the query, or 1 when there is none or it is not a number."""
    return request.args.get(arg, type=int) or 1


def paging_of(total, size, arg="page"):
    """The page asked for in `?<arg>=`, within the list: a number past the end gives the
    last page, anything else that is not a page number gives the first."""
    pages = max(1, -(-total // size))
    return Paging(
        number=min(max(asked_page(arg), 1), pages), pages=pages, total=total, size=size, arg=arg
    )


def search_query():
    """The typed search (`?q=`), without surrounding spaces nor control characters, 100 at
    most."""
    return strip(request.args.get("q") or "")[:100]


@functools.lru_cache(maxsize=65536)
def name_key(text: str) -> tuple[str, str]:
    """The order of names in a French list: accents and case set aside first ("Éléonore"
    among the E's, not after "Wattel"), then as written. Kept: a roster sorts every name of
    its group at each view."""
    return fold(text), text.casefold()


def matches(query: str, *texts: str) -> bool:
    """Whether the search is in one of the texts, whatever the case and the accents
    ("eleonore" and "ÉLÉONORE" find "Éléonore")."""
    if not query:
        return True
    folded = fold(query)
    return any(
        query.casefold() in text.casefold() or (folded and folded in name_key(text)[0])
        for text in texts
    )
