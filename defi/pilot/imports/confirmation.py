"""Carrying a previewed file to its confirmation, so that only the file the pilot saw is
written, and only as it is then checked again.

The preview page holds the file (compressed, in URL-safe base64: sent back as a form field, it
takes about a quarter of its size) and a token signed with the app's secret key. The token
holds the SHA-256 of that text, the import's options (défi, structure, creation asked) and the
user who saw the preview, and what the preview said would change. A confirmation whose text or
token was altered, or sent by another user, is refused before the text is even decompressed;
a good one is checked again in full (`preview_import`), in the transaction that writes it.
Nothing is kept on the server between the two requests.
"""

import base64
import hashlib
import hmac
import zlib

from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import URLSafeSerializer

from defi.formatting import gettext as _
from defi.pilot.imports.parse import ImportRejected

SALT = "defi.pilot.import-confirmation"


def serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=SALT)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("ascii", "replace")).hexdigest()


def seal(data: bytes, options: dict, summary: list, user_id: int) -> tuple[str, str]:
    """The text and the token that carry the file and its options to the confirmation."""
    payload = base64.urlsafe_b64encode(zlib.compress(data, 6)).decode("ascii")
    token = serializer().dumps(
        {"digest": digest(payload), "options": options, "summary": summary, "user": user_id}
    )
    return payload, token


def unseal(payload: str, token: str, user_id: int, max_bytes: int) -> tuple[bytes, dict, list]:
    """The file, the options and the summary of the preview; ImportRejected if the
    confirmation is not the one the preview gave this user."""
    refused = ImportRejected(
        _(
            "Cette confirmation ne correspond pas à l'aperçu affiché : rien n'a été importé. "
            "Choisissez de nouveau le fichier."
        )
    )
    try:
        sealed = serializer().loads(token)
    except BadSignature:
        raise refused from None
    if (
        not isinstance(sealed, dict)
        or sealed.get("user") != user_id
        or not hmac.compare_digest(str(sealed.get("digest")), digest(payload))
    ):
        raise refused
    # Signed by this app: still, never more than an upload could hold.
    inflate = zlib.decompressobj()
    data = inflate.decompress(base64.urlsafe_b64decode(payload), max_bytes + 1)
    if len(data) > max_bytes or inflate.unconsumed_tail:
        raise refused
    return data, sealed["options"], sealed["summary"]
