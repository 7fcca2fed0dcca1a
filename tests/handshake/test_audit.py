"""Audit entries are written by the service that makes the change, in its transaction, naming
the person (a Hint support person as support)."""

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from handshake.audit import Actor
from handshake.models import AuditEntry, Practice
from interactions import services as notes
from sync import batch_control, contacts
from sync.models import Contact
from tests.conftest import open_session
from tests.sync.helpers import make_contact

pytestmark = pytest.mark.django_db

ANN = Actor(label="Ann Admin")


def _actions() -> list[str]:
    return list(AuditEntry.objects.order_by("id").values_list("action", flat=True))


def test_a_contact_created_by_the_service_is_recorded_with_its_actor(
    practice_a: Practice,
) -> None:
    contact = contacts.contact_create(practice=practice_a, values={"first_name": "Ana"}, actor=ANN)
    entry = AuditEntry.objects.get(action="contact.created")
    assert (entry.practice, entry.actor_label, entry.target_id) == (
        practice_a,
        "Ann Admin",
        str(contact.pk),
    )


def test_a_change_rolled_back_leaves_no_audit_entry(practice_a: Practice) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        contacts.contact_create(practice=practice_a, values={"first_name": "Ana"}, actor=ANN)
        raise RuntimeError("the caller's transaction fails after the service ran")
    assert not Contact.objects.exists()
    assert _actions() == []


def test_a_refused_note_save_records_nothing(practice_a: Practice) -> None:
    note = notes.note_create(practice=practice_a, patient_hint_id="pat-1", actor=ANN)
    with pytest.raises(notes.NoteConflict):
        notes.note_save(note=note, title="", body="new text", base_version=99, actor=ANN)
    assert _actions() == ["note.created"]


def test_a_note_signed_is_recorded_once_by_the_service(practice_a: Practice) -> None:
    note = notes.note_create(practice=practice_a, patient_hint_id="pat-1", actor=ANN)
    note = notes.note_save(note=note, title="", body="Seen today.", base_version=1, actor=ANN)
    notes.note_sign(note=note, actor=Actor(label="Dr. Clin"))
    assert _actions() == ["note.created", "note.edited", "note.signed"]
    assert AuditEntry.objects.get(action="note.signed").actor_label == "Dr. Clin"


def test_starting_a_batch_records_it_in_the_same_transaction(practice_a: Practice) -> None:
    batch = batch_control.batch_start_patients(practice=practice_a, actor=ANN)
    entry = AuditEntry.objects.get(action="batch.started")
    assert (entry.target_id, entry.actor_label) == (batch.sync_id, "Ann Admin")


def test_a_support_persons_edit_is_recorded_as_support_by_name(
    client: Client, practice_a: Practice, settings, mocked_hint
) -> None:
    settings.HINT_SUPPORT_CAN_WRITE = True
    contact = make_contact(practice_a)
    key = open_session(practice_a, [], access_context="platform_support")
    response = client.post(
        reverse("sync:contact-edit", args=[contact.pk]),
        {"session_key": key, "first_name": "Ana", "last_name": "Nunes"},
    )
    assert response.status_code == 303
    entry = AuditEntry.objects.get(action="contact.edited")
    assert entry.is_support and entry.user is None
    assert "support" in entry.actor_label.lower()


@pytest.mark.parametrize(
    ("user", "label"),
    [
        ({"id": "u-n", "name": "Dr. Ana Reyes", "first_name": "Ana"}, "Dr. Ana Reyes"),
        ({"id": "u-f", "first_name": "Ana", "last_name": "Reyes"}, "Ana Reyes"),
        ({"id": "u-e", "email": "ana@example.com"}, "ana@example.com"),
        ({"id": "u-0"}, "A practice user"),
    ],
)
def test_a_session_opened_is_recorded_under_the_users_display_name(
    practice_a: Practice, user: dict, label: str
) -> None:
    from handshake.models import PracticeUser
    from handshake.services import session_open

    session_open(payload={"user": user, "practice": {"id": practice_a.hint_id}})
    entry = AuditEntry.objects.for_practice(practice_a).get(action="session.opened")
    assert entry.actor_label == label
    # The same name from the stored user, also with its fields loaded on first use.
    stored = PracticeUser.objects.for_practice(practice_a).only("id").get(hint_id=user["id"])
    assert stored.display_name == label
