"""Password hashing (argon2id at OWASP's parameters) and the password rules."""

import re
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError

from defi.formatting import gettext as _

# OWASP: argon2id, m = 19 MiB, t = 2, p = 1. werkzeug's default scrypt is below the minimum.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Compared against when the username is unknown, so that both cases take the same time.
_DUMMY_HASH = HASHER.hash("not-a-real-password-but-as-long")

# "123456789012" and the like: refused, they have no letters for the blocklist to match.
DIGIT_RUNS = ("12345678901234567890", "98765432109876543210")
MIN_LENGTH = 12
MAX_LENGTH = 128


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)


@cache
def blocklist() -> frozenset[str]:
    """Common passwords and words of the programme, folded as `_fold` does."""
    text = (Path(__file__).parent / "blocklist.txt").read_text(encoding="utf-8")
    words = (line.strip() for line in text.splitlines())
    return frozenset(_fold(word) for word in words if word and not word.startswith("#"))


def _fold(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def password_problem(password: str, username: str = "") -> str | None:
    """Why this password is refused, in French, or None. No composition rules (OWASP)."""
    if len(password) < MIN_LENGTH:
        return _("Le mot de passe doit faire au moins %(n)d caractères.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("Le mot de passe doit faire au plus %(n)d caractères.", n=MAX_LENGTH)
    folded = _fold(password)
    sequence = any(password in run for run in DIGIT_RUNS)
    if len(set(password)) < 4 or folded in blocklist() or sequence:
        return _("Ce mot de passe est trop courant. Choisissez une phrase à vous.")
    if username and len(username) >= 4 and _fold(username) and _fold(username) in folded:
        return _("Le mot de passe ne doit pas contenir votre identifiant.")
    return None
