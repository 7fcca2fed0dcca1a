"""A contact's change is owed to Hint until Hint confirms it: stored here first, sent by the
worker's sweep with backoff, never overwritten by Hint meanwhile, refusals shown with Retry."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from handshake.audit import Actor
from handshake.models import AuditEntry, Practice
from sync import contact_writes, contacts
from sync.contacts import SyncError
from sync.mirror import patient_apply
from sync.models import Contact, SyncLog
from tests.conftest import open_session
from tests.sync.helpers import make_contact, patient_json
from tests.webhooks.conftest import deliver_and_dispatch, patient_event

ANN = Actor(label="Ann")
EDIT = {"first_name": "Ana", "last_name": "Nunez", "dob": "1980-04-02", "email": "ana@example.test"}


def _url(hint_url: str, pid: str = "pat-100") -> str:
    return f"{hint_url}/api/provider/patients/{pid}"


def _sent(call) -> dict:
    return json.loads(call.request.body)


def _owed(practice, **values) -> Contact:
    """A linked contact whose edit of `values` waits to reach Hint."""
    contact = make_contact(practice, hint_patient_id="pat-100")
    patient_apply(practice=practice, data=patient_json())
    return contacts.contact_update(contact=contact, values=values, actor=ANN)


def _page(client, name: str, key: str, *args) -> str:
    return client.get(reverse(name, args=args), {"session_key": key}).content.decode()


# --- the save: stored here, answered at once --------------------------------------------------


def test_saving_a_linked_contact_answers_without_calling_hint_and_says_waiting(
    client, practice_a, staff_key, mocked_hint
):
    contact = make_contact(practice_a, hint_patient_id="pat-100")
    response = client.post(
        reverse("sync:contact-edit", args=[contact.pk]),
        {"session_key": staff_key, **EDIT, "city": "Shelbyville"},
    )

    assert response.status_code == 303
    assert len(mocked_hint.calls) == 0  # the view only stores; the worker sends
    contact.refresh_from_db()
    assert contact.city == "Shelbyville"
    assert contact.hint_owed_fields == ["city"] and contact.hint_status == "waiting"
    assert AuditEntry.objects.filter(action="contact.edited", detail="city").exists()
    detail = _page(client, "sync:contact-detail", staff_key, contact.pk)
    assert "Saved here · waiting to reach Hint" in detail and "Synced to Hint" not in detail
    assert 'hx-trigger="every 5s"' in detail  # the badge turns by itself
    listing = _page(client, "sync:contacts", staff_key)
    assert "Saved here · waiting to reach Hint" in listing and "Synced to Hint" not in listing


def test_a_second_edit_adds_to_what_is_owed(practice_a):
    contact = _owed(practice_a, city="A")
    contacts.contact_update(contact=contact, values={"email": "b@x.test"}, actor=ANN)
    contact.refresh_from_db()
    assert contact.hint_owed_fields == ["city", "email"]


# --- sending: lands, waits, or is refused -----------------------------------------------------


def test_the_sweep_sends_a_due_write_with_the_practice_token_and_it_says_synced(
    client, practice_a, staff_key, mocked_hint, hint_url, django_capture_on_commit_callbacks
):
    contact = _owed(practice_a, city="Shelbyville")
    mocked_hint.patch(_url(hint_url), json=patient_json(address_city="Shelbyville"))

    with django_capture_on_commit_callbacks(execute=True):
        assert contact_writes.contact_writes_dispatch() == 1

    call = mocked_hint.calls[0]
    assert _sent(call) == {"address_city": "Shelbyville"}
    assert call.request.headers["Authorization"] == "Bearer practice-a-token"
    contact.refresh_from_db()
    assert contact.hint_status == "synced" and contact.hint_owed_fields == []
    assert contact.last_synced_at is not None and contact.synced_to_hint
    assert "Synced to Hint" in _page(client, "sync:contact-status", staff_key, contact.pk)
    assert contact_writes.contact_writes_dispatch() == 0  # nothing owed any more


def test_hint_answering_5xx_keeps_the_write_owed_and_retries_by_the_backoff_with_no_click(
    client, practice_a, staff_key, mocked_hint, hint_url, django_capture_on_commit_callbacks
):
    contact = _owed(practice_a, city="Shelbyville")
    mocked_hint.patch(_url(hint_url), status=503)

    assert contact_writes.contact_write_send(contact=contact) == "waiting"

    contact.refresh_from_db()
    assert contact.city == "Shelbyville" and contact.hint_owed_fields == ["city"]
    assert contact.hint_write_attempts == 1
    wait = contact.hint_write_next_at - timezone.now()
    assert timedelta(seconds=5) < wait <= timedelta(seconds=10)  # CONTACT_SCHEDULE's first step
    status = _page(client, "sync:contact-status", staff_key, contact.pk)
    assert "waiting to reach Hint" in status and "Hint did not answer" in status
    assert contact_writes.contact_writes_dispatch() == 0  # not due yet

    # Hint is back; once the next attempt is due, the sweep sends it.
    mocked_hint.replace("PATCH", _url(hint_url), json=patient_json(address_city="Shelbyville"))
    Contact.objects.filter(pk=contact.pk).update(hint_write_next_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert contact_writes.contact_writes_dispatch() == 1
    contact.refresh_from_db()
    assert contact.hint_status == "synced" and contact.hint_write_attempts == 0


def test_a_claimed_write_whose_task_was_lost_is_sent_again_after_the_lease(practice_a):
    contact = _owed(practice_a, city="Shelbyville")
    assert contact_writes.contact_writes_dispatch() == 1  # its task never runs (no commit here)
    assert contact_writes.contact_writes_dispatch() == 0  # held by the claim

    later = timezone.now() + contact_writes.CLAIM_LEASE + timedelta(seconds=1)
    assert Contact.objects.writes_due(later).filter(pk=contact.pk).exists()


def test_an_edit_made_while_the_write_was_on_its_way_stays_owed(practice_a, mocked_hint, hint_url):
    contact = _owed(practice_a, city="First")

    def edit_meanwhile(request):
        contacts.contact_update(contact=contact, values={"city": "Second"}, actor=ANN)
        return 200, {}, json.dumps(patient_json(address_city="First"))

    mocked_hint.add_callback("PATCH", _url(hint_url), callback=edit_meanwhile)
    assert contact_writes.contact_write_send(contact=contact) == "waiting"
    contact.refresh_from_db()
    assert (contact.city, contact.hint_owed_fields) == ("Second", ["city"])

    mocked_hint.replace("PATCH", _url(hint_url), json=patient_json(address_city="Second"))
    assert contact_writes.contact_write_send(contact=contact) == "synced"
    assert _sent(mocked_hint.calls[-1]) == {"address_city": "Second"}


def test_a_contact_deleted_while_its_link_write_was_on_its_way_leaves_nothing_of_ours_in_hint(
    practice_a, mocked_hint, hint_url
):
    contact = make_contact(practice_a, hint_patient_id="pat-100")
    contact_writes.contact_write_owe(contact, fields=(), link=True)
    contact.save()
    bodies = []

    def patch(request):
        bodies.append(json.loads(request.body))
        if len(bodies) == 1:  # the admin's delete commits while this write is in flight
            Contact.objects.filter(pk=contact.pk).delete()
        return 200, {}, json.dumps(patient_json())

    mocked_hint.add_callback("PATCH", _url(hint_url), callback=patch)
    assert contact_writes.contact_write_send(contact=contact) == "deleted"
    assert bodies[0]["integration_record_id"] == str(contact.pk)  # the write put them back…
    assert bodies[1] == {  # …and the write takes them away again
        "integration_record_id": "",
        "integration_web_link": "",
        "integration_error_message": "",
    }


def test_a_422_fails_with_the_reason_a_log_entry_and_the_message_on_the_patient_then_retry_sends_it(
    client, practice_a, admin_key, mocked_hint, hint_url, django_capture_on_commit_callbacks
):
    contact = _owed(practice_a, email="not-an-email")
    refused = mocked_hint.patch(_url(hint_url), status=422, json={"message": "Email is invalid"})
    noted = mocked_hint.patch(_url(hint_url), json=patient_json())

    assert contact_writes.contact_write_send(contact=contact) == "failed"

    contact.refresh_from_db()
    assert contact.email == "not-an-email"  # kept here
    assert "Hint refused the change: Email is invalid" in contact.hint_write_error
    assert "correct the contact and save it again" in contact.hint_write_error
    assert refused.call_count == 1 and noted.call_count == 1
    message = _sent(mocked_hint.calls[1])["integration_error_message"]
    assert "Email is invalid" in message and contact.hint_error_in_hint
    entry = SyncLog.objects.get(level="error", contact_id_ref=str(contact.pk))
    detail = _page(client, "sync:contact-detail", admin_key, contact.pk)
    assert "not accepted by Hint" in detail and "Email is invalid" in detail
    assert "Synced to Hint" not in detail and "Retry" in detail
    assert "Retry" in _page(client, "sync:log", admin_key)
    assert contact_writes.contact_writes_dispatch() == 0  # a refusal waits for a person

    # Retry from the log: sent again, and the message on the patient is cleared.
    mocked_hint.replace("PATCH", _url(hint_url), json=patient_json(email="ana@fixed.test"))
    retried = client.post(reverse("sync:log-retry", args=[entry.pk]), {"session_key": admin_key})
    assert retried.status_code == 303
    assert AuditEntry.objects.filter(action="contact.write_retried").exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert contact_writes.contact_writes_dispatch() == 1
    assert _sent(mocked_hint.calls[-1]) == {
        "email": "not-an-email",
        "integration_error_message": "",
    }
    contact.refresh_from_db()
    assert contact.hint_status == "synced" and not contact.hint_error_in_hint
    assert "Retry" not in _page(client, "sync:log", admin_key)


def test_a_patient_deleted_in_hint_fails_with_what_to_do_and_nothing_more_is_sent(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    contact = _owed(practice_a, city="Shelbyville")
    mocked_hint.patch(_url(hint_url), status=404, json={"message": "Not found"})

    assert contact_writes.contact_write_send(contact=contact) == "failed"

    assert len(mocked_hint.calls) == 1  # no message for a patient Hint no longer has
    contact.refresh_from_db()
    assert "no longer has this patient" in contact.hint_write_error
    assert "unlink the contact" in contact.hint_write_error
    assert "Retry" in _page(client, "sync:contact-detail", staff_key, contact.pk)


def test_a_refused_practice_token_fails_and_marks_the_practice_disconnected(
    practice_a, mocked_hint, hint_url
):
    contact = _owed(practice_a, city="Shelbyville")
    mocked_hint.patch(_url(hint_url), status=401, json={"message": "revoked"})

    assert contact_writes.contact_write_send(contact=contact) == "failed"

    assert len(mocked_hint.calls) == 1
    contact.refresh_from_db()
    assert "reconnect" in contact.hint_write_error and "press Retry" in contact.hint_write_error
    practice_a.refresh_from_db()
    assert practice_a.installation_status == Practice.InstallationStatus.DISCONNECTED


def test_a_practice_without_the_app_installed_fails_without_calling_hint(practice_a, mocked_hint):
    contact = _owed(practice_a, city="Shelbyville")
    Practice.objects.filter(pk=practice_a.pk).update(
        installation_status=Practice.InstallationStatus.DISCONNECTED, token=""
    )
    assert contact_writes.contact_write_send(contact=contact) == "failed"
    assert len(mocked_hint.calls) == 0
    contact.refresh_from_db()
    assert contact.hint_write_error == contact_writes.NOT_CONNECTED


def test_retry_on_the_contact_sends_a_refused_write_again(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    contact = _owed(practice_a, city="Shelbyville")
    Contact.objects.filter(pk=contact.pk).update(hint_write_state="failed", hint_write_error="No.")
    response = client.post(
        reverse("sync:contact-write-retry", args=[contact.pk]), {"session_key": staff_key}
    )
    assert response.status_code == 303
    contact.refresh_from_db()
    assert contact.hint_status == "waiting" and contact.hint_write_error == ""


def test_retry_needs_a_post_a_session_the_permission_and_a_contact_of_the_practice(
    client, practice_a, practice_b, staff_key, admin_key
):
    contact = make_contact(practice_a, hint_patient_id="pat-100", hint_write_state="failed")
    other = make_contact(practice_b, hint_patient_id="pat-100", hint_write_state="failed")
    url = reverse("sync:contact-write-retry", args=[contact.pk])
    support = open_session(practice_a, ["admin"], access_context="platform_support")
    assert client.get(url, {"session_key": staff_key}).status_code == 405
    assert client.post(url).status_code == 401
    assert client.post(url, {"session_key": support}).status_code == 403
    other_url = reverse("sync:contact-write-retry", args=[other.pk])
    assert client.post(other_url, {"session_key": admin_key}).status_code == 404
    for row in (contact, other):
        row.refresh_from_db()
        assert row.hint_write_state == "failed"


# --- links ------------------------------------------------------------------------------------


def test_a_link_whose_write_hint_did_not_answer_is_saved_here_and_owed(
    practice_a, mocked_hint, hint_url
):
    contact = make_contact(practice_a, email="new@x.test", city="")
    mocked_hint.get(_url(hint_url), json=patient_json())
    mocked_hint.patch(_url(hint_url), status=503)

    contacts.contact_link(contact=contact, patient_id="pat-100", actor=ANN, token="t")

    contact.refresh_from_db()
    assert contact.hint_patient_id == "pat-100" and contact.hint_status == "waiting"
    assert contact.hint_link_owed and "email" in contact.hint_owed_fields  # contact wins
    assert contact.city == "Springfield"  # Hint's value filled in here all the same

    mocked_hint.replace("PATCH", _url(hint_url), json=patient_json(email="new@x.test"))
    assert contact_writes.contact_write_send(contact=contact) == "synced"
    body = _sent(mocked_hint.calls[-1])
    assert body["email"] == "new@x.test"
    assert body["integration_record_id"] == str(contact.pk)


def test_a_link_hint_refuses_changes_nothing_here(practice_a, mocked_hint, hint_url):
    contact = make_contact(practice_a)
    mocked_hint.get(_url(hint_url), json=patient_json())
    mocked_hint.patch(_url(hint_url), status=422, json={"message": "No"})
    with pytest.raises(SyncError, match="not linked"):
        contacts.contact_link(contact=contact, patient_id="pat-100", actor=ANN, token="t")
    contact.refresh_from_db()
    assert contact.hint_patient_id == "" and contact.hint_status == "unlinked"


def test_unlinking_ends_what_was_owed_and_keeps_the_change_here(practice_a, mocked_hint, hint_url):
    contact = _owed(practice_a, city="Shelbyville")
    mocked_hint.patch(_url(hint_url), json=patient_json())
    contacts.contact_unlink(contact=contact, actor=ANN, token="t")
    contact.refresh_from_db()
    assert contact.city == "Shelbyville" and contact.hint_status == "unlinked"
    assert contact.hint_owed_fields == [] and contact.hint_write_state == ""
    assert contact_writes.contact_writes_dispatch() == 0


# --- Hint's events while owed -----------------------------------------------------------------


def test_a_patient_updated_webhook_while_owed_does_not_overwrite_the_owed_fields(
    client, practice_a
):
    contact = _owed(practice_a, city="Ours")
    event = patient_event(
        patient_id="pat-100",
        updated_at="2030-01-01T00:00:00Z",
        address_city="Theirs",
        last_name="Nuñez",
    )

    assert deliver_and_dispatch(client, event).status_code == 200

    contact.refresh_from_db()
    assert contact.city == "Ours"  # owed: ours until Hint confirms it
    assert contact.last_name == "Nuñez"  # not owed: patient wins
    assert contact.hint_status == "waiting"


def test_owed_fields_name_what_hint_must_not_overwrite(practice_a):
    contact = _owed(practice_a, city="Ours", email="x@y.test")
    assert contact_writes.owed_fields(contact) == {"city", "email"}
    updates = {"city": "Theirs", "email": "z@y.test", "last_name": "N"}
    assert contact_writes.updates_without_owed(contact, updates) == {"last_name": "N"}


def test_the_save_button_says_it_is_working_by_a_static_script(client, practice_a, staff_key):
    from pathlib import Path

    from django.contrib.staticfiles import finders

    contact = make_contact(practice_a, hint_patient_id="pat-100")
    form = _page(client, "sync:contact-edit", staff_key, contact.pk)
    assert 'data-working="Saving…">Save</button>' in form
    script = Path(finders.find("hintpartner/app.js")).read_text(encoding="utf-8")
    assert "button[data-working]" in script and "disabled = true" in script
