"""Demographic matching: exact on normalized first name, last name and date of birth."""

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize_name(value: str | None) -> str:
    """Case-, accent-, space- and punctuation-insensitive key: 'José-Luis ' -> 'joseluis'."""
    if not value:
        return ""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_ALNUM.sub("", stripped)
