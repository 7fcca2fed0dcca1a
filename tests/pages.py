"""Every page of the app with data in it, for the tests that look at all of them at once.

`page_catalogue(practice)` seeds one practice with a patient, contacts, a batch, sync log
entries, a note and a webhook event, and returns (name, path) for each page a person can open;
the path has no session key (add `?session_key=…`).
"""

from datetime import date, timedelta

from django.urls import reverse
from django.utils import timezone

from handshake.audit import Actor
from handshake.models import Practice
from interactions import services as notes
from interactions.models import Note
from sync.models import BackfillRun, Batch, BatchRow, Contact, Patient, SyncLog
from webhooks.models import WebhookEvent

PATIENT_ID = "pat-Pages1"
# Pages that are strips inside Hint's chart: Hint's navigation surrounds them, ours does not.
CLINICAL_SURFACES = ("clinical chart", "clinical interaction")


def page_catalogue(practice: Practice) -> list[tuple[str, str]]:
    """Seed `practice` and list its pages as (name, path)."""
    now = timezone.now()
    patient = Patient.objects.create(
        practice=practice,
        hint_id=PATIENT_ID,
        first_name="Alice",
        last_name="Moreau",
        dob=date(1956, 7, 7),
        email="alice@example.test",
        hint_updated_at=now - timedelta(days=2),
        provider_web_link="https://hint.test/patients/pat-Pages1",
    )
    BackfillRun.objects.create(
        practice=practice, status="done", fetched=1, changed=1, finished_at=now
    )
    contact = Contact.objects.create(
        practice=practice,
        first_name="Alice",
        last_name="Moreau",
        dob=date(1956, 7, 7),
        email="alice@example.test",
        hint_patient_id=PATIENT_ID,
        synced_to_hint=True,
        last_synced_at=now - timedelta(hours=3),
        hipaa_authorization_accepted=True,
        hipaa_authorization_accepted_at=now - timedelta(days=400),
    )
    Contact.objects.create(practice=practice, first_name="Bo", last_name="Unlinked")
    batch = Batch.objects.create(
        practice=practice,
        sync_id="BS-20261202-PAGES",
        kind="contacts_to_patients",
        status="done",
        total=2,
        processed=2,
        started_by="Avery Admin",
    )
    BatchRow.objects.create(
        practice=practice,
        batch=batch,
        position=1,
        outcome="linked",
        contact_id=contact.pk,
        name="Alice Moreau",
        patient_id=PATIENT_ID,
    )
    plan = Batch.objects.create(
        practice=practice,
        sync_id="BS-20261202-PLAN",
        kind="patients_to_contacts",
        mode="plan",
        status="planned",
        total=2,
        processed=2,
        counts={"linked": 1, "no_match": 1},
        plan_counts={"linked": 1, "no_match": 1},
        planned_at=now,
        started_by="Avery Admin",
    )
    BatchRow.objects.create(
        practice=practice,
        batch=plan,
        position=1,
        outcome="linked",
        planned_outcome="linked",
        contact_id=contact.pk,
        name="Alice Moreau",
        patient_id=PATIENT_ID,
        changes=[
            {
                "field": "city",
                "label": "City",
                "contact": "",
                "patient": "Lyon",
                "after": "Lyon",
                "to": "to the contact",
            }
        ],
    )
    log = SyncLog.objects.create(
        practice=practice,
        level="error",
        message="Hint refused the change.",
        contact_id_ref=str(contact.pk),
        patient_id=PATIENT_ID,
        batch_sync_id=batch.sync_id,
    )
    note = notes.note_create(
        practice=practice, patient_hint_id=PATIENT_ID, actor=Actor(label="Dr. Ada Clinician")
    )
    Note.objects.filter(pk=note.pk).update(
        title="Follow-up",
        body="Feeling better.",
        sync_attempts=1,
        sync_next_attempt_at=now + timedelta(hours=1),
    )
    event = WebhookEvent.objects.create(
        practice=practice,
        event_id="evt-pages-1",
        type="patient.updated",
        status="failed",
        error="The patient could not be applied.",
        attempts=3,
        hint_created_at=now,
        next_attempt_at=now + timedelta(minutes=5),
        payload={},
    )
    pages = [
        ("home", reverse("handshake:core_page")),
        ("settings", reverse("handshake:settings")),
        ("clinical chart", reverse("handshake:clinical_chart") + f"?patient_id={PATIENT_ID}"),
        ("patients", reverse("sync:patients")),
        ("patient", reverse("sync:patient", args=[patient.pk])),
        ("contacts", reverse("sync:contacts")),
        ("contact", reverse("sync:contact-detail", args=[contact.pk])),
        ("contact edit", reverse("sync:contact-edit", args=[contact.pk])),
        ("contact new", reverse("sync:contact-create")),
        ("contact delete", reverse("sync:contact-delete", args=[contact.pk])),
        ("sync to hint", reverse("sync:contact-sync", args=[contact.pk])),
        ("create patient", reverse("sync:contact-create-patient", args=[contact.pk])),
        ("unlink", reverse("sync:contact-unlink", args=[contact.pk])),
        ("batches", reverse("sync:batches")),
        ("batch", reverse("sync:batch-detail", args=[batch.pk])),
        ("batch plan", reverse("sync:batch-detail", args=[plan.pk])),
        ("sync log", reverse("sync:log")),
        ("sync log entry", reverse("sync:log-detail", args=[log.pk])),
        ("sync options", reverse("sync:options")),
        ("my drafts", reverse("interactions:my-drafts")),
        ("patient notes", reverse("interactions:patient-notes", args=[PATIENT_ID])),
        ("note editor", reverse("interactions:note", args=[note.pk])),
        ("updates from hint", reverse("webhooks:events")),
        ("update from hint", reverse("webhooks:event", args=[event.pk])),
        ("updates from hint: delivery", reverse("webhooks:hint")),
        ("activity", reverse("handshake:activity")),
        ("not found", "/hint/nowhere"),
    ]
    return pages
