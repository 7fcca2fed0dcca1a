"""The one field map between our contacts and Hint patients.

Each row names a contact field, the Hint patient field it maps to (names from
`hintpartner.hint.paths.PATIENT_FIELDS`, the only table of Hint names) and a direction:
`BOTH` fields are synced either way, `HINT_TO_CONTACT` fields are copied from Hint and read-only
on contacts.

Values are compared in one canonical form (`Values`: contact field -> str, bool or None; dates
and times as ISO strings) so "did anything change?" is a plain dict comparison, which is what
stops our own change, echoed back by a webhook, from starting a loop.

Gender: the seed guide's single "Gender" becomes two contact fields, `sex` (Hint `sex`:
male/female/intersex) and `gender_identity`: one of Hint's values (`GENDER_IDENTITIES`), or a
person's own words, which Hint holds as `gender_identity: "not listed"` with the words in
`gender_other`. Hint's `gender` is deprecated: it is read as a fallback for `sex` when Hint sends
no `sex`, and never written.

Phones: Hint wants `us_formattable: false` on a number that is not exactly 10 digits. A US number
(10 digits, or 11 starting with 1) is sent as its 10 digits with `us_formattable: true` and kept
on the contact as "(201) 555-0123"; any other number is sent as typed with `us_formattable:
false`.

`problems` holds the one set of rules for what Hint accepts: the contact form checks a value with
it before it is saved, so nothing outside Hint's lists is ever sent.
"""

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date

from hintpartner.hint import api, decode
from hintpartner.hint.paths import (
    ADDRESS_SHAPE_DEFAULT,
    ADDRESS_SHAPES,
    GENDER_IDENTITIES,
    GENDER_NOT_LISTED,
    PATIENT_FIELDS,
    PHONE_TYPES,
    PHONE_US_FORMATTABLE,
)


class Direction(enum.Enum):
    BOTH = "both"
    HINT_TO_CONTACT = "hint_to_contact"


class Kind(enum.Enum):
    TEXT = "text"
    DATE = "date"
    SEX = "sex"
    GENDER_IDENTITY = "gender_identity"  # Hint's list, or own words ("not listed" + gender_other)
    PHONE = "phone"  # one entry of Hint's `phones` array, chosen by `phone_type`
    PRACTITIONER = "practitioner"  # Hint's {"id", "name"} object; we keep the name
    BOOL = "bool"
    DATETIME = "datetime"


@dataclass(frozen=True)
class Mapping:
    contact: str
    hint: str
    direction: Direction
    kind: Kind = Kind.TEXT
    phone_type: str = ""


_B, _H = Direction.BOTH, Direction.HINT_TO_CONTACT
P = PATIENT_FIELDS

FIELD_MAP: tuple[Mapping, ...] = (
    Mapping("name_prefix", P["title"], _B),
    Mapping("first_name", P["first_name"], _B),
    Mapping("middle_name", P["middle_name"], _B),
    Mapping("last_name", P["last_name"], _B),
    Mapping("dob", P["dob"], _B, Kind.DATE),
    Mapping("sex", P["sex"], _B, Kind.SEX),
    Mapping("gender_identity", P["gender_identity"], _B, Kind.GENDER_IDENTITY),
    Mapping("email", P["email"], _B),
    Mapping("mobile_phone", P["phones"], _B, Kind.PHONE, "mobile"),
    Mapping("home_phone", P["phones"], _B, Kind.PHONE, "home"),
    Mapping("office_phone", P["phones"], _B, Kind.PHONE, "office"),
    Mapping("address_line1", P["address_line1"], _B),
    Mapping("address_line2", P["address_line2"], _B),
    Mapping("city", P["address_city"], _B),
    Mapping("state", P["address_state"], _B),
    Mapping("zip_code", P["address_zip"], _B),
    Mapping("country", P["address_country"], _B),
    Mapping("practitioner_name", P["practitioner"], _H, Kind.PRACTITIONER),
    Mapping("insurance_payer", P["insurance_payer"], _H),
    Mapping("insurance_group_id", P["insurance_group_id"], _H),
    Mapping("insurance_member_id", P["insurance_member_id"], _H),
    Mapping("member_contract_accepted", P["member_contract_accepted"], _H, Kind.BOOL),
    Mapping("member_contract_accepted_at", P["member_contract_accepted_at"], _H, Kind.DATETIME),
    Mapping("hipaa_authorization_accepted", P["hipaa_accepted"], _H, Kind.BOOL),
    Mapping("hipaa_authorization_accepted_at", P["hipaa_accepted_at"], _H, Kind.DATETIME),
)

assert {m.phone_type for m in FIELD_MAP if m.kind is Kind.PHONE} <= set(PHONE_TYPES)

