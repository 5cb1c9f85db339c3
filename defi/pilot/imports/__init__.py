"""Import of past relevés from the pilot's spreadsheets (DESIGN.md's CSV format).

The whole file is read and checked first, then what the database holds: every problem of every
line is listed (line, column, reason in French, the first MAX_PROBLEMS of them) and nothing is
written. A good file gives a plan (`preview_import`): the défi — existing, or new only when
asked for —, its groups, foyers and relevés to create, update or leave, which the pilot sees
before confirming. Writing the plan (`write_plan`) creates what is missing and writes each
relevé; importing the same file again changes nothing.

Writing takes the same few SQL statements whatever the length of the file: what the défi holds
(foyers, accompaniments, relevés and their answers) is read in a few queries and compared in
Python, and only the differences are written, each kind at once: an executemany statement for
every BATCH rows, or a COPY on PostgreSQL. A file of more than MAX_IMPORT_ROWS rows is refused
before it is even decoded, and the rows of an accepted one are held compactly.
"""

from defi.pilot.imports.parse import HEADER
from defi.pilot.imports.parse import MAX_IMPORT_ROWS
from defi.pilot.imports.parse import MAX_PROBLEMS
from defi.pilot.imports.parse import ImportRejected
from defi.pilot.imports.parse import Problem
from defi.pilot.imports.parse import Problems
from defi.pilot.imports.parse import check_size
from defi.pilot.imports.parse import parse
from defi.pilot.imports.plan import Plan
from defi.pilot.imports.plan import make_plan
from defi.pilot.imports.template import template_csv
from defi.pilot.imports.write import carry_out

__all__ = [
    "HEADER",
    "MAX_IMPORT_ROWS",
    "MAX_PROBLEMS",
    "ImportRejected",
    "Plan",
    "Problem",
    "check_size",
    "import_entries",
    "preview_import",
    "template_csv",
    "write_plan",
]


def preview_import(
    data: bytes,
    challenge_name: str | None,
    structure_id: int | None = None,
    *,
    territory_id: int,
    create_challenge: bool = False,
    lock: bool = False,
) -> Plan:
    """Check the file and what the database holds; what importing it would do. Writes nothing.

    `challenge_name` names an existing défi of the territory `territory_id` (None: its current
    one); a name that matches none
    is refused, with the closest names, unless `create_challenge` asks for a new défi. The
    foyers the file creates and says accompanied are attached to the structure
    `structure_id`, which must exist in the territory; without one such a file is refused. Raises
    ImportRejected with every problem found. `lock`: the plan is to be written in this
    transaction (`plan.make_plan`).
    """
    check_size(data)
    problems = Problems()
    rows = parse(data, problems)
    plan = make_plan(
        rows, territory_id, challenge_name, structure_id, create_challenge, problems, lock
    )
    problems.check()
    return plan


def write_plan(plan: Plan) -> dict:
    """Write what the plan says, in the current transaction (the caller commits); returns the
    created, updated and unchanged relevé counts."""
    return carry_out(plan)  # which bumps the défi's figures' version


def import_entries(
    data: bytes,
    challenge_name: str | None,
    structure_id: int | None = None,
    *,
    territory_id: int,
    create_challenge: bool = False,
) -> dict:
    """Check the file, then write it (`preview_import`, then `write_plan`)."""
    plan = preview_import(
        data,
        challenge_name,
        structure_id,
        territory_id=territory_id,
        create_challenge=create_challenge,
        lock=True,
    )
    return write_plan(plan)
