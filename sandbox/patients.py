"""Patient lists, filters and writes with Hint's rules (validation messages included)."""

import json
import re
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sandbox import contract, limits
from sandbox.models import Patient, Practice, Practitioner, new_id
from sandbox.services import SandboxError, patient_changed

STRING_FILTERS = ("first_name", "last_name", "email", "middle_name", "integration_record_id")
SORTABLE = ("created_at", "updated_at", "last_name", "first_name", "dob", "id")
TEXT_FIELDS = (
    "title",
    "first_name",
    "middle_name",
    "last_name",
    "suffix",
    "chosen_first_name",
    "email",
    "address_line1",
    "address_line2",
    "address_city",
    "address_state",
    "address_zip",
    "address_country",
    "health_insurance_payer_name",
    "health_insurance_payer_id",
    "health_insurance_group_id",
    "health_insurance_member_id",
    "membership_status",
    "integration_record_id",
    "integration_web_link",
    "integration_error_message",
)
SEXES = contract.SEXES
PHONE_TYPES = contract.PHONE_TYPES
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# What a new patient shows, and what clearing the integration fields brings back.
SYNC_STATUS_INITIAL = Patient._meta.get_field("integration_sync_status").default
_TIME_OPS = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte"}


def _int(value: str | None, default: int, *, name: str) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise SandboxError(422, f"Validation failed: {name} must be an integer") from exc


def _when(value: str, *, name: str) -> datetime | date:
    parsed = parse_datetime(value.replace(" ", "+"))
    if parsed is None:
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise SandboxError(422, f"Validation failed: {name} is not a valid time") from exc
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
    return parsed


def _time_filters(params: Any, field: str) -> Q:
    """`updated_at[gt]=…` (the guide) and `updated_at={"gt": …}` (the reference) alike.
    Checked either way; with `Config.ignore_time_filters` not applied (as Hint may not)."""
    q = Q()
    for op in _TIME_OPS:
        raw = params.get(f"{field}[{op}]")
        if raw:
            q &= Q(**{f"{field}__{op}": _when(raw, name=field)})
    raw = params.get(field)
    if raw:
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            for op, value in obj.items():
                if op not in _TIME_OPS or not isinstance(value, str):
                    raise SandboxError(422, f"Validation failed: unknown {field} operator {op}")
                q &= Q(**{f"{field}__{op}": _when(value, name=field)})
        else:
            q &= Q(**{f"{field}__date": _when(raw, name=field)})
    return Q() if limits.config_cached().ignore_time_filters else q


def page(params: Any, qs: QuerySet, *, default_sort: str = "created_at") -> tuple[list, int]:
    """One page of `qs` and the total: `limit` 1-100 (default 10) but at most the configured
    page cap (Hint's own), `offset`, one `sort`."""
    cap = min(limits.config_cached().page_cap or 100, 100)
    limit = min(max(_int(params.get("limit"), 10, name="limit"), 1), cap)
    offset = max(_int(params.get("offset"), 0, name="offset"), 0)
    sort = params.get("sort") or default_sort
    field = sort.lstrip("-")
    if field not in SORTABLE:
        raise SandboxError(422, f"Validation failed: cannot sort by {field}")
    column = "hint_id" if field == "id" else field
    prefix = "-" if sort.startswith("-") else ""
    qs = qs.order_by(prefix + column, prefix + "id")
    total = qs.count()
    # Ids first (an index-only walk even at a deep offset), then only those rows.
    ids = list(qs.values_list("id", flat=True)[offset : offset + limit])
    rows = {row.pk: row for row in qs.filter(pk__in=ids)}
    return [rows[pk] for pk in ids if pk in rows], total


def patients_filter(practice: Practice, params: Any) -> QuerySet:
    qs = Patient.objects.filter(practice=practice).select_related("practitioner")
    archived = params.get("filter", "")
    if archived == "archived":
        qs = qs.filter(archived=True)
    elif archived != "all":
        qs = qs.filter(archived=False)
    for name in STRING_FILTERS:
        value = params.get(name)
        if value:
            qs = qs.filter(Exact(Lower(name), str(value).lower()))
    if params.get("dob"):
        qs = qs.filter(dob=_date(params["dob"], name="dob"))
    qs = qs.filter(_time_filters(params, "updated_at")).filter(_time_filters(params, "created_at"))
    return qs


def patient_lookup(practice: Practice, patient_id: str) -> Patient:
    """By Hint id, or by the partner's `integration_record_id`; 404 otherwise."""
    qs = Patient.objects.filter(practice=practice).select_related("practitioner", "practice")
    patient = qs.filter(hint_id=patient_id).first()
    if patient is None and patient_id:
        patient = qs.filter(integration_record_id=patient_id).first()
    if patient is None:
        raise SandboxError(404, "Patient not found")
    return patient