# Each mapped field as a person reads it: the contact form's labels and the detail page's.
LABELS: dict[str, str] = {
    "name_prefix": "Title",
    "first_name": "First name",
    "middle_name": "Middle name",
    "last_name": "Last name",
    "dob": "Date of birth",
    "sex": "Sex",
    "gender_identity": "Gender identity",
    "email": "Email",
    "mobile_phone": "Mobile phone",
    "home_phone": "Home phone",
    "office_phone": "Office phone",
    "address_line1": "Address line 1",
    "address_line2": "Address line 2",
    "city": "City",
    "state": "State",
    "zip_code": "ZIP code",
    "country": "Country",
    "practitioner_name": "Practitioner",
    "insurance_payer": "Insurance payer",
    "insurance_group_id": "Insurance group number",
    "insurance_member_id": "Insurance member number",
    "member_contract_accepted": "Membership agreement accepted",
    "member_contract_accepted_at": "Membership agreement accepted on",
    "hipaa_authorization_accepted": "HIPAA authorization accepted",
    "hipaa_authorization_accepted_at": "HIPAA authorization accepted on",
}
assert set(LABELS) == {m.contact for m in FIELD_MAP}

TWO_WAY_FIELDS: tuple[str, ...] = tuple(m.contact for m in FIELD_MAP if m.direction is _B)
PHONE_FIELDS: tuple[str, ...] = tuple(m.contact for m in FIELD_MAP if m.kind is Kind.PHONE)
HINT_ONLY_FIELDS: tuple[str, ...] = tuple(m.contact for m in FIELD_MAP if m.direction is _H)
ALL_FIELDS: tuple[str, ...] = TWO_WAY_FIELDS + HINT_ONLY_FIELDS
_BY_CONTACT = {m.contact: m for m in FIELD_MAP}
SEX_VALUES = ("male", "female", "intersex")

Values = dict[str, Any]


def is_blank(value: Any) -> bool:
    return value is None or value == ""


# --- canonical values ------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _iso_date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value)[:10]
    try:
        parsed = parse_date(text) if text else None
    except ValueError:
        parsed = None
    return parsed.isoformat() if parsed else ""


def _iso_datetime(value: Any) -> str:
    parsed = value if isinstance(value, datetime) else decode.parse_time(_text(value))
    return parsed.isoformat() if parsed else ""


def _bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _sex(value: Any) -> str:
    text = _text(value).lower()
    return text if text in SEX_VALUES else ""


# Other spellings people type for a value on Hint's list.
_GENDER_ALIASES = {"non-binary": "nonbinary", "non binary": "nonbinary"}
_PHONE_CHARS = re.compile(r"^[0-9()+.\-\s]*(?:(?:ext\.?|x)\s*[0-9]+)?$", re.IGNORECASE)


def _gender_identity(value: Any) -> str:
    """One of Hint's values when the text is one (any case), else the person's own words."""
    text = _text(value)
    listed = _GENDER_ALIASES.get(text.lower(), text.lower())
    return listed if listed in GENDER_IDENTITIES else text


def gender_identity_payload(value: Any) -> dict[str, str]:
    """Hint's `gender_identity` (+ `gender_other`) for a contact's gender identity."""
    text = _gender_identity(value)
    if text in GENDER_IDENTITIES or not text:
        return {P["gender_identity"]: text}
    return {P["gender_identity"]: GENDER_NOT_LISTED, P["gender_other"]: text}


def _us_digits(number: str) -> str:
    """The 10 digits of a US number ("+1 (201) 555-0123" → "2015550123"), else ""."""
    if not _PHONE_CHARS.match(number) or re.search(r"(ext|x)", number, re.IGNORECASE):
        return ""
    found = re.sub(r"\D", "", number)
    if len(found) == 11 and found.startswith("1"):
        found = found[1:]
    return found if len(found) == 10 else ""


def phone_text(value: Any) -> str:
    """A phone number as kept on a contact: a US number as "(201) 555-0123", others as typed."""
    text = _text(value)
    us = _us_digits(text)
    return f"({us[:3]}) {us[3:6]}-{us[6:]}" if us else text


def phone_entry(kind: str, number: str) -> dict[str, Any]:
    """One entry of Hint's `phones`, with `us_formattable` as Hint's description asks."""
    us = _us_digits(number)
    return {"type": kind, "number": us or _text(number), PHONE_US_FORMATTABLE: bool(us)}


def _phones(patient: dict[str, Any]) -> dict[str, str]:
    """First number of each type in Hint's `phones` array."""
    found: dict[str, str] = {}
    raw = patient.get(P["phones"])
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict):
            kind = _text(entry.get("type")).lower()
            number = _text(entry.get("number"))
            if kind and number and kind not in found:
                found[kind] = number
    return found


