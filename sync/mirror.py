"""Apply Hint's patients to the practice's `Patient` mirror (webhooks and backfill alike).

Hint may repeat events and deliver them out of order, so every write is ordered by Hint's own
`updated_at`: a state older than (or as old as) the one applied changes nothing. A destroyed
patient becomes a tombstone that no later delivery brings back: Hint never updates a destroyed
patient, so anything arriving after the destroy is a late copy of an older state.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from handshake.address_shape import practice_address_shape_learn
from hintpartner.hint import decode, paths
from sync.matching import normalize_name
from sync.models import Patient

logger = logging.getLogger(__name__)

UPSERT = "upsert"
DESTROYED = "destroyed"
INACTIVE = "inactive"
KINDS = (UPSERT, DESTROYED, INACTIVE)

# membership_status values that mean the patient is no longer an active member.
INACTIVE_STATUSES = frozenset({"inactive", "cancelled", "canceled", "ended", "expired"})

_F = paths.PATIENT_FIELDS


class MirrorError(ValueError):
    """Hint sent a patient we cannot apply (no id)."""


@dataclass(frozen=True)
class ApplyResult:
    patient: Patient
    changed: bool
    created: bool = False  # the mirror had no row for this patient before


def _parse_dob(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _text(data: dict[str, Any], field: str, limit: int) -> str:
    value = data.get(field)
    return str(value).strip()[:limit] if value not in (None, "") else ""


def _phone(data: dict[str, Any]) -> str:
    phones = data.get(_F["phones"])
    if not isinstance(phones, list):
        return ""
    numbers = [p for p in phones if isinstance(p, dict) and p.get("number")]
    numbers.sort(key=lambda p: 0 if p.get("type") == "mobile" else 1)
    return str(numbers[0]["number"])[:50] if numbers else ""


def _web_link(data: dict[str, Any]) -> str:
    link = _text(data, _F["provider_web_link"], 500)
    # Shown as a link that opens in Hint's top window: only plain web addresses.
    return link if link.startswith(("https://", "http://")) else ""


def _fill(patient: Patient, data: dict[str, Any]) -> None:
    """Copy Hint's object onto the mirror's columns and keep the whole object."""
    patient.first_name = _text(data, _F["first_name"], 200)
    patient.middle_name = _text(data, _F["middle_name"], 200)
    patient.last_name = _text(data, _F["last_name"], 200)
    patient.dob = _parse_dob(data.get(_F["dob"]))
    patient.email = _text(data, _F["email"], 320)
    patient.phone = _phone(data)
    patient.membership_status = _text(data, _F["membership_status"], 50)
    practitioner = data.get(_F["practitioner"])
    patient.practitioner_name = (
        str(practitioner.get("name") or "")[:200] if isinstance(practitioner, dict) else ""
    )
    patient.provider_web_link = _web_link(data)
    patient.first_name_key = normalize_name(patient.first_name)[:200]
    patient.last_name_key = normalize_name(patient.last_name)[:200]
    patient.email_key = patient.email.lower()
    patient.data = data
    if patient.membership_status:
        patient.inactive = patient.membership_status.lower() in INACTIVE_STATUSES


def _locked_or_new(*, practice: Any, hint_id: str) -> tuple[Patient, bool]:
    """The practice's row for `hint_id`, locked; created (empty) if missing. Call in atomic()."""
    rows = Patient.objects.for_practice(practice).select_for_update()
    patient = rows.filter(hint_id=hint_id).first()
    if patient is not None:
        return patient, False
    try:
        with transaction.atomic():  # a concurrent worker may insert the same patient
            return Patient.objects.create(practice=practice, hint_id=hint_id), True
    except IntegrityError:
        return rows.get(hint_id=hint_id), False


def patient_apply(
    *, practice: Any, data: dict[str, Any], kind: str = UPSERT, occurred_at: datetime | None = None
) -> ApplyResult:
    """Apply one Hint patient object (`kind`: upsert, destroyed or inactive) if it is newer."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if not isinstance(data, dict) or not str(data.get(paths.PATIENT_ID) or "").strip():
        raise MirrorError("The event carries no patient id.")
    hint_id = str(data[paths.PATIENT_ID]).strip()[:100]
    version = decode.parse_time(data.get(_F["updated_at"])) or occurred_at
    # Every patient read passes here (webhooks, pulls, Hint's answers to our writes): a compare
    # in memory, and an UPDATE only on the rare patient whose shape differs from the last one.
    practice_address_shape_learn(practice=practice, patient=data)
    with transaction.atomic():
        patient, is_new = _locked_or_new(practice=practice, hint_id=hint_id)
        if patient.is_destroyed:
            return ApplyResult(patient, False)
        applied = patient.hint_updated_at
        newer = is_new or applied is None or version is None or version > applied
        if kind == DESTROYED:
            if newer and len(data) > 1:  # keep the last known state for the audit trail
                _fill(patient, data)
            patient.destroyed_at = timezone.now()
        elif kind == INACTIVE:
            if not newer and version < applied:  # an older state: changes nothing
                return ApplyResult(patient, False)
            if newer:
                _fill(patient, data)
            elif patient.inactive:  # a repeat of what is applied
                return ApplyResult(patient, False)
            patient.inactive = True
        else:
            if not newer:
                return ApplyResult(patient, False)
            _fill(patient, data)
        if version is not None and (applied is None or version > applied):
            patient.hint_updated_at = version
        patient.save()
    return ApplyResult(patient, True, is_new)
