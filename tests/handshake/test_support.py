"""A Hint support session looks at everything an admin sees and changes nothing."""

import pytest
from django.test import Client
from django.urls import reverse

from handshake.models import AuditEntry, Practice
from interactions.models import Note
from sync.models import Batch, Patient
from tests.conftest import open_session
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db

READ_ONLY = "Hint support sessions are read-only."


@pytest.fixture
def support_key(practice_a: Practice) -> str:
    return open_session(
        practice_a,
        [],
        access_context="platform_support",
        user={"id": "hint-emp-7", "name": "Sam Helper", "email": "sam@hint.test"},
        patient_id="pat-A1",
    )


def page(client: Client, key: str, name: str, *args: object) -> str:
    response = client.get(reverse(name, args=args), {"session_key": key})
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("name", "control"),
    [
        ("handshake:settings", "Disconnect</button>"),
        ("sync:batches", "Start batch</button>"),
        ("sync:options", "<fieldset disabled"),
        ("sync:backfill-panel", "Refresh from Hint</button>"),
        ("webhooks:panel", "Replay failed updates</button>"),
    ],
)
def test_support_sees_the_admin_pages_with_their_changes_disabled(
    client: Client, practice_a: Practice, support_key: str, admin_key: str, name: str, control: str
) -> None:
    WebhookEvent.objects.create(practice=practice_a, event_id="e1", type="x", status="failed")
    html = page(client, support_key, name)
    assert READ_ONLY in html
    tag = html[: html.index(control)].rsplit("<", 1)[-1] if "</button>" in control else control
    assert "disabled" in tag
    admin_html = page(client, admin_key, name)
    assert READ_ONLY not in admin_html


def test_support_sees_batch_and_event_controls_disabled(
    client: Client, practice_a: Practice, support_key: str
) -> None:
    batch = Batch.objects.create(practice=practice_a, sync_id="BS-1", kind="patients")
    event = WebhookEvent.objects.create(
        practice=practice_a, event_id="e1", type="x", status="failed"
    )
    assert "disabled>Abort batch" in page(client, support_key, "sync:batch-detail", batch.pk)
    html = page(client, support_key, "webhooks:event", event.pk)
    assert "disabled>Replay this update" in html and READ_ONLY in html


def test_support_sees_the_settings_page_users_list(
    client: Client, practice_a: Practice, support_key: str, clinician_key: str
) -> None:
    assert "Clinician Tester" in page(client, support_key, "handshake:settings")


def test_a_clinician_sees_no_settings_controls_at_all(client: Client, clinician_key: str) -> None:
    html = page(client, clinician_key, "handshake:settings")
    assert "Disconnect" not in html and READ_ONLY not in html


def test_support_allowed_to_write_is_audited_by_name(
    client: Client, practice_a: Practice, support_key: str, settings
) -> None:
    settings.HINT_SUPPORT_CAN_WRITE = True
    Patient.objects.create(practice=practice_a, hint_id="pat-A1")
    response = client.post(reverse("interactions:note-new"), {"session_key": support_key})
    assert response.status_code == 303
    entry = AuditEntry.objects.get(action="note.created")
    assert entry.is_support and entry.user is None
    assert entry.actor_label == "Hint support (Sam Helper)"
    assert Note.objects.get().author_label == "Hint support (Sam Helper)"


def test_support_allowed_to_write_still_cannot_disconnect(
    client: Client, practice_a: Practice, support_key: str, settings
) -> None:
    settings.HINT_SUPPORT_CAN_WRITE = True
    url = reverse("handshake:settings-disconnect")
    assert client.post(url, {"session_key": support_key}).status_code == 403
    practice_a.refresh_from_db()
    assert practice_a.is_connected
