"""Long lists shown a page at a time: which page was asked for, and how many there are;
their search, and the French order of names.

The recipe book and the producer directory (ten cards a page), the facilitator's roster (its
named and its accompanied foyers, each list paged on its own), the attendance sheet and
summary and the referent's foyers (25 a page) render only the page they show. The roster reads
its group's names to order and search them, and the rest (accounts, relevés) for the page's
foyers only; the recipe book reads its page's rows only; the others read their whole list.
"""

import functools
from dataclasses import dataclass

from flask import request

from defi.forms import strip
from defi.producers import fold

# Foyers a page of a list of foyers shows: the roster's two lists, the attendance sheet and
# summary, the referent's foyers. A search finds the others.
FOYERS_PER_PAGE = 25


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

    def of(self, items):
        """The items of this page, out of the whole list's."""
        return items[self.offset : self.offset + self.size]


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


def place_of(query, pages):
    """The arguments that bring a user back to a list as it was: its search, and the number
    of each of its pages (`{arg: number}`) past the first."""
    return ({"q": query} if query else {}) | {arg: n for arg, n in pages.items() if n > 1}


def asked_place(*args):
    """`place_of` the request: the search and the pages (`args`) it asked for."""
    return place_of(search_query(), {arg: asked_page(arg) for arg in args})


def search_query():
    """The typed search (`?q=`), without surrounding spaces nor control characters, 100 at
    most."""
    return strip(request.args.get("q") or "")[:100]


@functools.lru_cache(maxsize=16384)
def name_key(text: str) -> tuple[str, str]:
    """The order of names in a French list: accents and case set aside first ("Éléonore"
    among the E's, not after "Wattel"), then as written. Kept for names only (some 6 MB at
    most per worker): a roster sorts every name of its group at each view."""
    return fold(text), text.casefold()


def searcher(query: str):
    """The test of a search: `searcher(query)(*texts)` tells whether `query` is in the texts
    taken together ("ferme du bois bethune" finds the Ferme du Bois of Béthune), whatever the
    case and the accents ("eleonore" and "ÉLÉONORE" find "Éléonore"); every text passes an
    empty search."""
    if not query:
        return lambda *texts: True
    lowered, folded = query.casefold(), fold(query)

    def found(*texts):
        text = " · ".join(texts)
        return lowered in text.casefold() or bool(folded and folded in fold(text))

    return found
