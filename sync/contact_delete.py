"""Deleting a contact (admins): Hint first, then here, so a refusal deletes nothing.

A linked contact is unlinked first: our integration fields (`integration_record_id`,
`integration_web_link`) are cleared on its patient in Hint with the unlink service's own call
(`sync.contacts.integration_clear`), and only when Hint took that is the contact deleted here, in
one transaction with its sync log line and audit entry. The patient stays in Hint with all its
details. If Hint refuses or does not answer, nothing is deleted and the error says why; a patient
Hint no longer has carries nothing of ours, so the contact is deleted.
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from handshake.audit import Actor, audit_record
from hintpartner.hint import errors
from hintpartner.hint.policy import error_sentence
from sync.contacts import integration_clear
from sync.models import Contact, SyncLog
from sync.options import sync_log_write


class DeleteRefused(Exception):
    """The contact was not deleted; the message says why, in plain words for the page."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient  # Hint did not answer: trying again later may work


@dataclass(frozen=True)
class Deleted:
    name: str
    patient_id: str  # the Hint patient it was linked to ("" if none)


def contact_delete(*, contact: Contact, actor: Actor, token: str) -> Deleted:
    """Delete a contact; a linked one loses our integration fields in Hint first (audited).

    The contact's row stays locked from before the call to Hint until it is deleted, so an owed
    write being sent meanwhile (`sync.contact_writes`) waits for the delete, finds the contact
    gone, and clears again what its write may have put back.
    """
    practice = contact.practice
    refused: errors.HintError | None = None
    with transaction.atomic():
        fresh = Contact.objects.for_practice(practice).select_for_update().filter(pk=contact.pk)
        row = fresh.first()
        if row is None:  # deleted meanwhile (another tab): what was asked is done
            return Deleted(name=contact.full_name, patient_id=contact.hint_patient_id)
        patient_id = row.hint_patient_id
        if patient_id:
            refused = _hint_unlink(practice=practice, patient_id=patient_id, token=token)
        if refused is None:
            _delete(row, actor=actor, patient_id=patient_id)
    if refused is not None:
        sentence = error_sentence(refused)
        sync_log_write(
            practice=practice,
            level=SyncLog.Level.ERROR,
            message="A contact was not deleted: its link in Hint could not be removed.",
            detail=sentence,
            contact=row,
            patient_id=patient_id,
        )
        raise DeleteRefused(
            f"Nothing was deleted: the contact's link on its patient in Hint could not be "
            f"removed. {sentence}",
            transient=refused.transient or refused.uncertain,
        ) from refused
    return Deleted(name=row.full_name, patient_id=patient_id)


def _hint_unlink(*, practice: Any, patient_id: str, token: str) -> errors.HintError | None:
    """Clear our fields on the patient in Hint; the error when Hint did not."""
    try:
        integration_clear(practice=practice, token=token, patient_id=patient_id)
    except errors.HintNotFound:
        return None  # Hint no longer has the patient: nothing of ours is left there
    except errors.HintError as exc:
        return exc
    return None


def _delete(row: Contact, *, actor: Actor, patient_id: str) -> None:
    detail = f"{row.full_name or 'without a name'}" + (
        f"; unlinked from patient {patient_id}" if patient_id else ""
    )
    sync_log_write(
        practice=row.practice,
        level=SyncLog.Level.DEBUG,
        message=f"Contact deleted by {actor}"
        + (" after its link in Hint was removed." if patient_id else "."),
        contact=row,
        patient_id=patient_id,
    )
    if patient_id:
        _audit(row, actor, "contact.unlinked", f"patient {patient_id}", patient_id)
    _audit(row, actor, "contact.deleted", detail, patient_id)
    row.delete()


def _audit(contact: Contact, actor: Actor, action: str, detail: str, patient: str) -> None:
    audit_record(
        practice=contact.practice_id,
        actor=actor,
        action=action,
        target_type="contact",
        target_id=contact.pk,
        patient=patient,
        detail=detail,
    )
