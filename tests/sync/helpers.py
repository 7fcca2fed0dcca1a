"""Plain builders for the contact-sync tests."""

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

from sync.models import Contact

DATA = Path(__file__).resolve().parent.parent / "data" / "sync"
_PATIENT = json.loads((DATA / "patient.json").read_text())


def patient_json(**overrides: Any) -> dict[str, Any]:
    """A Hint patient object shaped like Hint's answer, with overrides."""
    data = copy.deepcopy(_PATIENT)
    data.update(overrides)
    return data


def make_contact(practice: Any, **overrides: Any) -> Contact:
    fields: dict[str, Any] = {
        "first_name": "Ana",
        "last_name": "Nunez",
        "dob": date(1980, 4, 2),
        "email": "ana@example.test",
    }
    fields.update(overrides)
    return Contact.objects.create(practice=practice, **fields)


def id_rows(contact_ids: list[int]) -> list[tuple[int, str, str, str]]:
    """A CSV batch's rows for these contact ids (as `sync.csv_input.csv_rows` yields them)."""
    return [(cid, str(cid), "pending", "") for cid in contact_ids]
