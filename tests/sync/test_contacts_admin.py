"""Contacts an admin manages: "Export CSV" (the CSV batch's input, formula-safe, streamed,
filtered like the list) and deleting a contact (unlinked in Hint first; nothing deleted when
Hint refuses or is down)."""

import csv
import io
import json
from datetime import date

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import StreamingHttpResponse
from django.urls import reverse

from handshake.models import AuditEntry
from sync import fieldmap
from sync.csv_input import csv_parse
from sync.models import Batch, BatchRow, Contact, Patient, SyncLog
from sync.views_contacts_admin import EXPORT_HEADER
from tests.sync.helpers import make_contact

pytestmark = pytest.mark.django_db


def _export(client, key, **params):
    return client.get(reverse("sync:contacts-export"), {"session_key": key, **params})


def _body(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def _table(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_body(response).decode())))


# --- export -------------------------------------------------------------------------------------


def test_the_export_holds_ids_link_state_and_every_synced_field(client, practice_a, admin_key):
    linked = make_contact(
        practice_a,
        hint_patient_id="pat-1",
        mobile_phone="(201) 555-0123",
        city="Springfield",
        state="IL",
        zip_code="62701",
    )
    unlinked = make_contact(practice_a, first_name="Bo", dob=None)
    response = _export(client, admin_key)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="contacts-')
    rows = _table(response)
    assert list(rows[0]) == list(EXPORT_HEADER)
    assert set(EXPORT_HEADER) >= set(fieldmap.TWO_WAY_FIELDS)
    assert [r["contact_id"] for r in rows] == [str(linked.pk), str(unlinked.pk)]
    first = rows[0]
    assert (first["hint_patient_id"], first["sync_state"]) == ("pat-1", "synced")
    assert first["dob"] == "1980-04-02" and first["mobile_phone"] == "(201) 555-0123"
    assert (first["city"], first["state"], first["zip_code"]) == ("Springfield", "IL", "62701")
    assert (rows[1]["sync_state"], rows[1]["dob"]) == ("not_linked", "")
    entry = AuditEntry.objects.get(action="contacts.exported")
    assert entry.detail == "all contacts"


def test_the_export_escapes_formulas_as_the_results_csv_does(client, practice_a, admin_key):
    make_contact(
        practice_a,
        first_name='=HYPERLINK("http://evil.test")',
        last_name="@SUM(A1)",
        office_phone="+44 20 7946 0958",
        address_line1="-1 Main",
    )
    row = _table(_export(client, admin_key))[0]
    assert row["first_name"] == '\'=HYPERLINK("http://evil.test")'
    assert row["last_name"] == "'@SUM(A1)"
    assert row["office_phone"] == "'+44 20 7946 0958"
    assert row["address_line1"] == "'-1 Main"


def test_the_export_honours_the_lists_search_and_state(client, practice_a, admin_key):
    make_contact(practice_a, first_name="Wa", hint_patient_id="p1", hint_write_state="waiting")
    make_contact(practice_a, first_name="Er", hint_patient_id="p2", hint_write_state="failed")
    make_contact(practice_a, first_name="Er", last_name="Other", hint_write_state="")
    rows = _table(_export(client, admin_key, state="error"))
    assert [(r["first_name"], r["sync_state"]) for r in rows] == [("Er", "error")]
    rows = _table(_export(client, admin_key, q="other"))
    assert [r["last_name"] for r in rows] == ["Other"]
    assert AuditEntry.objects.filter(detail="state error").exists()


def test_the_export_is_streamed_row_by_row(client, practice_a, admin_key):
    Contact.objects.bulk_create(
        [Contact(practice=practice_a, first_name=f"C{i}") for i in range(35)]
    )
    response = _export(client, admin_key)
    stream = iter(response.streaming_content)
    assert next(stream).startswith(b"contact_id,")  # the header, before any contact is read
    assert len(b"".join(stream).splitlines()) == 35


def test_the_export_holds_no_other_practices_contacts(client, practice_a, practice_b, admin_key):
    make_contact(practice_b, first_name="Secret")
    mine = make_contact(practice_a)
    rows = _table(_export(client, admin_key))
    assert [r["contact_id"] for r in rows] == [str(mine.pk)]


@pytest.mark.parametrize("role", ["staff", "clinician"])
def test_only_admins_export(client, practice_a, role):
    from tests.conftest import open_session

    make_contact(practice_a)
    response = _export(client, open_session(practice_a, [role]))
    assert response.status_code == 403
    assert not AuditEntry.objects.filter(action="contacts.exported").exists()


def test_the_export_is_the_csv_batchs_input_unchanged(client, practice_a, admin_key):
    contacts = [
        make_contact(practice_a, first_name="Ana", address_line1='12 "Elm", Apt 3; rear'),
        make_contact(practice_a, first_name="=cmd", last_name="Tab\tName", city="Ville;x"),
        make_contact(practice_a, first_name="Cy", hint_patient_id="pat-1"),
    ]
    body = _body(_export(client, admin_key))

    parsed = csv_parse(body, name="contacts.csv")
    assert parsed.contact_ids == [c.pk for c in contacts]
    assert parsed.header.startswith("contact_id,") and parsed.ignored_lines == []

    upload = SimpleUploadedFile("contacts.csv", body, content_type="text/csv")
    started = client.post(
        reverse("sync:batch-start-csv"), {"session_key": admin_key, "file": upload}
    )
    assert started.status_code == 303, started.content.decode()[:500]
    batch = Batch.objects.get(practice=practice_a)
    queued = BatchRow.objects.filter(batch=batch).order_by("position")
    assert [row.contact_id for row in queued] == [c.pk for c in contacts]


# --- delete -------------------------------------------------------------------------------------