def _date(value: Any, *, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise SandboxError(422, f"Validation failed: {name} is not a valid date") from exc


def _strict_date(value: Any, *, name: str) -> date | None:
    """Hint's `YYYY-MM-DD` and nothing else (no time, no other layout)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise SandboxError(422, f"Validation failed: {name} must be a date as YYYY-MM-DD")
    return _date(value, name=name)


def _phones(value: Any) -> list[dict[str, Any]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise SandboxError(422, "Validation failed: Phones must be an array")
    return [contract.phone_check(item) for item in value]


def _gender(patient: Patient, data: dict[str, Any]) -> None:
    """`gender_identity` from Hint's list; `not listed` needs a description in `gender_other`."""
    if "gender_identity" in data:
        value = data["gender_identity"]
        value = "" if value is None else str(value).strip()
        if value and value not in contract.GENDER_IDENTITIES:
            raise SandboxError(
                422, "Validation failed: Gender identity is not included in the list"
            )
        patient.gender_identity = value
    if "gender_other" in data:
        patient.gender_other = str(data["gender_other"] or "").strip()[:200]
    if patient.gender_identity != contract.GENDER_NOT_LISTED:
        patient.gender_other = ""
    elif not patient.gender_other:
        raise SandboxError(
            422, "Validation failed: Gender other can't be blank when gender identity is not listed"
        )


def _apply(patient: Patient, data: dict[str, Any]) -> None:
    for name in TEXT_FIELDS:
        if name in data:
            value = data[name]
            if value is not None and not isinstance(value, str | int | float):
                raise SandboxError(422, f"Validation failed: {name} must be a string")
            setattr(patient, name, "" if value is None else str(value).strip())
    if "dob" in data:
        patient.dob = _strict_date(data["dob"], name="Dob")
        if patient.dob and patient.dob > timezone.now().date():
            raise SandboxError(422, "Validation failed: Dob can't be in the future")
    if "sex" in data:
        sex = str(data["sex"] or "").strip()
        if sex and sex not in SEXES:
            raise SandboxError(422, "Validation failed: Sex is not included in the list")
        patient.sex = sex
    if "phones" in data:
        patient.phones = _phones(data["phones"])
    _gender(patient, data)
    if "preferred_language" in data:
        language = str(data["preferred_language"] or "").strip()
        if language and language not in contract.LANGUAGES:
            raise SandboxError(
                422, "Validation failed: Preferred language is not included in the list"
            )
        patient.preferred_language = language
    if "pronouns" in data:
        patient.pronouns = str(data["pronouns"] or "").strip()[:60]
    if "practitioner" in data:
        ref = data["practitioner"]
        ref_id = ref.get("id") if isinstance(ref, dict) else ref
        if ref_id:
            practitioner = Practitioner.objects.filter(
                practice=patient.practice, hint_id=str(ref_id)
            ).first()
            if practitioner is None:
                raise SandboxError(422, "Validation failed: Practitioner must exist")
            patient.practitioner = practitioner
        else:
            patient.practitioner = None
    if "integration_record_id" in data or "integration_web_link" in data:
        if patient.integration_record_id:
            patient.integration_sync_status = "synced"
            patient.integration_last_synced_at = timezone.now()
        else:
            # The partner cleared its record id (an unlink): Hint shows the patient as unsynced.
            patient.integration_sync_status = SYNC_STATUS_INITIAL
    if data.get("integration_error_message"):
        patient.integration_sync_status = "errored"
    if not patient.first_name:
        raise SandboxError(422, "Validation failed: First name can't be blank")
    if not patient.last_name:
        raise SandboxError(422, "Validation failed: Last name can't be blank")
    if patient.email and not _EMAIL.match(patient.email):
        raise SandboxError(422, "Validation failed: Email is invalid")


def body_check(data: Any, known: frozenset[str], *, strict: bool) -> dict[str, Any]:
    """A JSON object whose every field Hint's description names (strict mode)."""
    if not isinstance(data, dict):
        raise SandboxError(400, "The body must be a JSON object")
    contract.unknown_names(data, known, strict=strict, what="field")
    for phone in data.get("phones") or [] if isinstance(data.get("phones"), list) else []:
        if isinstance(phone, dict):
            contract.unknown_names(phone, contract.PHONE_FIELDS, strict=strict, what="phone field")
    return data


def patient_create(*, practice: Practice, data: dict[str, Any], from_api: bool) -> Patient:
    """Create a patient (API or host page) and emit `patient.created`."""
    if not isinstance(data, dict):
        raise SandboxError(400, "The body must be a JSON object")
    with transaction.atomic():
        patient = Patient(practice=practice, hint_id=new_id("pat"))
        _apply(patient, data)
        patient.save()
        patient_changed(patient=patient, kind="create", from_api=from_api)
    return patient


def patient_update(*, patient: Patient, data: dict[str, Any], from_api: bool) -> Patient:
    """PATCH and PUT alike: only the fields sent change; emit `patient.updated`."""
    if not isinstance(data, dict):
        raise SandboxError(400, "The body must be a JSON object")
    with transaction.atomic():
        _apply(patient, data)
        patient.updated_at = timezone.now()
        patient.save()
        patient_changed(patient=patient, kind="update", from_api=from_api)
    return patient


def patients_matching(*, practice: Practice, data: dict[str, Any]) -> list[Patient]:
    """Hint's demographic match: exact first + last name + dob, or the same email."""
    if not isinstance(data, dict):
        raise SandboxError(400, "The body must be a JSON object")
    qs = Patient.objects.filter(practice=practice, archived=False).select_related("practitioner")
    first = str(data.get("first_name") or "").strip()
    last = str(data.get("last_name") or "").strip()
    dob = _date(data.get("dob"), name="dob")
    email = str(data.get("email") or "").strip()
    q = Q(pk__in=[])
    if first and last and dob:
        q |= Q(first_name__iexact=first, last_name__iexact=last, dob=dob)
    if email:
        q |= Q(email__iexact=email)
    if not (first and last and dob) and not email:
        raise SandboxError(422, "Validation failed: send first_name, last_name and dob, or email")
    return list(qs.filter(q).order_by("id")[:20])
