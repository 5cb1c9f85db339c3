"""Accounts: login, invitations (account creation and password reset), passwords."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from defi.accounts import views  # noqa: E402,F401 - registers the routes on bp
