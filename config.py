"""Settings, read from the environment with safe defaults.

`DEFI_ENV` is `production` unless set: production refuses to start without `SECRET_KEY`
(see `defi.create_app`), while `development` (what `make run` uses) keeps a random key in
`instance/secret_key` so that gunicorn's workers share it.
"""

import os
from datetime import timedelta


def database_url(url):
    """Use psycopg 3, the driver we install, for plain `postgresql://` URLs."""
    if url and url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Config:
    ENV_NAME = os.environ.get("DEFI_ENV", "production")
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # A relative SQLite path lives in the instance folder (Flask-SQLAlchemy resolves it there).
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL")) or "sqlite:///defi.db"
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    BABEL_DEFAULT_LOCALE = "fr"
    BABEL_DEFAULT_TIMEZONE = "Europe/Paris"

    # A form left open for hours on a phone must still save.
    WTF_CSRF_TIME_LIMIT = None
    # The CSRF check runs after the access policy (`access.check_csrf`), not before it.
    WTF_CSRF_CHECK_DEFAULT = False

    # Requests each worker process runs at once (defi/workers.py); gunicorn's threads beyond
    # them only wait for a slow client's bytes. 0: no limit.
    MAX_CONCURRENT_REQUESTS = int(os.environ.get("DEFI_CONCURRENT_REQUESTS", "2"))
    # The largest request body, in bytes: a form is a few KB, its longest texts a few tens;
    # texts pasted past a field's length still reach the form, which says so beside the field.
    # The import of past relevés takes a larger file (`security.body_limit`).
    MAX_CONTENT_LENGTH = 512 * 1024

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("DEFI_ENV", "production") == "production"
    # Foyers stay logged in on their own phone; staff sessions are cut shorter in accounts.
    PERMANENT_SESSION_LIFETIME = timedelta(days=30)
    # The cookie is sent again only when the session changed (security.check_session_age renews
    # it once a minute for staff, once a day for a foyer), not signed anew on every response.
    SESSION_REFRESH_EACH_REQUEST = False
    STAFF_IDLE_TIMEOUT = timedelta(minutes=30)
    STAFF_ABSOLUTE_TIMEOUT = timedelta(hours=12)

    # Empty: a SQLite file in instance/, shared by the workers of this server (defi/ratelimit.py);
    # several servers share theirs through Redis: redis://127.0.0.1:6379/0 (docs/DEPLOY.md).
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "")
    # Several apps (or test runs) can share one Redis: each keeps its counters under a prefix.
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "")
    # Redis out of reach: count in each worker's memory meanwhile, rather than refuse logins.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    # Said explicitly: the limiter is one object, and init_app takes its last state as default.
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_STRATEGY = "moving-window"

    # K: no figure about accompanied foyers rests on fewer foyers (never below 3).
    DEFI_MIN_COUNT = max(3, int(os.environ.get("DEFI_MIN_COUNT", "3")))
    # How long a printed code stays valid when its inviter does not choose (7 to 90 days: a
    # family may scan the code weeks after the atelier where it was handed over).
    INVITATION_LIFETIME = timedelta(days=30)
    # Identities are purged this many months after the end of a défi.
    RETENTION_MONTHS = int(os.environ.get("DEFI_RETENTION_MONTHS", "12"))
    HSTS = os.environ.get("DEFI_ENV", "production") == "production"
    # The host names the site answers to (comma-separated): a request naming another gets 400,
    # so that no link the app writes (an invitation's, a calendar's) names a forged host.
    TRUSTED_HOSTS = [
        h.strip() for h in os.environ.get("DEFI_TRUSTED_HOSTS", "").split(",") if h.strip()
    ] or None
    # How many reverse proxies (nginx...) stand in front of gunicorn: the client's address and
    # scheme are then read from their X-Forwarded-For and X-Forwarded-Proto (docs/DEPLOY.md).
    # 0 trusts no such header: a client could forge them to dodge the login throttling.
    TRUSTED_PROXIES = int(os.environ.get("DEFI_TRUSTED_PROXIES", "0"))
    # The site's address as a foyer types it, e.g. https://defi.example.org: the links of
    # what leaves outside a request (the reminders of `defi remind`) start with it.
    PUBLIC_URL = os.environ.get("DEFI_PUBLIC_URL", "")

    # The SMTP server that sends the reminders (`defi remind`); without MAIL_SERVER none is sent.
    # MAIL_USE_TLS: STARTTLS on a plain connection (port 587); MAIL_USE_SSL: TLS from the
    # first byte (port 465).
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "").lower() in ("1", "true", "yes")
    MAIL_USE_SSL = os.environ.get("MAIL_USE_SSL", "").lower() in ("1", "true", "yes")
    # The sender of the reminders, e.g. "Défi Famille <defi@example.org>".
    MAIL_FROM = os.environ.get("MAIL_FROM", "")


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key"  # noqa: S105 - only ever used by the test suite
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    WTF_CSRF_ENABLED = False
    SESSION_COOKIE_SECURE = False
    RATELIMIT_STORAGE_URI = "memory://"
    HSTS = False
    # The tests never reach a mail server of the developer's environment: those that send
    # start their own (tests/test_remind.py).
    MAIL_SERVER = ""
    PUBLIC_URL = "https://defi.example.org"
