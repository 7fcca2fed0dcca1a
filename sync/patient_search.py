"""Search in the practice's patient mirror: prefix matches on indexed, normalized keys.

Every branch is an index range scan on (practice, key): name keys and email are compared by
prefix (`LIKE 'abc%'`, served by the varchar_pattern_ops indexes on PostgreSQL), a date of birth
exactly or by year. So a keystroke costs the same with 100 or 100,000 patients.
"""

import re
from datetime import date, datetime

from django.db.models import Q

from sync.matching import normalize_name
from sync.models import PatientQuerySet

MAX_QUERY = 100
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y")
_YEAR = re.compile(r"^(19|20)\d\d$")


def _as_date(text: str) -> date | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def patients_search(patients: PatientQuerySet, query: str) -> PatientQuerySet:
    """`patients` narrowed to those matching `query` (name, date of birth or email)."""
    text = " ".join(query.split())[:MAX_QUERY]
    if not text:
        return patients
    if "@" in text:
        return patients.filter(email_key__startswith=text.lower())
    dob = _as_date(text)
    if dob is not None:
        return patients.filter(dob=dob)
    if _YEAR.match(text):
        year = int(text)
        return patients.filter(dob__gte=date(year, 1, 1), dob__lt=date(year + 1, 1, 1))
    tokens = [t for t in (normalize_name(part) for part in re.split(r"[\s,]+", text)) if t]
    if not tokens:
        return patients.none()
    if len(tokens) == 1:
        (t,) = tokens
        return patients.filter(Q(last_name_key__startswith=t) | Q(first_name_key__startswith=t))
    first, last = tokens[0], tokens[-1]
    # "Ada Love" or "Lovelace, Ada": either order.
    return patients.filter(
        Q(first_name_key__startswith=first, last_name_key__startswith=last)
        | Q(last_name_key__startswith=first, first_name_key__startswith=last)
    )
