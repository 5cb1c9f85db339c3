"""Import of past relevés from the pilot's spreadsheets (DESIGN.md's CSV format).

The whole file is read and checked first; one bad row rejects it with its line number and the
reason in French, and nothing is written. A good file creates what is missing (the défi with 3
waves, its groups, its foyers by code) and writes each relevé; importing the same file again
changes nothing.

Writing takes the same few SQL statements whatever the length of the file: what the défi holds
(foyers, accompaniments, relevés and their answers) is read in a few queries and compared in
Python, and only the differences are written, each kind at once: an executemany statement for
every BATCH rows, or a COPY on PostgreSQL. A file of more than MAX_IMPORT_ROWS rows is refused
before it is even decoded, and the rows of an accepted one are held compactly.
"""

from defi.extensions import db
from defi.figures import cache as figures_cache
from defi.pilot.imports.parse import HEADER
from defi.pilot.imports.parse import MAX_IMPORT_ROWS
from defi.pilot.imports.parse import ImportRejected
from defi.pilot.imports.parse import check_size
from defi.pilot.imports.parse import parse
from defi.pilot.imports.write import accompany_households
from defi.pilot.imports.write import check_choices
from defi.pilot.imports.write import check_waves
from defi.pilot.imports.write import get_or_create_challenge
from defi.pilot.imports.write import get_or_create_groups
from defi.pilot.imports.write import get_or_create_households
from defi.pilot.imports.write import write_entries

__all__ = ["HEADER", "MAX_IMPORT_ROWS", "ImportRejected", "check_size", "import_entries"]


def import_entries(
    data: bytes, challenge_name: str | None, structure_id: int | None = None
) -> dict:
    """Check the file, then write it; returns the created, updated and unchanged relevé counts.

    The foyers the file creates and says accompanied are attached to the structure
    `structure_id`, which must exist; without one such a file is refused.
    """
    check_size(data)
    rows = parse(data)
    challenge = get_or_create_challenge(challenge_name)
    check_waves(rows, challenge)
    check_choices(rows, challenge)
    group_ids = get_or_create_groups(challenge, rows)
    households, created = get_or_create_households(challenge, group_ids, rows)
    accompany_households(challenge, group_ids, households, created, rows, structure_id)
    counts = write_entries(challenge, households, rows)
    if counts["created"] or counts["updated"]:
        # PostgreSQL's COPY goes round the session: say here that the figures changed.
        figures_cache.touch(db.session)
    return counts
