"""Contact pages: list with live search, create, edit, detail, Sync to Hint, unlink."""

from django.urls import reverse

from handshake.models import AuditEntry
from sync.mirror import patient_apply
from sync.models import Contact
from tests.sync.helpers import make_contact, patient_json


def _get(client, name, key, *args, **params):
    return client.get(reverse(name, args=args), {"session_key": key, **params})


def _post(client, name, key, *args, **data):
    return client.post(reverse(name, args=args), {"session_key": key, **data})


def test_the_list_shows_the_practices_contacts_and_their_hint_status(
    client, practice_a, practice_b, staff_key
):
    make_contact(practice_a, first_name="Ana", hint_patient_id="pat-1")
    make_contact(practice_a, first_name="Bo", last_name="Berg")
    make_contact(practice_b, first_name="Secret", last_name="Other")
    page = _get(client, "sync:contacts", staff_key).content.decode()
    assert "Ana Nunez" in page and "Bo Berg" in page
    assert "Synced to Hint" in page
    assert "Secret" not in page


def test_live_search_answers_only_the_rows(client, practice_a, staff_key):
    make_contact(practice_a, first_name="Ana")
    make_contact(practice_a, first_name="Bo", last_name="Berg")
    response = client.get(
        reverse("sync:contacts"),
        {"q": "ber"},
        HTTP_X_HINT_SESSION_KEY=staff_key,
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert "Bo Berg" in body and "Ana" not in body
    assert "<html" not in body


def test_creating_a_contact_saves_it_and_audits_it(client, practice_a, staff_key):
    response = _post(
        client,
        "sync:contact-create",
        staff_key,
        first_name="Cy",
        last_name="Cole",
        dob="1970-02-03",
    )
    contact = Contact.objects.get(last_name="Cole")
    assert response.status_code == 303
    assert contact.practice == practice_a and contact.dob.isoformat() == "1970-02-03"
    assert AuditEntry.objects.filter(action="contact.created", target_id=str(contact.pk)).exists()


def test_a_contact_without_any_name_is_refused_and_nothing_saved(client, practice_a, staff_key):
    response = _post(client, "sync:contact-create", staff_key, email="x@y.test", dob="not a date")
    assert response.status_code == 400
    assert "at least a first or a last name" in response.content.decode()
    assert not Contact.objects.exists()


def test_the_detail_shows_the_link_and_hint_only_fields_read_only_and_is_audited(
    client, practice_a, staff_key
):
    contact = make_contact(practice_a, hint_patient_id="pat-77", insurance_payer="Acme Health")
    page = _get(client, "sync:contact-detail", staff_key, contact.pk).content.decode()
    # The id is for admins talking to Hint, not for staff.
    assert "Synced to Hint" in page and "pat-77" not in page
    assert "Acme Health" in page and "read-only" in page
    assert "Unlink" not in page  # staff cannot unlink
    assert AuditEntry.objects.filter(action="contact.viewed", target_id=str(contact.pk)).exists()


def test_a_contact_whose_patient_was_deleted_in_hint_says_so(client, practice_a, staff_key):
    contact = make_contact(practice_a, hint_patient_id="pat-gone")
    patient_apply(practice=practice_a, data=patient_json(id="pat-gone"))
    before = _get(client, "sync:contact-detail", staff_key, contact.pk).content.decode()
    assert "deleted in Hint" not in before
    patient_apply(practice=practice_a, data={"id": "pat-gone"}, kind="destroyed")
    after = _get(client, "sync:contact-detail", staff_key, contact.pk).content.decode()
    assert "The linked patient was deleted in Hint" in after


def test_hint_only_fields_cannot_be_changed_through_the_form(client, practice_a, staff_key):
    contact = make_contact(practice_a, insurance_payer="Acme")
    _post(
        client,
        "sync:contact-edit",
        staff_key,
        contact.pk,
        first_name="Ana",
        last_name="Nunez",
        insurance_payer="Evil",
    )
    contact.refresh_from_db()
    assert contact.insurance_payer == "Acme"


def test_the_sync_page_is_prefilled_and_searches_hint_with_the_session_token(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    contact = make_contact(practice_a)
    page = _get(client, "sync:contact-sync", staff_key, contact.pk).content.decode()
    assert 'value="Ana Nunez"' in page
    mocked_hint.get(f"{hint_url}/api/provider/patients", json=[patient_json()])
    results = _get(client, "sync:contact-sync-search", staff_key, contact.pk, q="Ana Nunez")
    assert "Apr 2, 1980" in results.content.decode()
    request = mocked_hint.calls[0].request
    assert "first_name=Ana" in request.url and "last_name=Nunez" in request.url
    assert request.headers["Authorization"].startswith("Bearer session-token-")


def test_a_failed_hint_search_says_so_without_an_error_page(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    contact = make_contact(practice_a)
    mocked_hint.get(f"{hint_url}/api/provider/patients", status=503)
    response = _get(client, "sync:contact-sync-search", staff_key, contact.pk, q="Ana")
    assert response.status_code == 200
    assert "Hint did not answer" in response.content.decode()


def test_a_half_typed_name_finds_the_patient_through_the_mirror(
    client, practice_a, practice_b, staff_key, mocked_hint, hint_url
):
    contact = make_contact(practice_a)
    patient_apply(practice=practice_a, data=patient_json(id="pat-mirror"))
    patient_apply(practice=practice_b, data=patient_json(id="pat-other-practice"))
    # Hint's exact name filter knows no "Nu": only the mirror's prefix search can answer.
    mocked_hint.get(f"{hint_url}/api/provider/patients", json=[])
    response = _get(client, "sync:contact-sync-search", staff_key, contact.pk, q="Ana Nu")
    page = response.content.decode()
    assert 'value="pat-mirror"' in page
    assert "pat-other-practice" not in page


def test_hints_own_answer_comes_first_and_is_not_repeated(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    contact = make_contact(practice_a)
    patient_apply(practice=practice_a, data=patient_json(id="pat-100"))
    mocked_hint.get(f"{hint_url}/api/provider/patients", json=[patient_json(id="pat-100")])
    page = _get(
        client, "sync:contact-sync-search", staff_key, contact.pk, q="Ana Nunez"
    ).content.decode()
    assert page.count('value="pat-100"') == 1


def test_linking_to_another_practices_patient_writes_nothing_anywhere(
    client, practice_a, practice_b, staff_key, mocked_hint, hint_url
):
    # Hint answers for the practice whose token asks: another practice's patient is not found,
    # and that refusal comes before any write, here or in Hint.
    patient_apply(practice=practice_b, data=patient_json(id="pat-OfB"))
    contact = make_contact(practice_a)
    mocked_hint.get(f"{hint_url}/api/provider/patients/pat-OfB", status=404, json={})
    response = _post(client, "sync:contact-link", staff_key, contact.pk, patient_id="pat-OfB")
    assert response.status_code == 400
    contact.refresh_from_db()
    assert contact.hint_patient_id == ""
    assert [c.request.method for c in mocked_hint.calls] == ["GET"]
    assert not AuditEntry.objects.filter(action="contact.linked").exists()


def test_linking_without_choosing_a_patient_is_a_400(client, practice_a, staff_key, mocked_hint):
    contact = make_contact(practice_a)
    response = _post(client, "sync:contact-link", staff_key, contact.pk)
    assert response.status_code == 400
    assert "Choose a patient" in response.content.decode()


def test_a_refused_link_shows_hints_reason_and_changes_nothing(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    contact = make_contact(practice_a)
    mocked_hint.get(f"{hint_url}/api/provider/patients/pat-9", status=404)
    response = _post(client, "sync:contact-link", staff_key, contact.pk, patient_id="pat-9")
    assert response.status_code == 400
    assert "Hint no longer has this patient" in response.content.decode()
    contact.refresh_from_db()
    assert contact.hint_patient_id == ""


def test_a_clinician_unlinks_both_sides_and_it_is_audited(
    client, practice_a, clinician_key, mocked_hint, hint_url
):
    contact = make_contact(practice_a, hint_patient_id="pat-100")
    mocked_hint.patch(f"{hint_url}/api/provider/patients/pat-100", json={"id": "pat-100"})
    response = _post(client, "sync:contact-unlink", clinician_key, contact.pk)
    assert response.status_code == 303
    contact.refresh_from_db()
    assert contact.hint_patient_id == "" and Contact.objects.filter(pk=contact.pk).exists()
    assert AuditEntry.objects.filter(action="contact.unlinked", target_id=str(contact.pk)).exists()


def test_the_core_page_panel_offers_contact_search(client, practice_a, staff_key):
    body = _get(client, "sync:contacts-panel", staff_key).content.decode()
    assert "Find a contact" in body