def _patient_url(hint_url, pid):
    return f"{hint_url}/api/provider/patients/{pid}"


def _delete(client, key, contact):
    return client.post(reverse("sync:contact-delete", args=[contact.pk]), {"session_key": key})


def test_the_confirmation_says_what_deleting_does(client, practice_a, admin_key):
    Patient.objects.create(practice=practice_a, hint_id="pat-1", first_name="Ana", last_name="N")
    linked = make_contact(practice_a, hint_patient_id="pat-1", hint_write_state="waiting")
    page = client.get(
        reverse("sync:contact-delete", args=[linked.pk]), {"session_key": admin_key}
    ).content.decode()
    assert "the Hint patient Ana N" in page
    assert "the link is removed from that patient in Hint" in page
    assert "keeps all its details in Hint" in page
    assert "nothing is deleted" in page
    assert "it will not be sent" in page  # the change still owed to Hint
    assert "cannot be undone" in page
    unlinked = make_contact(practice_a, first_name="Bo")
    page = client.get(
        reverse("sync:contact-delete", args=[unlinked.pk]), {"session_key": admin_key}
    ).content.decode()
    assert "nothing changes in Hint" in page
    assert Contact.objects.count() == 2


def test_deleting_an_unlinked_contact_deletes_it_and_audits_it_without_calling_hint(
    client, practice_a, admin_key, mocked_hint
):
    contact = make_contact(practice_a, first_name="Bo")
    response = _delete(client, admin_key, contact)
    assert response.status_code == 303
    assert response["Location"].startswith(reverse("sync:contacts"))
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert len(mocked_hint.calls) == 0
    entry = AuditEntry.objects.get(action="contact.deleted")
    assert entry.target_id == str(contact.pk) and "Bo Nunez" in entry.detail
    assert "The contact was deleted." in client.get(response["Location"]).content.decode()


def test_deleting_a_linked_contact_clears_our_fields_in_hint_first(
    client, practice_a, admin_key, mocked_hint, hint_url
):
    contact = make_contact(practice_a, hint_patient_id="pat-1")
    row_batch = Batch.objects.create(practice=practice_a, sync_id="BS-1", kind="x")
    BatchRow.objects.create(practice=practice_a, batch=row_batch, position=1, contact=contact)
    mocked_hint.patch(
        _patient_url(hint_url, "pat-1"),
        json={"id": "pat-1", "first_name": "Ana", "integration_record_id": None},
    )
    response = _delete(client, admin_key, contact)
    assert response.status_code == 303
    (call,) = mocked_hint.calls
    assert call.request.method == "PATCH"
    # Hint's patient keeps its details; only our integration fields are cleared.
    assert json.loads(call.request.body) == {
        "integration_record_id": "",
        "integration_web_link": "",
        "integration_error_message": "",
    }
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert BatchRow.objects.get().contact_id is None  # the batch's report keeps its row
    actions = list(
        AuditEntry.objects.filter(target_id=str(contact.pk))
        .order_by("pk")
        .values_list("action", "patient_hint_id")
    )
    assert actions == [("contact.unlinked", "pat-1"), ("contact.deleted", "pat-1")]
    page = client.get(response["Location"]).content.decode()
    assert "only the link to this app was removed" in page


@pytest.mark.parametrize(
    ("answer", "status", "words"),
    [
        ({"status": 422, "json": {"message": "Locked"}}, 409, "Hint refused the change: Locked"),
        ({"status": 503}, 503, "Hint did not answer"),
        ({"body": requests.ConnectionError("down")}, 503, "Hint did not answer"),
        ({"status": 401}, 409, "Hint refused our access"),
    ],
)
def test_when_hint_refuses_or_is_down_nothing_is_deleted_and_the_page_says_why(
    client, practice_a, admin_key, mocked_hint, hint_url, answer, status, words
):
    contact = make_contact(practice_a, hint_patient_id="pat-1")
    mocked_hint.patch(_patient_url(hint_url, "pat-1"), **answer)
    before = AuditEntry.objects.filter(action__startswith="contact.").count()
    response = _delete(client, admin_key, contact)
    assert response.status_code == status
    page = response.content.decode()
    assert "Nothing was deleted" in page and words in page
    contact.refresh_from_db()
    assert contact.hint_patient_id == "pat-1"
    assert AuditEntry.objects.filter(action__startswith="contact.").count() == before
    assert SyncLog.objects.filter(level="error", contact_id_ref=str(contact.pk)).exists()


def test_a_patient_hint_no_longer_has_does_not_stop_the_deletion(
    client, practice_a, admin_key, mocked_hint, hint_url
):
    contact = make_contact(practice_a, hint_patient_id="pat-gone")
    mocked_hint.patch(_patient_url(hint_url, "pat-gone"), status=404)
    assert _delete(client, admin_key, contact).status_code == 303
    assert not Contact.objects.exists()


@pytest.mark.parametrize("role", ["staff", "clinician"])
def test_only_admins_delete(client, practice_a, role, mocked_hint):
    from tests.conftest import open_session

    contact = make_contact(practice_a)
    key = open_session(practice_a, [role])
    assert _delete(client, key, contact).status_code == 403
    page = client.get(reverse("sync:contact-detail", args=[contact.pk]), {"session_key": key})
    assert "Delete…" not in page.content.decode()
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_another_practices_admin_cannot_delete_or_see_the_confirmation(
    client, practice_a, outsider_key, mocked_hint
):
    contact = make_contact(practice_a, hint_patient_id="pat-1", dob=date(1990, 1, 1))
    url = reverse("sync:contact-delete", args=[contact.pk])
    assert client.get(url, {"session_key": outsider_key}).status_code == 404
    assert client.post(url, {"session_key": outsider_key}).status_code == 404
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert len(mocked_hint.calls) == 0
