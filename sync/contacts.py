"""Contacts and their link to Hint patients, as staff change them here.

Order of work for a link: read the patient, merge (sync.merge), write to Hint, then save here in
one transaction. If Hint refuses, nothing changed here; the message says what to do next. If Hint
does not answer the write, the link is saved here and its write is owed (`sync.contact_writes`).
An edit is saved here first and owed to Hint: the worker sends it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from handshake.address_shape import practice_address_shape
from handshake.audit import Actor, audit_record
from hintpartner.hint import api, errors
from hintpartner.hint.paths import PATIENT_ID
from hintpartner.hint.policy import error_sentence
from sync import fieldmap
from sync.contact_writes import contact_write_clear, contact_write_owe
from sync.merge import MergeResult, Situation, merge
from sync.models import Contact, SyncLog, SyncOptions
from sync.options import sync_log_write
from sync.outbound import (
    UNLINK_CLEARED,
    integration_fields,
    mirror_answer,
    patient_push,
)


class SyncError(Exception):
    """A sync step could not be done; the message is plain words for the page."""


NAMES_NEEDED = "Hint needs a first and a last name. Add them to the contact first."
# What a patient that loses its link to us loses in Hint: our id, our deep link, our error.


@dataclass(frozen=True)
class Unlinked:
    """An unlink done here; `cleared_in_hint` says whether Hint confirmed our fields are gone."""

    contact: Contact
    patient_id: str
    cleared_in_hint: bool


def _audit(
    contact: Contact, actor: Actor, action: str, detail: str = "", *, patient: str | None = None
) -> None:
    audit_record(
        practice=contact.practice_id,
        actor=actor,
        action=action,
        target_type="contact",
        target_id=contact.pk,
        patient=contact.hint_patient_id if patient is None else patient,
        detail=detail,
    )


def contact_create(*, practice: Any, values: dict[str, Any], actor: Actor) -> Contact:
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
        _audit(contact, actor, "contact.created")
    return contact


def contact_update(*, contact: Contact, values: dict[str, Any], actor: Actor) -> Contact:
    """Save an edit here; a linked contact then owes Hint the changed two-way fields.

    No call to Hint here: the change is committed with what it owes, and the worker sends it
    (`sync.contact_writes`), so the page answers at once whatever Hint does.
    """
    with transaction.atomic():
        fresh = (
            Contact.objects.for_practice(contact.practice_id).select_for_update().get(pk=contact.pk)
        )
        before = fieldmap.contact_values(fresh)
        for name in fieldmap.TWO_WAY_FIELDS:
            if name in values:
                setattr(fresh, name, values[name])
        after = fieldmap.contact_values(fresh)
        changed = [n for n in fieldmap.TWO_WAY_FIELDS if after[n] != before[n]]
        if fresh.hint_patient_id and changed:
            contact_write_owe(fresh, fields=changed)
        fresh.save()
        _audit(fresh, actor, "contact.edited", ", ".join(changed))
    contact.refresh_from_db()
    return contact


def contact_link(
    *, contact: Contact, patient_id: str, actor: Actor, token: str, patient: dict | None = None
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
    except errors.HintError as exc:
        raise _link_failed(contact, patient_id, exc) from exc
    result = merge(
        situation=Situation.MANUAL_LINK,
        contact=fieldmap.contact_values(contact),
        patient=fieldmap.patient_values(data),
    )
    owed: list[str] | None = None
    try:
        patient_push(
            practice=practice,
            token=token,
            patient_id=patient_id,
            values=result.patient_updates,
            patient_data=data,
            extra=integration_fields(contact),
        )
    except errors.HintError as exc:
        if not (exc.transient or exc.uncertain):
            raise _link_failed(contact, patient_id, exc) from exc
        # Hint may be back in a minute: the link is made here and its write is owed.
        owed = sorted(result.patient_updates)
    _link_replacing(
        contact=contact,
        patient_id=patient_id,
        result=result,
        actor=actor,
        token=token,
        audit=lambda: _audit(
            contact, actor, "contact.linked", f"patient {patient_id}", patient=patient_id
        ),
        owed=owed,
    )
    return contact


def _link_failed(contact: Contact, patient_id: str, exc: errors.HintError) -> SyncError:
    """Log a link Hint refused (or whose patient could not be read); nothing changed here."""
    text = error_sentence(exc)
    sync_log_write(
        practice=contact.practice,
        level=SyncLog.Level.ERROR,
        message="Linking to a Hint patient failed.",
        detail=text,
        contact=contact,
        patient_id=patient_id,
    )
    return SyncError(f"The contact was not linked. {text}")


def create_values(contact: Contact) -> fieldmap.Values:
    """The contact's filled-in two-way values: what "Create new patient" sends Hint."""
    values = fieldmap.contact_values(contact)
    return {n: values[n] for n in fieldmap.TWO_WAY_FIELDS if not fieldmap.is_blank(values[n])}


