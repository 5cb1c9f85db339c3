"""How the producer directory recognises the same producer collected by several foyers."""

import re
import unicodedata


def fold(text: str) -> str:
    """Lower case, no accents, single spaces: 'Ferme  du Bois ' → 'ferme du bois', 'Œufs' →
    'oeufs'."""
    # Ligatures have no decomposition: "œufs" is typed "oeufs" on most phones.
    text = (text or "").replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("Æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", " ", plain.lower()).strip()


def dedup_key(name: str, commune: str) -> str:
    """Same name and same commune make the same producer in the group's directory."""
    return f"{fold(name)}|{fold(commune)}"[:330]