def canonical(mapping: Mapping, value: Any) -> Any:
    """A contact-side value in the canonical form used by the merge."""
    if mapping.kind is Kind.DATE:
        return _iso_date(value)
    if mapping.kind is Kind.DATETIME:
        return _iso_datetime(value)
    if mapping.kind is Kind.BOOL:
        return _bool(value)
    if mapping.kind is Kind.SEX:
        return _sex(value)
    if mapping.kind is Kind.GENDER_IDENTITY:
        return _gender_identity(value)
    if mapping.kind is Kind.PHONE:
        return phone_text(value)
    return _text(value)


def canonical_value(name: str, value: Any) -> Any:
    """`canonical` for the contact field `name`."""
    return canonical(_BY_CONTACT[name], value)


def contact_values(contact: Any) -> Values:
    """Every mapped field of a Contact (or a dict shaped like one), canonical."""
    get = contact.get if isinstance(contact, dict) else lambda name: getattr(contact, name, None)
    return {m.contact: canonical(m, get(m.contact)) for m in FIELD_MAP}


# Street lines: Hint names them two ways (`paths.ADDRESS_SHAPES`); the map holds the documented
# names, each line's index picks its twin in the other shape.
_ADDRESS_LINE_INDEX = {
    name: index for index, name in enumerate(ADDRESS_SHAPES[ADDRESS_SHAPE_DEFAULT])
}


def _address_line(patient: dict[str, Any], hint_name: str) -> Any:
    """A street line under whichever name this patient object uses."""
    index = _ADDRESS_LINE_INDEX[hint_name]
    for names in ADDRESS_SHAPES.values():
        if names[index] in patient:
            return patient[names[index]]
    return None


def patient_values(patient: dict[str, Any]) -> Values:
    """Every mapped field read from a Hint patient object, canonical, keyed by contact field."""
    phones = _phones(patient)
    out: Values = {}
    for m in FIELD_MAP:
        if m.kind is Kind.PHONE:
            out[m.contact] = phone_text(phones.get(m.phone_type, ""))
        elif m.kind is Kind.GENDER_IDENTITY:
            listed = _gender_identity(patient.get(m.hint))
            other = _text(patient.get(P["gender_other"]))
            out[m.contact] = other if listed == GENDER_NOT_LISTED and other else listed
        elif m.kind is Kind.PRACTITIONER:
            raw = patient.get(m.hint)
            out[m.contact] = _text(raw.get("name")) if isinstance(raw, dict) else _text(raw)
        elif m.kind is Kind.SEX:
            # Hint's deprecated `gender` is only a fallback for reading.
            out[m.contact] = _sex(patient.get(m.hint)) or _sex(patient.get(P["gender_deprecated"]))
        elif m.hint in _ADDRESS_LINE_INDEX:
            out[m.contact] = canonical(m, _address_line(patient, m.hint))
        else:
            out[m.contact] = canonical(m, patient.get(m.hint))
    return out


# --- writing ---------------------------------------------------------------------------------


def contact_fill_new(contact: Any, values: Values) -> None:
    """Set canonical `values` on a new, unsaved Contact (no comparison: a batch's fast path)."""
    for name, value in values.items():
        kind = _BY_CONTACT[name].kind
        if kind is Kind.DATE:
            value = parse_date(value) if value else None
        elif kind is Kind.DATETIME:
            value = decode.parse_time(value)
        elif kind is not Kind.BOOL:
            value = value or ""
        setattr(contact, name, value)


def contact_assign(contact: Any, values: Values) -> list[str]:
    """Set canonical `values` on a Contact; returns the names of the fields that changed."""
    changed = []
    for name, value in values.items():
        m = _BY_CONTACT[name]
        if m.kind is Kind.DATE:
            new: Any = parse_date(value) if value else None
        elif m.kind is Kind.DATETIME:
            new = decode.parse_time(value)
        elif m.kind is Kind.BOOL:
            new = value
        else:
            new = value or ""
        if canonical(m, getattr(contact, name)) != canonical(m, new):
            setattr(contact, name, new)
            changed.append(name)
    return changed


