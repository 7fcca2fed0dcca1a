"""Hint -> contacts: what a change of a mirrored patient does to our contacts.

Webhook processing and backfill call `patient_changed` after the mirror changed. The decision
(update the linked contact, link a match, create a contact, or leave it) is
`sync.linking.patient_link_decide`, shared with the batch of all patients; this module gathers
its inputs for one patient and carries it out.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from hintpartner.hint.decode import parse_time
from sync import fieldmap
from sync.contact_writes import contact_write_owe, updates_without_owed
from sync.contacts import contact_save_linked
from sync.linking import Decision, Outcome, patient_link_decide
from sync.matching import contact_matches, patient_key
from sync.merge import Situation
from sync.models import Contact, Patient, SyncLog, SyncOptions
from sync.options import options_for, sync_log_write

# A patient first seen by the mirror counts as new only when Hint created it this recently.
NEW_PATIENT_MAX_AGE = timedelta(days=2)


def _is_new(patient: Patient, created: bool) -> bool:
    """A patient new in Hint, not merely new to our mirror.

    `created` says the mirror had no row before; a first backfill says that of every patient,
    so Hint's own `created_at` must also be recent, or the option would turn the whole backlog
    into contacts (that is the batch's job).
    """
    if not created:
        return False
    hint_created = parse_time((patient.data or {}).get("created_at"))
    if hint_created is None:
        return True
    return timezone.now() - hint_created <= NEW_PATIENT_MAX_AGE


def patient_changed(*, patient: Patient, created: bool) -> None:
    """React to a change of this practice's `Patient` mirror (created, updated, inactive,
    or destroyed: check `patient.is_destroyed`); `created` says the mirror had no row before.

    Called by webhook processing and by backfill, inside the transaction that applied the
    change, only when the mirror really changed. A linked contact takes the patient's values
    (patient wins) except the fields it still owes Hint; an echo of our own change differs in
    nothing and so changes nothing and sends nothing. With the option on, a new patient is
    linked to its single unlinked demographic match or gets a new contact; what the link owes
    Hint is stored on the contact and sent by the worker (`sync.contact_writes`).
    """
    if patient.is_destroyed:
        return
    practice = patient.practice
    data = patient.data or {}
    linked = Contact.objects.for_practice(practice).filter(hint_patient_id=patient.hint_id).first()
    options: SyncOptions | None = None
    candidates: list[Contact] = []
    if linked is None:
        if not _is_new(patient, created):
            return
        options = options_for(practice)
        if not options.create_contacts_for_new_patients:
            return
        candidates = contact_matches(practice=practice, key=patient_key(data), unlinked_only=True)
    decision = patient_link_decide(
        patient=data,
        linked=linked,
        candidates=candidates,
        situation=Situation.NEW_PATIENT,
        create=True,
    )
    _decision_carry_out(decision, patient=patient, options=options)


def _decision_carry_out(
    decision: Decision, *, patient: Patient, options: SyncOptions | None
) -> None:
    """Write what the decision says for one patient; what Hint is owed is stored on the contact."""
    practice = patient.practice
    if decision.outcome is Outcome.UPDATED and decision.contact is not None:
        _linked_update(decision.contact, decision.contact_updates, patient=patient)
    elif decision.outcome is Outcome.MULTIPLE:
        sync_log_write(
            practice=practice,
            level=SyncLog.Level.ERROR,
            message="A new Hint patient matches several contacts; none was linked.",
            patient_id=patient.hint_id,
            options=options,
        )
    elif decision.makes_link:
        contact = decision.contact or Contact(practice=practice)
        with transaction.atomic():
            # Hint is owed the filled-in fields and our integration fields: the worker sends them.
            contact_write_owe(contact, fields=decision.patient_updates, link=True)
            contact_save_linked(
                contact,
                practice=practice,
                updates=decision.contact_updates,
                patient_id=patient.hint_id,
                message=f"Contact {decision.outcome} for a Hint patient.",
            )


def _linked_update(contact: Contact, updates: fieldmap.Values, *, patient: Patient) -> None:
    """The linked contact takes the patient's values (patient wins), except the fields it
    still owes Hint: our change is sent first, then Hint's answer is applied."""
    with transaction.atomic():
        # Locked and read again: an edit committed since the decision read it is owed now.
        fresh = (
            Contact.objects.for_practice(patient.practice_id)
            .select_for_update()
            .filter(pk=contact.pk, hint_patient_id=patient.hint_id)
            .first()
        )
        if fresh is None:
            return
        changed = fieldmap.contact_assign(fresh, updates_without_owed(fresh, updates))
        if not changed:
            return
        fresh.last_synced_at = timezone.now()
        fresh.save(update_fields=[*changed, "last_synced_at"])
        sync_log_write(
            practice=patient.practice,
            level=SyncLog.Level.DEBUG,
            message="Contact updated from Hint: " + ", ".join(changed) + ".",
            contact=fresh,
            patient_id=patient.hint_id,
        )
