"""The Défi Famille web app."""

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(config_class=Config):
    """Build the app: config, extensions, blueprints, error handlers."""
    # templates/ and static/ sit beside the package, at the top of the repository.
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_relative_config=True,
    )
    app.config.from_object(config_class)
    from defi import workers

    workers.init_app(app)
    if app.config["TRUSTED_PROXIES"]:
        # Behind nginx: the client's address (for the login throttling) and the scheme come
        # from the proxies' X-Forwarded-For and X-Forwarded-Proto, and from those only.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    from defi import assets
    from defi import compression
    from defi import database
    from defi import ratelimit
    from defi import security
    from defi.figures import cache as figures_cache

    security.require_secret_key(app)

    from defi.extensions import babel
    from defi.extensions import csrf
    from defi.extensions import db
    from defi.extensions import limiter
    from defi.extensions import login_manager
    from defi.extensions import migrate

    db.init_app(app)
    # Batch mode lets Alembic alter SQLite tables (it copies them); the migrations live at
    # the top of the repository, beside the package.
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app)
    ratelimit.init_app(app)
    limiter.init_app(app)
    database.init_app(app)
    figures_cache.init_listeners()
    security.init_app(app)
    compression.init_app(app)
    assets.init_app(app)

    from defi import access
    from defi import errors
    from defi import formatting
    from defi.accounts import bp as accounts_bp
    from defi.calendar import bp as calendar_bp
    from defi.collecte import bp as collecte_bp
    from defi.groups import bp as groups_bp
    from defi.main import bp as main_bp
    from defi.network import bp as network_bp
    from defi.pilot import bp as pilot_bp
    from defi.referents import bp as referents_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(collecte_bp)
    app.register_blueprint(groups_bp)
    app.register_blueprint(calendar_bp)
    app.register_blueprint(referents_bp)
    app.register_blueprint(pilot_bp)
    app.register_blueprint(network_bp)
    access.init_app(app)
    errors.init_app(app)
    formatting.init_app(app)

    from defi.cli import register_commands

    register_commands(app)
    return app