def patient_create_from_contact(*, contact: Contact, actor: Actor, token: str) -> Contact:
    """Create the contact's patient in Hint (with our integration fields) and link it."""
    if not contact.first_name.strip() or not contact.last_name.strip():
        raise SyncError(NAMES_NEEDED)
    body = fieldmap.patient_payload(
        create_values(contact), address_shape=practice_address_shape(contact.practice)
    )
    body.update(integration_fields(contact))
    try:
        data = api.patient_create(token=token, fields=body)
    except errors.HintError as exc:
        text = error_sentence(exc)
        sync_log_write(
            practice=contact.practice,
            level=SyncLog.Level.ERROR,
            message="Creating the patient in Hint failed.",
            detail=text,
            contact=contact,
        )
        # A create is not owed: after a lost answer we could not tell whether Hint made it.
        raise SyncError(f"The patient was not created, and nothing changed here. {text}") from exc
    patient_id = str(data.get(PATIENT_ID) or "")
    if not patient_id:
        raise SyncError("Hint did not say which patient it created. Search for it and link it.")
    mirror_answer(contact.practice, data)
    result = merge(
        situation=Situation.MANUAL_LINK,
        contact=fieldmap.contact_values(contact),
        patient=fieldmap.patient_values(data),
    )
    result.patient_updates.clear()  # the patient was just created from this contact

    def audit() -> None:
        audit_record(
            practice=contact.practice_id,
            actor=actor,
            action="patient.created",
            target_type="patient",
            target_id=patient_id,
            patient=patient_id,
            detail=f"from contact {contact.pk}",
        )

    _link_replacing(
        contact=contact, patient_id=patient_id, result=result, actor=actor, token=token, audit=audit
    )
    return contact


def _link_replacing(
    *,
    contact: Contact,
    patient_id: str,
    result: MergeResult,
    actor: Actor,
    token: str,
    audit: Callable[[], None],
    owed: list[str] | None = None,
) -> None:
    """Save a link made here; patients that lost their link lose our fields in Hint too."""
    released = link_save(
        contact=contact, patient_id=patient_id, result=result, actor=actor, audit=audit, owed=owed
    )
    for old_patient_id in released:
        _integration_clear(practice=contact.practice, token=token, patient_id=old_patient_id)


def contact_unlink(*, contact: Contact, actor: Actor, token: str) -> Unlinked:
    """Remove the link on both sides; both records stay.

    Here the contact loses the link, what it still owed that patient, and its copies of the
    patient's Hint-only fields (they describe a patient it no longer has; they cannot be edited
    here). In Hint the patient loses our integration fields (`UNLINK_CLEARED`).
    """
    practice = contact.practice
    with transaction.atomic():
        fresh = Contact.objects.for_practice(practice).select_for_update().get(pk=contact.pk)
        old = fresh.hint_patient_id
        if not old:
            return Unlinked(contact=fresh, patient_id="", cleared_in_hint=True)
        fresh.hint_patient_id = ""
        contact_write_clear(fresh)  # the change stays here; there is no patient to owe it to
        fieldmap.contact_assign(fresh, dict.fromkeys(fieldmap.HINT_ONLY_FIELDS))
        fresh.save()
        sync_log_write(
            practice=practice,
            level=SyncLog.Level.DEBUG,
            message=f"Contact unlinked by {actor}.",
            contact=fresh,
            patient_id=old,
        )
        _audit(fresh, actor, "contact.unlinked", f"patient {old}", patient=old)
    cleared = _integration_clear(practice=practice, token=token, patient_id=old)
    contact.refresh_from_db()
    return Unlinked(contact=contact, patient_id=old, cleared_in_hint=cleared)


def integration_clear(*, practice: Any, token: str, patient_id: str) -> None:
    """Remove our integration fields from a patient in Hint; raises HintError if Hint does not."""
    answer = api.patient_update(token=token, patient_id=patient_id, fields=dict(UNLINK_CLEARED))
    mirror_answer(practice, answer)


def _integration_clear(*, practice: Any, token: str, patient_id: str) -> bool:
    """Remove our integration fields from a patient we no longer link (best effort, logged)."""
    try:
        integration_clear(practice=practice, token=token, patient_id=patient_id)
    except errors.HintError as exc:
        sync_log_write(
            practice=practice,
            level=SyncLog.Level.ERROR,
            message="The link was removed here, but Hint still shows it.",
            detail=error_sentence(exc),
            patient_id=patient_id,
        )
        return False
    return True


# --- saving a link (also for links made from Hint's side and by batches) ----------------------


def contact_save_linked(
    contact: Contact,
    *,
    practice: Any,
    updates: fieldmap.Values,
    patient_id: str,
    message: str,
    batch_sync_id: str = "",
    options: SyncOptions | None = None,
) -> None:
    """Write merged values and the link onto `contact` and log it (inside the caller's atomic)."""
    fieldmap.contact_assign(contact, updates)
    contact.hint_patient_id = patient_id
    if not contact.hint_write_state:  # in step with Hint only when nothing is owed
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


def link_save(
    *,
    contact: Contact,
    patient_id: str,
    result: MergeResult,
    actor: Actor,
    batch_sync_id: str = "",
    options: SyncOptions | None = None,
    refresh: bool = True,
    audit: Callable[[], None] | None = None,
    owed: list[str] | None = None,
) -> list[str]:
    """Save a link and the contact's merged values; returns patient ids that lost their link.

    Batches pass their `options` and `refresh=False` to save queries on every row; `audit`
    records the link in the same transaction (a link a person made; batches audit the batch).
    Hint took the link's write, unless `owed` names the fields still to send with it.
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
            # Like an unlink: the copies of that patient's Hint-only fields go with the link.
            cleared = fieldmap.contact_assign(other, dict.fromkeys(fieldmap.HINT_ONLY_FIELDS))
            other.save(update_fields=["hint_patient_id", *cleared])
            sync_log_write(
                practice=practice,
                level=SyncLog.Level.DEBUG,
                message=f"Contact unlinked: its patient was linked to contact {contact.pk}.",
                contact=other,
                patient_id=patient_id,
                options=options,
            )
        if owed is None:
            contact_write_clear(fresh)
        else:
            contact_write_owe(fresh, fields=owed, link=True)
        contact_save_linked(
            fresh,
            practice=practice,
            updates=result.contact_updates,
            patient_id=patient_id,
            batch_sync_id=batch_sync_id,
            message=f"Contact linked to a Hint patient by {actor}.",
            options=options,
        )
        if audit is not None:
            audit()
    if refresh:
        contact.refresh_from_db()
    return released
