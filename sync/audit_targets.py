"""The Activity page's words and links for sync's records (settings.AUDIT_TARGETS)."""

from typing import Any

from django.urls import reverse

from sync.models import Batch, Contact, Patient

Described = dict[str, tuple[str, str]]  # target_id → (plain words, URL without the session key)


def contacts_describe(*, practice: Any, ids: list[str]) -> Described:
    """Contacts by primary key."""
    pks = [int(i) for i in ids if i.isdigit()]
    contacts = Contact.objects.for_practice(practice).filter(pk__in=pks)
    return {
        str(c.pk): (
            f"contact {c.full_name or 'without a name'}",
            reverse("sync:contact-detail", args=[c.pk]),
        )
        for c in contacts.only("pk", "first_name", "last_name")
    }


def patients_describe(*, practice: Any, ids: list[str]) -> Described:
    """Patients by Hint id (the audit trail's key for a patient)."""
    patients = Patient.objects.for_practice(practice).filter(hint_id__in=ids)
    return {
        p.hint_id: (
            f"patient {p.full_name or 'without a name'}",
            reverse("sync:patient", args=[p.pk]),
        )
        for p in patients.only("pk", "hint_id", "first_name", "last_name")
    }


def batches_describe(*, practice: Any, ids: list[str]) -> Described:
    """Batches by Batch Sync ID."""
    batches = Batch.objects.for_practice(practice).filter(sync_id__in=ids)
    return {
        b.sync_id: (f"batch {b.sync_id}", reverse("sync:batch-detail", args=[b.pk]))
        for b in batches.only("pk", "sync_id")
    }
