"""Contacts and their link to Hint patients: every write that touches Hint or several rows.

Order of work for a link: read the patient, merge (sync.merge), write to Hint, then save here in
one transaction. If Hint refuses, nothing changed here; the message says what to do next.
Webhooks and backfill call `patient_changed` after the mirror changes.
"""

import functools
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from hintpartner.hint import api, errors
from hintpartner.hint.paths import INTEGRATION_RECORD_ID, INTEGRATION_WEB_LINK, PATIENT_ID
from sync import fieldmap
from sync.matching import contact_matches, patient_key
from sync.merge import MergeResult, Situation, merge
from sync.models import Contact, SyncLog, SyncOptions

logger = logging.getLogger(__name__)

# A mirror row first seen this recently (relative to its own update) counts as a new patient.
NEW_PATIENT_WINDOW_SECONDS = 5
# ...and only when Hint created it this recently (see _is_new).
NEW_PATIENT_MAX_AGE = timedelta(days=2)


class SyncError(Exception):
    """A sync step could not be done; the message is plain words for the page."""


# --- options and log -------------------------------------------------------------------------


def options_for(practice: Any) -> SyncOptions:
    """The practice's sync options (created with defaults on first use)."""
    options, _ = SyncOptions.objects.get_or_create(practice=practice)
    return options


def sync_log_write(
    *,
    practice: Any,
    level: str,
    message: str,
    detail: str = "",
    contact: Contact | None = None,
    patient_id: str = "",
    batch_sync_id: str = "",
    options: SyncOptions | None = None,
) -> None:
    """Add a sync log entry; debug entries only when the practice's log level is debug."""
    if level == SyncLog.Level.DEBUG:
        options = options or options_for(practice)
        if options.log_level != SyncOptions.LogLevel.DEBUG:
            return
    SyncLog.objects.create(
        practice_id=getattr(practice, "pk", practice),
        level=level,
        message=message[:500],
        detail=detail,
        contact_id_ref=str(contact.pk) if contact is not None else "",
        patient_id=patient_id,
        batch_sync_id=batch_sync_id,
    )


def sync_log_purge(*, now: Any = None) -> int:
    """Delete log entries older than each practice's retention; returns how many."""
    now = now or timezone.now()
    deleted = 0
    for options in SyncOptions.objects.all():
        cutoff = now - timedelta(days=options.log_retention_days)
        count, _ = (
            SyncLog.objects.for_practice(options.practice_id).filter(created_at__lt=cutoff).delete()
        )
        deleted += count
    # Practices that never saved options keep the default retention.
    default_days = SyncOptions._meta.get_field("log_retention_days").default
    cutoff = now - timedelta(days=default_days)
    with_options = SyncOptions.objects.values("practice_id")
    count, _ = (
        SyncLog.objects.exclude(practice_id__in=with_options).filter(created_at__lt=cutoff).delete()
    )
    return deleted + count


# --- helpers ---------------------------------------------------------------------------------


_PK_MARK = 987654321


@functools.cache
def _contact_link_template() -> str:
    # reverse() once: batches build thousands of these links.
    return settings.APP_URL + reverse("sync:contact-detail", args=[_PK_MARK])


def contact_web_link(contact: Contact) -> str:
    """The deep link written into Hint (`integration_web_link`) to this contact's page."""
    return _contact_link_template().replace(str(_PK_MARK), str(contact.pk))


def integration_fields(contact: Contact) -> dict[str, str]:
    return {INTEGRATION_RECORD_ID: str(contact.pk), INTEGRATION_WEB_LINK: contact_web_link(contact)}


def _mirror(practice: Any, data: dict[str, Any]) -> None:
    """Record Hint's answer in the mirror so a late webhook of an older state is ignored."""
    if not data.get(PATIENT_ID):
        return
    from sync.mirror import MirrorError, patient_apply

    try:
        patient_apply(practice=practice, data=data)
    except MirrorError:  # pragma: no cover - Hint answered without an id
        logger.info("Hint's answer carried no patient id; mirror not updated")


