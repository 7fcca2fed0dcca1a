"""Batch plans (a preview, like `terraform plan`): what a batch would do, row by row, with no
write to either side, saved so that "Apply" carries out exactly those decisions.

A plan is a `Batch` in mode PLAN. Its run reads what the batch reads (the same client and
budget) and asks the batch's own decision for every row (`sync.batch_patients.page_decide`,
`sync.batch_csv.csv_decide`); each row keeps the outcome, the field changes
(`sync.merge.field_changes`) and a fingerprint of what the decision read. Applying runs the
batch again following the rows: a row whose fingerprint still matches gets the decision it
planned (the decision is a pure function of what it read); a row whose contact or patient
changed since is decided again and flagged (`redecided`). A plan expires after
`SYNC_PLAN_TTL_HOURS`.
"""

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from sync.merge import FieldChange, Source
from sync.models import Batch, BatchRow

Outcome = BatchRow.Outcome

# How a plan's rows read: what applying would do.
PLANNED_LABELS = {
    Outcome.LINKED: "would link and merge",
    Outcome.CREATED: "would create a contact and link it",
    Outcome.UPDATED: "already linked, would update the contact",
    Outcome.UNCHANGED: "already linked, nothing to change",
    Outcome.SKIPPED_LINKED: "skip: contact already linked",
    Outcome.SKIPPED_PATIENT_LINKED: "skip: patient linked to another contact",
    Outcome.SKIPPED_MULTIPLE: "skip: several matches",
    Outcome.NO_MATCH: "no match",
    Outcome.NOT_AN_ID: "skip: not a contact id",
    Outcome.DUPLICATE: "skip: id repeated in the file",
    Outcome.UNKNOWN: "skip: not a contact of this practice",
    Outcome.ERROR: "error",
}
_SIDE = {
    Source.CONTACT: "to Hint",
    Source.PATIENT: "to the contact",
    Source.HINT_ONLY: "to the contact",
}


def fingerprint(*parts: Any) -> str:
    """A short digest of what a decision read (timestamps, ids, values): equal parts, equal
    decision."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def stamp(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def changes_saved(changes: Iterable[FieldChange], only: Iterable[str] | None = None) -> list[dict]:
    """The fields a decision changes on either side, as a row keeps them (JSON); `only` keeps
    the fields the decision itself writes (e.g. not a field a contact still owes Hint)."""
    keep = set(only) if only is not None else None
    return [
        {
            "field": c.name,
            "label": c.label,
            "contact": c.contact,
            "patient": c.patient,
            "after": c.after,
            "to": _SIDE[c.source],
        }
        for c in changes
        if c.source is not Source.SAME
        and (c.changes_contact or c.changes_patient)
        and (keep is None or c.name in keep)
    ]


def changes_text(changes: list[dict] | None) -> str:
    """One line for a row's changes: "Email: a@x → b@y (to Hint); City: (blank) → Springfield …"."""

    def shown(value: Any) -> str:
        return "(blank)" if value is None or value == "" else str(value)

    return "; ".join(
        f"{c['label']}: {shown(c['patient'] if c['to'] == 'to Hint' else c['contact'])} → "
        f"{shown(c['after'])} ({c['to']})"
        for c in changes or []
    )


def plan_expires_at(batch: Batch) -> datetime | None:
    if batch.planned_at is None:
        return None
    return batch.planned_at + timedelta(hours=int(settings.SYNC_PLAN_TTL_HOURS))


def plan_is_expired(batch: Batch, *, now: datetime | None = None) -> bool:
    expires = plan_expires_at(batch)
    return expires is not None and (now or timezone.now()) >= expires


def redecided_note(planned: str, outcome: str) -> str:
    """The flag on a row decided again at apply time."""
    before = PLANNED_LABELS.get(Outcome(planned), planned) if planned else "not decided"
    if planned == outcome:
        return f"Changed since the plan; decided again (same outcome: {before})."
    return f"Changed since the plan; decided again (planned: {before})."