def patient_payload(
    values: Values, *, patient: dict[str, Any] | None = None, address_shape: str = ""
) -> dict[str, Any]:
    """The Hint PATCH/POST body for two-way `values`. Hint-only fields are never written.

    Phones are written as the whole `phones` array: entries of other types (and Hint's extra
    keys) are kept, the mapped types are replaced, removed when blank, or added. Street lines
    take the names of the patient object in hand, else `address_shape` (the practice's,
    `handshake.address_shape`), else Hint's documented ones.
    """
    shape = api.address_shape_of(patient) or address_shape
    address_names = ADDRESS_SHAPES.get(shape) or ADDRESS_SHAPES[ADDRESS_SHAPE_DEFAULT]
    body: dict[str, Any] = {}
    phone_values: dict[str, str] = {}
    for name, value in values.items():
        m = _BY_CONTACT[name]
        if m.direction is not Direction.BOTH:
            continue
        if m.kind is Kind.PHONE:
            phone_values[m.phone_type] = value or ""
        elif m.kind is Kind.GENDER_IDENTITY:
            body.update(gender_identity_payload(value))
        elif m.kind is Kind.SEX:
            body[m.hint] = _sex(value)  # never a value outside Hint's list
        elif m.kind is Kind.DATE:
            body[m.hint] = value or None
        elif m.hint in _ADDRESS_LINE_INDEX:
            body[address_names[_ADDRESS_LINE_INDEX[m.hint]]] = value if value is not None else ""
        else:
            body[m.hint] = value if value is not None else ""
    if phone_values:
        body[P["phones"]] = _phones_array((patient or {}).get(P["phones"]), phone_values)
    return body


def _phones_array(existing: Any, wanted: dict[str, str]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    placed: set[str] = set()
    for entry in existing if isinstance(existing, list) else []:
        if not isinstance(entry, dict):
            continue
        kind = _text(entry.get("type")).lower()
        if kind not in wanted:
            result.append(entry)
        elif kind not in placed and wanted[kind]:
            result.append({**entry, **phone_entry(kind, wanted[kind])})
            placed.add(kind)
        else:
            placed.add(kind)  # a blank value (or a duplicate entry) removes it
    for kind, number in wanted.items():
        if kind not in placed and number:
            result.append(phone_entry(kind, number))
    return result


# --- what Hint accepts -----------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# A US address: Hint's examples write the state as its USPS code ("NY") and the ZIP as 5 digits
# (ZIP+4 is the other form the USPS issues). Hint's API description names no format, so only a
# US address (the country blank or the United States) is held to it; others are free text.
US_STATES: dict[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin",
    "WY": "Wyoming", "AS": "American Samoa", "GU": "Guam", "MP": "Northern Mariana Islands",
    "PR": "Puerto Rico", "VI": "U.S. Virgin Islands", "AA": "Armed Forces Americas",
    "AE": "Armed Forces Europe", "AP": "Armed Forces Pacific",
}  # fmt: skip
_US_STATE_WORDS = frozenset([*US_STATES, *(name.upper() for name in US_STATES.values())])
_US_COUNTRIES = frozenset(
    {"", "US", "USA", "U.S.", "U.S.A.", "UNITED STATES", "UNITED STATES OF AMERICA"}
)
_US_ZIP = re.compile(r"^[0-9]{5}(?:-?[0-9]{4})?$")


def _us_address_problems(values: Values) -> dict[str, str]:
    """The state and ZIP of a US address, as the USPS writes them."""
    if _text(values.get("country")).upper() not in _US_COUNTRIES:
        return {}
    found: dict[str, str] = {}
    state = _text(values.get("state"))
    if state and state.upper() not in _US_STATE_WORDS:
        found["state"] = "Enter a US state as its two-letter code, such as NY."
    zip_code = _text(values.get("zip_code"))
    if zip_code and not _US_ZIP.match(zip_code):
        found["zip_code"] = "Enter a US ZIP code: 5 digits, or 9 as 12345-6789."
    return found


def problems(values: Values) -> dict[str, str]:
    """Each two-way value Hint would refuse, as a sentence for the person typing it."""
    found: dict[str, str] = _us_address_problems(values)
    for name, value in values.items():
        m = _BY_CONTACT.get(name)
        if m is None or m.direction is not Direction.BOTH or is_blank(value):
            continue
        text = value if isinstance(value, date) else _text(value)
        if m.kind is Kind.DATE:
            day = text if isinstance(text, date) else parse_date(text[:10]) if text else None
            if day is None:
                found[name] = "Enter a date as YYYY-MM-DD."
            elif day > timezone.localdate():
                found[name] = "A date of birth cannot be in the future."
        elif m.kind is Kind.SEX and _sex(text) != text:
            found[name] = f"Choose one of: {', '.join(SEX_VALUES)}."
        elif m.kind is Kind.GENDER_IDENTITY and _gender_identity(text) == GENDER_NOT_LISTED:
            found[name] = "Describe the gender identity in your own words."
        elif m.kind is Kind.PHONE:
            count = sum(c.isdigit() for c in text)
            if not _PHONE_CHARS.match(text) or not 7 <= count <= 15:
                found[name] = "Enter a phone number: digits, spaces, + ( ) - and an extension."
        elif name == "email" and not _EMAIL.match(text):
            found[name] = "Enter an email address such as name@example.com."
    return found
