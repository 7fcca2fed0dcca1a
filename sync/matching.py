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


def demographic_key(*, first_name: str | None, last_name: str | None, dob: object) -> tuple:
    """The exact-match key (normalized first, last, ISO date of birth); empty parts mean none."""
    iso = dob.isoformat() if hasattr(dob, "isoformat") else str(dob or "")[:10]
    return (normalize_name(first_name), normalize_name(last_name), iso)


def has_demographics(key: tuple) -> bool:
    return all(key)


def patient_key(patient: dict) -> tuple:
    """The demographic key of a Hint patient object."""
    return demographic_key(
        first_name=patient.get("first_name"),
        last_name=patient.get("last_name"),
        dob=patient.get("dob"),
    )


def contact_matches(*, practice: object, key: tuple, unlinked_only: bool = False) -> list:
    """Contacts of `practice` whose demographic key equals `key` (uses the indexed columns)."""
    from sync.models import Contact

    if not has_demographics(key):
        return []
    first, last, dob = key
    qs = Contact.objects.for_practice(practice).filter(
        last_name_key=last, first_name_key=first, dob=dob
    )
    if unlinked_only:
        qs = qs.filter(hint_patient_id="")
    return list(qs[:3])


def patient_matches(*, candidates: list[dict], key: tuple) -> list[dict]:
    """The Hint patient objects among `candidates` whose demographic key equals `key`."""
    if not has_demographics(key):
        return []
    return [p for p in candidates if patient_key(p) == key]


def contact_key(contact: object) -> tuple:
    """The demographic key of a Contact."""
    return demographic_key(
        first_name=getattr(contact, "first_name", ""),
        last_name=getattr(contact, "last_name", ""),
        dob=getattr(contact, "dob", None),
    )
