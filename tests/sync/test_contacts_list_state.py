"""The contact list an admin works from: each contact's id, sync state and last batch, a filter
by sync state, and the chart link on a linked contact's page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sync import contact_state
from sync.models import Batch, BatchRow, Contact, Patient
from tests.sync.helpers import make_contact

pytestmark = pytest.mark.django_db


def _list(client, key, **params):
    return client.get(reverse("sync:contacts"), {"session_key": key, **params})


def _one_of_each(practice):
    return {
        "synced": make_contact(practice, first_name="Sy", hint_patient_id="pat-s"),
        "waiting": make_contact(
            practice, first_name="Wa", hint_patient_id="pat-w", hint_write_state="waiting"
        ),
        "error": make_contact(
            practice, first_name="Er", hint_patient_id="pat-e", hint_write_state="failed"
        ),
        "not_linked": make_contact(practice, first_name="No"),
    }


def test_each_state_read_from_a_row_is_the_state_its_filter_selects(practice_a):
    made = _one_of_each(practice_a)
    # An unlinked contact whose write was still owed reads as not linked, in both ways.
    made["not_linked_owed"] = make_contact(practice_a, first_name="Ow", hint_write_state="waiting")
    contacts = Contact.objects.for_practice(practice_a)
    for state in contact_state.STATES:
        selected = set(contact_state.states_filter(contacts, state))
        assert selected == {c for c in contacts if contact_state.state_of(c) is state}, state
    assert contact_state.state_of(made["waiting"]) is contact_state.WAITING
    assert contact_state.state_of(made["not_linked_owed"]) is contact_state.NOT_LINKED
    assert set(contact_state.states_filter(contacts, None)) == set(contacts)


def test_the_list_filters_by_sync_state_and_keeps_the_search(client, practice_a, admin_key):
    _one_of_each(practice_a)
    make_contact(
        practice_a,
        first_name="Ana",
        last_name="Error",
        hint_patient_id="pat-x",
        hint_write_state="failed",
    )
    page = _list(client, admin_key, state="error").content.decode()
    assert "Er Nunez" in page and "Ana Error" in page
    assert "Sy Nunez" not in page and "Wa Nunez" not in page and "No Nunez" not in page
    assert "Saved here · not accepted by Hint" in page
    assert 'value="error" selected' in page
    searched = _list(client, admin_key, state="error", q="erro").content.decode()
    assert "Ana Error" in searched and "Er Nunez" not in searched
    unlinked = _list(client, admin_key, state="not_linked").content.decode()
    assert "No Nunez" in unlinked and "Not linked to a Hint patient" in unlinked
    assert "Sy Nunez" not in unlinked


def test_an_unknown_state_shows_every_contact(client, practice_a, staff_key):
    _one_of_each(practice_a)
    response = _list(client, staff_key, state="<b>nope</b>")
    assert response.status_code == 200
    assert response.content.decode().count("Nunez") == 4


def test_pages_keep_the_state_filter(client, practice_a, admin_key):
    for i in range(30):
        make_contact(
            practice_a, first_name=f"W{i:02d}", hint_patient_id=f"p{i}", hint_write_state="waiting"
        )
    make_contact(practice_a, first_name="Zed")
    first = _list(client, admin_key, state="waiting").content.decode()
    assert "state=waiting&amp;page=2" in first
    second = _list(client, admin_key, state="waiting", page="2").content.decode()
    assert second.count("Saved here · waiting to reach Hint") == 5
    assert "Zed" not in second


def test_admins_see_each_contacts_id_and_last_batch_and_staff_do_not(
    client, practice_a, admin_key, staff_key
):
    contact = make_contact(practice_a, hint_patient_id="pat-1")
    old = Batch.objects.create(practice=practice_a, sync_id="BS-OLD", kind="contacts_to_patients")
    new = Batch.objects.create(practice=practice_a, sync_id="BS-NEW", kind="contacts_to_patients")
    aborted = Batch.objects.create(practice=practice_a, sync_id="BS-ABORTED", kind="x")
    for batch, outcome in ((old, "linked"), (new, "skipped_linked"), (aborted, "pending")):
        BatchRow.objects.create(
            practice=practice_a, batch=batch, position=1, contact=contact, outcome=outcome
        )
    page = _list(client, admin_key).content.decode()
    assert f'<small class="id">{contact.pk}</small>' in page
    # The last batch that handled it; one that listed it but never reached it does not count.
    assert "BS-NEW" in page and "BS-OLD" not in page and "BS-ABORTED" not in page
    assert reverse("sync:batch-detail", args=[new.pk]) in page
    staff_page = _list(client, staff_key).content.decode()
    assert "Nunez" in staff_page
    assert "BS-NEW" not in staff_page and "Contact id" not in staff_page


def test_the_last_batches_of_a_page_take_one_query_however_many_contacts(
    client, practice_a, admin_key
):
    def queries_for_the_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert _list(client, admin_key).status_code == 200
        return len(captured)

    batch = Batch.objects.create(practice=practice_a, sync_id="BS-1", kind="x")
    first = make_contact(practice_a, first_name="A0")
    BatchRow.objects.create(
        practice=practice_a, batch=batch, position=0, contact=first, outcome="linked"
    )
    one = queries_for_the_list()
    for i in range(1, 25):
        contact = make_contact(practice_a, first_name=f"A{i}")
        BatchRow.objects.create(
            practice=practice_a, batch=batch, position=i, contact=contact, outcome="linked"
        )
    assert queries_for_the_list() == one


def test_the_list_shows_no_other_practices_contacts_in_any_state(
    client, practice_a, practice_b, admin_key
):
    _one_of_each(practice_b)
    batch = Batch.objects.create(practice=practice_b, sync_id="BS-B", kind="x")
    mine = make_contact(practice_a, first_name="Mine")
    # A row of practice B naming practice A's contact (it cannot happen; it must not show).
    BatchRow.objects.create(
        practice=practice_b, batch=batch, position=1, contact=mine, outcome="linked"
    )
    for state in ["", *contact_state.BY_KEY]:
        page = _list(client, admin_key, state=state).content.decode()
        assert "Sy Nunez" not in page and "No Nunez" not in page and "BS-B" not in page


def test_a_linked_contacts_page_links_to_the_patients_chart_in_hints_window(
    client, practice_a, staff_key
):
    Patient.objects.create(
        practice=practice_a,
        hint_id="pat-9",
        provider_web_link="https://app.hint.test/patients/pat-9",
    )
    contact = make_contact(practice_a, hint_patient_id="pat-9")
    unlinked = make_contact(practice_a, first_name="Un")
    page = client.get(
        reverse("sync:contact-detail", args=[contact.pk]), {"session_key": staff_key}
    ).content.decode()
    assert (
        '<a class="button secondary" href="https://app.hint.test/patients/pat-9" target="_top" '
        'rel="noopener">Open the chart in Hint</a>'
    ) in page
    other = client.get(
        reverse("sync:contact-detail", args=[unlinked.pk]), {"session_key": staff_key}
    ).content.decode()
    assert "Open the chart in Hint" not in other


def test_no_chart_link_for_a_patient_deleted_in_hint_or_of_another_practice(
    client, practice_a, practice_b, staff_key
):
    Patient.objects.create(
        practice=practice_b, hint_id="pat-b", provider_web_link="https://b.test/"
    )
    Patient.objects.create(
        practice=practice_a,
        hint_id="pat-gone",
        provider_web_link="https://a.test/",
        destroyed_at="2026-01-01T00:00:00Z",
    )
    for pid in ("pat-b", "pat-gone"):
        contact = make_contact(practice_a, first_name=pid, hint_patient_id=pid)
        page = client.get(
            reverse("sync:contact-detail", args=[contact.pk]), {"session_key": staff_key}
        ).content.decode()
        assert "Open the chart in Hint" not in page


def test_the_patients_page_links_to_its_chart_in_hints_window(client, practice_a, staff_key):
    patient = Patient.objects.create(
        practice=practice_a, hint_id="pat-3", provider_web_link="https://app.hint.test/p/3"
    )
    page = client.get(
        reverse("sync:patient", args=[patient.pk]), {"session_key": staff_key}
    ).content.decode()
    assert 'href="https://app.hint.test/p/3" target="_top" rel="noopener"' in page


def test_the_detail_and_the_status_use_the_one_state(client, practice_a, staff_key):
    contact = make_contact(
        practice_a,
        hint_patient_id="pat-1",
        hint_write_state="failed",
        hint_write_error="Hint refused the change: email.",
    )
    for name in ("sync:contact-detail", "sync:contact-status"):
        page = client.get(
            reverse(name, args=[contact.pk]), {"session_key": staff_key}
        ).content.decode()
        assert '<span class="badge error">Saved here · not accepted by Hint</span>' in page
        assert "Hint refused the change: email." in page
