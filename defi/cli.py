"""The `defi` command: Flask's commands (`defi db upgrade`, `defi run`...) plus ours."""

import click
import sqlalchemy as sa
from flask.cli import FlaskGroup
from flask.cli import with_appcontext

from defi.extensions import db


def main():
    """Entry point of the `defi` console script, bound to the app factory."""
    from defi import create_app

    cli = FlaskGroup(create_app=lambda: create_app(), help="Défi Famille à alimentation positive.")
    cli.main(prog_name="defi")


@click.command("demo")
@click.option(
    "--reset", is_flag=True, help="Delete the demo défi and its accounts, then reload it."
)
@click.option("--if-empty", is_flag=True, help="Load it only if the database has no account yet.")
@with_appcontext
def demo_command(reset, if_empty):
    """Load the demo défi of the source document (idempotent) and print its accounts."""
    from defi.demo import DEMO_PASSWORD
    from defi.demo import demo_accounts
    from defi.demo import demo_loaded
    from defi.demo import load_demo
    from defi.demo import remove_demo
    from defi.formatting import today
    from defi.models import User

    if if_empty and db.session.scalar(sa.select(sa.func.count(User.id))) > 0:
        if not demo_loaded():
            click.echo("The database already has accounts: the demo is not loaded.")
            return
    elif reset:
        remove_demo()
        load_demo(today())
        db.session.commit()
        click.echo("Demo défi reloaded.")
    elif demo_loaded():
        click.echo("Demo défi already loaded.")
    else:
        load_demo(today())
        db.session.commit()
        click.echo("Demo défi loaded.")
    click.echo(f"\nDemo accounts (password for all: {DEMO_PASSWORD}):")
    for username, what in demo_accounts():
        click.echo(f"  {username:<18} {what}")


TERRITORY_HELP = "The territory's name (needed when the install has several)."


def territory_option(command):
    return click.option("--territory", "territory_name", default=None, help=TERRITORY_HELP)(command)


def find_territory(name):
    """The territory of that name, or the only one; a ClickException naming them otherwise."""
    from defi.territories import TerritoryError
    from defi.territories import find_territory as find

    try:
        return find(name)
    except TerritoryError as error:
        raise click.ClickException(str(error)) from None


def new_username(username):
    """The username, normalised, if it is well formed and free; a ClickException otherwise."""
    from defi.accounts.forms import USERNAME_PATTERN
    from defi.accounts.services import normalise_username
    from defi.accounts.services import username_taken

    username = normalise_username(username)
    if not USERNAME_PATTERN.match(username):
        raise click.ClickException(
            "The username takes 3 to 40 characters: a-z, 0-9, dot, dash or underscore."
        )
    if username_taken(username):
        raise click.ClickException(f"The username {username!r} is taken.")
    return username


def new_password(username):
    """A password typed twice, asked again until it is good enough."""
    from defi.accounts.passwords import password_problem

    while True:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        problem = password_problem(password, username)
        if problem is None:
            return password
        click.echo(problem, err=True)


@click.command("create-pilot")
@click.argument("username")
@territory_option
@with_appcontext
def create_pilot_command(username, territory_name):
    """Create a pilot account of a territory (another pilot of an existing territory)."""
    from defi.accounts.services import create_pilot

    territory = find_territory(territory_name)
    username = new_username(username)
    create_pilot(username, new_password(username), territory.id)
    db.session.commit()
    click.echo(f"Pilot {username} of {territory.name} created. Log in at /connexion.")


@click.command("create-territory")
@click.argument("name")
@click.option("--pilot", "pilot_username", required=True, help="Its first pilot's username.")
@with_appcontext
def create_territory_command(name, pilot_username):
    """Create a territory and its first pilot (the first accounts of a production install)."""
    from defi.accounts.services import create_pilot
    from defi.territories import TerritoryError
    from defi.territories import create_territory

    username = new_username(pilot_username)
    try:
        territory = create_territory(name)
    except TerritoryError as error:
        raise click.ClickException(str(error)) from None
    create_pilot(username, new_password(username), territory.id)
    db.session.commit()
    click.echo(
        f"Territory {territory.name} created, with its pilot {username}. Log in at /connexion."
    )


@click.command("create-coordinator")
@click.argument("username")
@with_appcontext
def create_coordinator_command(username):
    """Create a coordinator of the network: it sees every territory's published figures."""
    from defi.accounts.services import create_coordinator

    username = new_username(username)
    create_coordinator(username, new_password(username))
    db.session.commit()
    click.echo(f"Coordinator {username} created. Log in at /connexion.")


@click.command("rename-territory")
@click.argument("name")
@click.argument("new_name")
@with_appcontext
def rename_territory_command(name, new_name):
    """Rename a territory (the one made from an install's existing data is "Territoire
    principal")."""
    from defi.territories import territory_like

    territory = find_territory(name)
    new_name = " ".join(new_name.split())
    if not new_name or len(new_name) > 120:
        raise click.ClickException("A territory's name takes 1 to 120 characters.")
    if territory_like(new_name) not in (None, territory):
        raise click.ClickException(f"A territory named like {new_name!r} exists already.")
    territory.name = new_name
    db.session.commit()
    click.echo(f"Territory renamed {new_name}.")