def _apply_to_contact(contact: Contact, values: fieldmap.Values) -> list[str]:
    changed = fieldmap.contact_assign(contact, values)
    return changed


def _hint_error_text(exc: errors.HintError) -> str:
    if isinstance(exc, errors.HintUnauthorized):
        return "Hint refused our access. Reopen the app from Hint and try again."
    if isinstance(exc, errors.HintNotFound):
        return "Hint has no such patient (it may have been deleted)."
    if isinstance(exc, errors.HintBadRequest):
        reason = f": {exc.hint_message}" if exc.hint_message else "."
        return f"Hint refused the change{reason}"
    if isinstance(exc, errors.HintRateLimited):
        return "Hint is busy (too many requests). Try again in a minute."
    return "Hint did not answer. Nothing was changed; try again in a few minutes."


def patient_push(
    *,
    practice: Any,
    token: str,
    patient_id: str,
    values: fieldmap.Values,
    patient_data: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """PATCH the two-way `values` (and `extra` fields) to a Hint patient; mirror the answer."""
    body = fieldmap.patient_payload(values, patient=patient_data)
    body.update(extra or {})
    if not body:
        return patient_data or {}
    answer = api.patient_update(token=token, patient_id=patient_id, fields=body)
    if isinstance(answer, dict):
        _mirror(practice, answer)
    return answer if isinstance(answer, dict) else {}


# --- contacts --------------------------------------------------------------------------------


def contact_create(*, practice: Any, values: dict[str, Any], actor: str) -> Contact:
    """Create an unlinked contact from form values (two-way fields only)."""
    contact = Contact(practice=practice)
    for name in fieldmap.TWO_WAY_FIELDS:
        if name in values:
            setattr(contact, name, values[name])
    with transaction.atomic():
        contact.save()
        sync_log_write(
            practice=practice,
            level=SyncLog.Level.DEBUG,
            message=f"Contact created by {actor}.",
            contact=contact,
        )
    return contact


def contact_update(*, contact: Contact, values: dict[str, Any], token: str, actor: str) -> str:
    """Save an edit; when linked, push the two-way fields to Hint (contact wins).

    Returns "" or a warning: the edit is always kept here, a refused push is logged and shown.
    """
    before = fieldmap.contact_values(contact)
    with transaction.atomic():
        for name in fieldmap.TWO_WAY_FIELDS:
            if name in values:
                setattr(contact, name, values[name])
        contact.save()
    after = fieldmap.contact_values(contact)
    changed = {n: after[n] for n in fieldmap.TWO_WAY_FIELDS if after[n] != before[n]}
    if not contact.hint_patient_id or not changed:
        return ""
    return contact_push(contact=contact, token=token, fields=changed.keys())


def contact_push(*, contact: Contact, token: str, fields: Iterable[str] | None = None) -> str:
    """Push a linked contact's two-way fields to its patient (contact wins); "" or a warning."""
    from sync.models import Patient

    names = list(fields) if fields is not None else list(fieldmap.TWO_WAY_FIELDS)
    mirror = (
        Patient.objects.for_practice(contact.practice_id)
        .filter(hint_id=contact.hint_patient_id)
        .first()
    )
    ours = fieldmap.contact_values(contact)
    known = fieldmap.patient_values(mirror.data) if mirror is not None else None
    result = merge(
        situation=Situation.CONTACT_EDITED,
        contact={n: ours[n] for n in names},
        patient={n: known[n] for n in names} if known else {},
    )
    if not result.patient_updates:
        return ""
    try:
        patient_push(
            practice=contact.practice,
            token=token,
            patient_id=contact.hint_patient_id,
            values=result.patient_updates,
            patient_data=mirror.data if mirror is not None else None,
        )
    except errors.HintError as exc:
        text = _hint_error_text(exc)
        sync_log_write(
            practice=contact.practice,
            level=SyncLog.Level.ERROR,
            message="Saved here, but the change could not be sent to Hint.",
            detail=text,
            contact=contact,
            patient_id=contact.hint_patient_id,
        )
        return f"Saved here, but not in Hint. {text}"
    Contact.objects.filter(pk=contact.pk).update(last_synced_at=timezone.now())
    return ""


def contact_link(
    *, contact: Contact, patient_id: str, actor: str, token: str, patient: dict | None = None
) -> Contact:
    """Link a contact to a Hint patient and merge (contact wins); replaces any earlier link.

    Reads the patient (unless given), writes the merged fields and our integration fields to
    Hint, then saves the link here. Raises SyncError (nothing changed here) when Hint refuses.
    """
    practice = contact.practice
    try:
        data = (
            patient if patient is not None else api.patient_get(token=token, patient_id=patient_id)
        )
        result = merge(
            situation=Situation.MANUAL_LINK,
            contact=fieldmap.contact_values(contact),
            patient=fieldmap.patient_values(data),
        )
        patient_push(
            practice=practice,
            token=token,
            patient_id=patient_id,
            values=result.patient_updates,
            patient_data=data,
            extra=integration_fields(contact),
        )
    except errors.HintError as exc:
        text = _hint_error_text(exc)
        sync_log_write(
            practice=practice,
            level=SyncLog.Level.ERROR,
            message="Linking to a Hint patient failed.",
            detail=text,
            contact=contact,
            patient_id=patient_id,
        )
        raise SyncError(text) from exc
    previous = _link_save(contact=contact, patient_id=patient_id, result=result, actor=actor)
    for old_patient_id in previous:
        _clear_integration(practice=practice, token=token, patient_id=old_patient_id)
    return contact


def _contact_save_linked(
    contact: Contact,
    *,
    practice: Any,
    updates: dict[str, Any],
    patient_id: str,
    batch_sync_id: str,
    message: str,
    options: SyncOptions | None = None,
) -> None:
    """Write merged values and the link onto `contact` and log it (inside the caller's atomic)."""
    _apply_to_contact(contact, updates)
    contact.hint_patient_id = patient_id
    contact.last_synced_at = timezone.now()
    if batch_sync_id:
        contact.last_batch_sync_id = batch_sync_id
    contact.save()
    sync_log_write(
        practice=practice,
        level=SyncLog.Level.DEBUG,
        message=message,
        contact=contact,
        patient_id=patient_id,
        batch_sync_id=batch_sync_id,
        options=options,
    )


def _link_save(
    *,
    contact: Contact,
    patient_id: str,
    result: MergeResult,
    actor: str,
    batch_sync_id: str = "",
    options: SyncOptions | None = None,
    refresh: bool = True,
) -> list[str]:
    """Save a link and the contact's merged values; returns patient ids that lost their link.

    Batches pass their `options` and `refresh=False` to save queries on every row.
    """
    practice = contact.practice
    released: list[str] = []
    with transaction.atomic():
        fresh = Contact.objects.for_practice(practice).select_for_update().get(pk=contact.pk)
        if fresh.hint_patient_id and fresh.hint_patient_id != patient_id:
            released.append(fresh.hint_patient_id)
        # The patient's earlier contact (if another) loses the link: one contact per patient.
        others = (
            Contact.objects.for_practice(practice)
            .filter(hint_patient_id=patient_id)
            .exclude(pk=contact.pk)
        )
        for other in others.select_for_update():
            other.hint_patient_id = ""
            other.save(update_fields=["hint_patient_id"])
            sync_log_write(
                practice=practice,
                level=SyncLog.Level.DEBUG,
                message=f"Contact unlinked: its patient was linked to contact {contact.pk}.",
                contact=other,
                patient_id=patient_id,
                options=options,
            )
        _contact_save_linked(
            fresh,
            practice=practice,
            updates=result.contact_updates,
            patient_id=patient_id,
            batch_sync_id=batch_sync_id,
            message=f"Contact linked to a Hint patient by {actor}.",
            options=options,
        )
    if refresh:
        contact.refresh_from_db()
    return released


def _clear_integration(*, practice: Any, token: str, patient_id: str) -> None:
    """Remove our integration fields from a patient we no longer link (best effort, logged)."""
    try:
        answer = api.patient_update(
            token=token,
            patient_id=patient_id,
            fields={INTEGRATION_RECORD_ID: "", INTEGRATION_WEB_LINK: ""},
        )
        if isinstance(answer, dict):
            _mirror(practice, answer)
    except errors.HintError as exc:
        sync_log_write(
            practice=practice,
            level=SyncLog.Level.ERROR,
            message="The link was removed here, but Hint still shows it.",
            detail=_hint_error_text(exc),
            patient_id=patient_id,
        )


def contact_unlink(*, contact: Contact, actor: str, token: str) -> Contact:
    """Remove the link on both sides; both records stay."""
    practice = contact.practice
    with transaction.atomic():
        fresh = Contact.objects.for_practice(practice).select_for_update().get(pk=contact.pk)
        old = fresh.hint_patient_id
        if not old:
            return fresh
        fresh.hint_patient_id = ""
        fresh.save(update_fields=["hint_patient_id"])
        sync_log_write(
            practice=practice,
            level=SyncLog.Level.DEBUG,
            message=f"Contact unlinked by {actor}.",
            contact=fresh,
            patient_id=old,
        )
    _clear_integration(practice=practice, token=token, patient_id=old)
    contact.refresh_from_db()
    return contact


def patient_create_from_contact(*, contact: Contact, actor: str, token: str) -> Contact:
    """Create the contact's patient in Hint (with our integration fields) and link it."""
    if not contact.first_name.strip() or not contact.last_name.strip():
        raise SyncError("Hint needs a first and a last name. Add them to the contact first.")
    values = {
        n: v for n, v in fieldmap.contact_values(contact).items() if n in fieldmap.TWO_WAY_FIELDS
    }
    body = fieldmap.patient_payload({n: v for n, v in values.items() if not fieldmap.is_blank(v)})
    body.update(integration_fields(contact))
    try:
        data = api.patient_create(token=token, fields=body)
    except errors.HintError as exc:
        text = _hint_error_text(exc)
        sync_log_write(
            practice=contact.practice,
            level=SyncLog.Level.ERROR,
            message="Creating the patient in Hint failed.",
            detail=text,
            contact=contact,
        )
        raise SyncError(text) from exc
    patient_id = str(data.get(PATIENT_ID) or "")
    if not patient_id:
        raise SyncError("Hint did not say which patient it created. Search for it and link it.")
    _mirror(contact.practice, data)
    result = merge(
        situation=Situation.MANUAL_LINK,
        contact=fieldmap.contact_values(contact),
        patient=fieldmap.patient_values(data),
    )
    result.patient_updates.clear()  # the patient was just created from this contact
    previous = _link_save(contact=contact, patient_id=patient_id, result=result, actor=actor)
    for old_patient_id in previous:
        _clear_integration(practice=contact.practice, token=token, patient_id=old_patient_id)
    return contact


# --- Hint -> contacts ------------------------------------------------------------------------


def _is_new(patient: Any, created: bool | None) -> bool:
    """A patient new in Hint, not merely new to our mirror.

    `created` says the mirror had no row before; a first backfill says that of every patient,
    so Hint's own `created_at` must also be recent, or the option would turn the whole backlog
    into contacts (that is the batch's job).
    """
    if created is None:  # older callers: the mirror row was made by this change
        first_seen, changed = (
            getattr(patient, "created_at", None),
            getattr(patient, "updated_at", None),
        )
        created = (
            bool(first_seen and changed)
            and abs((changed - first_seen).total_seconds()) <= NEW_PATIENT_WINDOW_SECONDS
        )
    if not created:
        return False
    hint_created = parse_datetime(str((patient.data or {}).get("created_at") or ""))
    if hint_created is None:
        return True
    if timezone.is_naive(hint_created):
        hint_created = timezone.make_aware(hint_created, timezone.UTC)
    return timezone.now() - hint_created <= NEW_PATIENT_MAX_AGE


def patient_changed(*, patient: Any, created: bool | None = None) -> None:
    """React to a change of this practice's `Patient` mirror (created, updated, inactive,
    or destroyed: check `patient.is_destroyed`).

    Called by webhook processing and by backfill, inside the transaction that applied the
    change, only when the mirror really changed. A linked contact takes the patient's values
    (patient wins); an echo of our own change differs in nothing and so changes nothing and
    sends nothing. With the option on, a new patient is linked to its single unlinked
    demographic match or gets a new contact. Calls to Hint are queued with `on_commit`.
    """
    if patient.is_destroyed:
        return
    practice = patient.practice
    data = patient.data or {}
    linked = Contact.objects.for_practice(practice).filter(hint_patient_id=patient.hint_id).first()
    if linked is not None:
        result = merge(
            situation=Situation.PATIENT_UPDATED,
            contact=fieldmap.contact_values(linked),
            patient=fieldmap.patient_values(data),
        )
        changed = _apply_to_contact(linked, result.contact_updates)
        if changed:
            linked.last_synced_at = timezone.now()
            linked.save()
            sync_log_write(
                practice=practice,
                level=SyncLog.Level.DEBUG,
                message="Contact updated from Hint: " + ", ".join(changed) + ".",
                contact=linked,
                patient_id=patient.hint_id,
            )
        return
    is_new = _is_new(patient, created)
    options = options_for(practice)
    if not is_new or not options.create_contacts_for_new_patients:
        return
    outcome, _contact = patient_adopt(
        practice=practice, data=data, situation=Situation.NEW_PATIENT, create=True
    )
    if outcome == "multiple":
        sync_log_write(
            practice=practice,
            level=SyncLog.Level.ERROR,
            message="A new Hint patient matches several contacts; none was linked.",
            patient_id=patient.hint_id,
            options=options,
        )


def patient_adopt(
    *,
    practice: Any,
    data: dict[str, Any],
    situation: Situation,
    create: bool,
    batch_sync_id: str = "",
    queue_push: bool = True,
) -> tuple[str, Contact | None]:
    """Link an unlinked Hint patient to its single unlinked demographic match, or create a
    contact (when `create`). Patient wins; blanks are filled both ways.

    Returns (outcome, contact): outcome is "linked", "created", "multiple" or "no_match".
    The push of filled-in fields and our integration fields to Hint is queued after commit
    (or returned to the caller through `contact._pending_push` when `queue_push` is False).
    """
    patient_id = str(data.get(PATIENT_ID) or "")
    theirs = fieldmap.patient_values(data)
    matches = contact_matches(practice=practice, key=patient_key(data), unlinked_only=True)
    if len(matches) > 1:
        return "multiple", None
    if matches:
        contact = matches[0]
        result = merge(
            situation=situation, contact=fieldmap.contact_values(contact), patient=theirs
        )
        outcome = "linked"
    elif create:
        contact = Contact(practice=practice)
        result = MergeResult(contact_updates=dict(theirs))
        outcome = "created"
    else:
        return "no_match", None
    with transaction.atomic():
        _contact_save_linked(
            contact,
            practice=practice,
            updates=result.contact_updates,
            patient_id=patient_id,
            batch_sync_id=batch_sync_id,
            message=f"Contact {outcome} for a Hint patient.",
        )
    contact._pending_push = result.patient_updates  # type: ignore[attr-defined]
    if queue_push:
        from hintpartner.tasks import enqueue_on_commit
        from sync.tasks import patient_link_push_task

        enqueue_on_commit(patient_link_push_task, contact.pk, sorted(result.patient_updates.keys()))
    return outcome, contact


def patient_link_push(*, contact: Contact, fields: Iterable[str], token: str) -> None:
    """After a Hint-side link: write filled-in fields and our integration fields to the patient."""
    ours = fieldmap.contact_values(contact)
    values = {n: ours[n] for n in fields if n in fieldmap.TWO_WAY_FIELDS}
    from sync.models import Patient

    mirror = (
        Patient.objects.for_practice(contact.practice_id)
        .filter(hint_id=contact.hint_patient_id)
        .first()
    )
    patient_push(
        practice=contact.practice,
        token=token,
        patient_id=contact.hint_patient_id,
        values=values,
        patient_data=mirror.data if mirror is not None else None,
        extra=integration_fields(contact),
    )
