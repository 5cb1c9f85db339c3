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


@click.command("create-pilot")
@click.argument("username")
@with_appcontext
def create_pilot_command(username):
    """Create a pilot account (the first account of a production install)."""
    from defi.accounts.forms import USERNAME_PATTERN
    from defi.accounts.passwords import password_problem
    from defi.accounts.services import create_pilot
    from defi.accounts.services import username_taken

    username = username.strip().lower()
    if not USERNAME_PATTERN.match(username):
        raise click.ClickException(
            "The username takes 3 to 40 characters: a-z, 0-9, dot, dash or underscore."
        )
    if username_taken(username):
        raise click.ClickException(f"The username {username!r} is taken.")
    while True:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        problem = password_problem(password, username)
        if problem is None:
            break
        click.echo(problem, err=True)
    create_pilot(username, password)
    db.session.commit()
    click.echo(f"Pilot {username} created. Log in at /connexion.")


def register_commands(app):
    app.cli.add_command(demo_command)
    app.cli.add_command(create_pilot_command)