def find_challenge(name, territory_name):
    """The territory's défi of that name, or its current one."""
    from defi.models import Challenge
    from defi.models.challenge import current_challenge

    territory = find_territory(territory_name)
    if name is None:
        challenge = current_challenge(territory.id)
    else:
        challenge = db.session.scalar(
            sa.select(Challenge).where(
                Challenge.territory_id == territory.id, Challenge.name == name
            )
        )
    if challenge is None:
        raise click.ClickException(
            f"No défi named {name!r} in {territory.name}." if name else "No défi yet."
        )
    return challenge


@click.command("export-comparison")
@click.option("--format", "file_format", type=click.Choice(["csv", "xlsx"]), default="xlsx")
@click.option("--output", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option(
    "--challenge",
    "challenge_name",
    default=None,
    help="The défi's name (default: the current one).",
)
@territory_option
@with_appcontext
def export_comparison_command(file_format, output, challenge_name, territory_name):
    """Export the start / mid / end comparison (CSV or XLSX).

    These are the tables for partners, every cell through the disclosure step, counting sent
    relevés only. The XLSX opens on a "Synthèse" sheet laid out for a report, then holds the
    comparison, retention and questionnaire sheets. With --format csv, OUTPUT holds the
    comparison and two files beside it hold the other tables: OUTPUT-retention.csv and
    OUTPUT-questionnaire.csv. The relevés themselves are `defi export-microdata`'s, for the
    pilot alone.
    """
    from pathlib import Path

    from flask import current_app

    from defi.figures.export import comparison_tables
    from defi.figures.export import partner_tables
    from defi.figures.files import to_csv
    from defi.figures.files import to_xlsx

    challenge = find_challenge(challenge_name, territory_name)
    k = current_app.config["DEFI_MIN_COUNT"]
    path = Path(output)
    if file_format == "xlsx":
        tables = partner_tables(challenge, k)
        path.write_bytes(to_xlsx(tables))
        click.echo(f"{path}: {', '.join(t.name for t in tables)}")
        return
    tables = comparison_tables(challenge, k)
    path.write_bytes(to_csv(tables[0]))
    written = [str(path)]
    stem = path.with_suffix("")
    for table in tables[1:]:
        other = stem.parent / f"{stem.name}-{table.name}.csv"
        other.write_bytes(to_csv(table))
        written.append(str(other))
    click.echo("\n".join(written))


@click.command("export-microdata")
@click.argument("output", type=click.Path(dir_okay=False, writable=True))
@click.option("--challenge", "challenge_name", help="The défi's name (default: the current one).")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "xlsx"]),
    default=None,
    help="csv or xlsx (default: from OUTPUT's extension, else csv).",
)
@territory_option
@with_appcontext
def export_microdata_command(output, challenge_name, file_format, territory_name):
    """Export the pseudonymised relevés, one row per foyer and wave, for the pilot alone.

    Drafts are there too: the `statut` column says envoye or brouillon (the published figures
    count sent relevés only). The file's first line says it is confidential; it is never a
    file for partners.
    """
    from pathlib import Path

    from defi.figures.export import microdata_table
    from defi.figures.files import to_csv
    from defi.figures.files import to_xlsx

    path = Path(output)
    if file_format is None:
        file_format = "xlsx" if path.suffix.lower() == ".xlsx" else "csv"
    table = microdata_table(find_challenge(challenge_name, territory_name))
    path.write_bytes(to_xlsx([table]) if file_format == "xlsx" else to_csv(table))
    click.echo(output)


@click.command("import-entries")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--challenge",
    "challenge_name",
    default=None,
    help="The défi's exact name (default: the current défi).",
)
@click.option(
    "--create-challenge",
    is_flag=True,
    help="Create the défi named by --challenge if no défi has this name (refused otherwise).",
)
@click.option(
    "--structure",
    "structure_name",
    default=None,
    help="The structure (existing) that accompanies the new foyers the file says accompanied.",
)
@click.option(
    "--dry-run", is_flag=True, help="Check the file and say what it would do; write nothing."
)
@territory_option
@with_appcontext
def import_entries_command(
    path, challenge_name, create_challenge, structure_name, dry_run, territory_name
):
    """Import past relevés from a CSV file: all of it, or nothing and every line at fault."""
    from pathlib import Path

    from defi.models import Structure
    from defi.pilot.imports import ImportRejected
    from defi.pilot.imports import preview_import
    from defi.pilot.imports import write_plan

    territory = find_territory(territory_name)
    structure_id = None
    if structure_name is not None:
        structure_id = db.session.scalar(
            sa.select(Structure.id).where(
                Structure.territory_id == territory.id, Structure.name == structure_name
            )
        )
        if structure_id is None:
            raise click.ClickException(
                f"No structure named {structure_name!r} in {territory.name}."
            )
    name = challenge_name.strip() if challenge_name else None
    try:
        plan = preview_import(
            Path(path).read_bytes(),
            name,
            structure_id,
            territory_id=territory.id,
            create_challenge=create_challenge,
            lock=not dry_run,
        )
    except ImportRejected as rejected:
        db.session.rollback()
        hint = ""
        if name and not create_challenge and any(p.line is None for p in rejected.problems):
            hint = "\n(--create-challenge creates a new défi of this name.)"
        raise click.ClickException(
            f"{rejected.count} problem(s), nothing imported:\n{rejected.message}{hint}"
        ) from None
    click.echo(describe_plan(plan))
    if dry_run:
        db.session.rollback()
        click.echo("Dry run: nothing written.")
        return
    counts = write_plan(plan)
    db.session.commit()
    click.echo(
        f"relevés: {counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged."
    )


def describe_plan(plan) -> str:
    """What an import will do, in a few lines for the terminal."""
    preview = plan.preview()
    counts = preview["counts"]
    challenge = "existing" if plan.challenge is not None else "NEW"
    return "\n".join(
        [
            f"défi: {plan.challenge_name} ({challenge})",
            f"groups: {len(preview['new_groups'])} new, {len(preview['existing_groups'])} existing",
            f"foyers: {preview['new_households']} new ({preview['new_accompanied']} accompanied), "
            f"{preview['existing_households']} existing",
            f"relevés to create: {counts['created']}, to update: {counts['updated']}, "
            f"unchanged: {counts['unchanged']}",
        ]
    )


@click.command("purge")
@click.option(
    "--territory",
    "territory_name",
    default=None,
    help="Only this territory's défis (default: every territory's).",
)
@with_appcontext
def purge_command(territory_name):
    """Remove the foyers' identities of défis ended more than the retention period ago."""
    from flask import current_app

    from defi.formatting import today
    from defi.rights import purge_identities

    months = current_app.config["RETENTION_MONTHS"]
    territory = find_territory(territory_name) if territory_name else None
    count = purge_identities(today(), months, territory.id if territory else None)
    db.session.commit()
    where = f" of {territory.name}" if territory else ""
    click.echo(f"foyers anonymised: {count} (défis{where} ended more than {months} months ago).")


@click.command("remind")
@click.option("--dry-run", is_flag=True, help="List the reminders due today; send nothing.")
@with_appcontext
def remind_command(dry_run):
    """E-mail the foyers that have not sent the open wave, 7 then 2 days before it closes.

    Run it every day (cron, a systemd timer): each reminder goes once, and one that the SMTP
    server refused goes again at the next run. Needs MAIL_SERVER, MAIL_FROM and DEFI_PUBLIC_URL.
    """
    from flask import current_app

    from defi import reminders
    from defi.formatting import today

    config = current_app.config
    mailer = reminders.Mailer(config)
    try:
        login_url = reminders.login_link(config, sending=not dry_run)
        dues = reminders.due_reminders(today())
        if dry_run:
            for due in dues:
                click.echo(f"would send: {due.code}, {due.kind} days before wave {due.wave_rank}")
            click.echo(f"reminders due: {len(dues)} (dry run: nothing sent).")
            return
        if dues:
            mailer.open()
        outcome = reminders.send_reminders(dues, mailer, config["MAIL_FROM"], login_url)
    except reminders.CannotSend as error:
        raise click.ClickException(f"{error} No reminder sent.") from None
    finally:
        mailer.close()
    report_reminders(outcome)


def report_reminders(outcome):
    """Say what `defi remind` sent, and fail (exit 1) naming the foyers it could not reach."""
    sent = [due.kind for due in outcome.sent]
    line = (
        f"reminders sent: {len(sent)} "
        f"(7 days before: {sent.count(7)}, 2 days before: {sent.count(2)})"
    )
    if outcome.taken:
        line += f", {outcome.taken} sent meanwhile by another run"
    click.echo(line + ".")
    if outcome.failed:
        for due, reason in outcome.failed:
            click.echo(f"not sent to {due.code}: {reason}", err=True)
        codes = ", ".join(due.code for due, _reason in outcome.failed)
        raise click.ClickException(
            f"reminders not sent: {len(outcome.failed)} ({codes}); the next run tries them again."
        )


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def backup_command(path):
    """Copy the SQLite database while the app runs, and check the copy."""
    from pathlib import Path

    from defi.rights import backup_sqlite

    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        raise click.ClickException(
            "defi backup copies a SQLite database; back PostgreSQL up with pg_dump (README)."
        )
    try:
        result = backup_sqlite(url.database, Path(path))
    except FileExistsError:
        raise click.ClickException(f"{path} exists already: choose a new file.") from None
    if result != "ok":
        raise click.ClickException(f"The copy failed its integrity check: {result}")
    click.echo(f"Backup written to {path} (integrity check: ok).")


def register_commands(app):
    app.cli.add_command(demo_command)
    app.cli.add_command(create_pilot_command)
    app.cli.add_command(create_territory_command)
    app.cli.add_command(create_coordinator_command)
    app.cli.add_command(rename_territory_command)
    app.cli.add_command(export_comparison_command)
    app.cli.add_command(export_microdata_command)
    app.cli.add_command(import_entries_command)
    app.cli.add_command(purge_command)
    app.cli.add_command(remind_command)
    app.cli.add_command(backup_command)
