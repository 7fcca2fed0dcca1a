import json

import pytest
import responses

from handshake.audit import Actor
from sync import contact_writes, contacts, inbound
from sync.contacts import SyncError
from sync.models import Contact, Patient, SyncLog
from sync.options import options_for, sync_log_write
from tests.sync.helpers import make_contact, patient_json

TOKEN = "session-token"
# What a patient that loses its link to us loses in Hint.
CLEARED = {"integration_record_id": "", "integration_web_link": "", "integration_error_message": ""}


def _patients(hint_url, pid="pat-100"):
    return f"{hint_url}/api/provider/patients/{pid}"


def _sent(call):
    return json.loads(call.request.body)


def test_linking_merges_with_the_contact_winning_and_writes_our_integration_fields(
    practice_a, mocked_hint, hint_url
):
    contact = make_contact(practice_a, email="new@x.test", city="")
    mocked_hint.get(_patients(hint_url), json=patient_json())
    mocked_hint.patch(_patients(hint_url), json=patient_json(email="new@x.test"))

    contacts.contact_link(
        contact=contact, patient_id="pat-100", actor=Actor(label="Ann"), token=TOKEN
    )

    contact.refresh_from_db()
    assert contact.hint_patient_id == "pat-100"
    assert contact.synced_to_hint is True
    assert contact.city == "Springfield"  # blank here: filled from Hint
    assert contact.email == "new@x.test"  # both set: contact wins
    assert contact.insurance_payer == "Acme Health"  # Hint-only, copied
    body = _sent(mocked_hint.calls[1])
    assert body["email"] == "new@x.test"
    assert body["last_name"] == "Nunez"
    assert body["integration_record_id"] == str(contact.pk)
    assert body["integration_web_link"] == f"https://partner.test/hint/sync/contacts/{contact.pk}"
    assert "city" not in body
    assert mocked_hint.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_linking_to_another_patient_unlinks_the_previous_one_on_both_sides(
    practice_a, mocked_hint, hint_url
):
    contact = make_contact(practice_a, hint_patient_id="pat-old")
    mocked_hint.get(_patients(hint_url), json=patient_json())
    mocked_hint.patch(_patients(hint_url), json=patient_json())
    mocked_hint.patch(_patients(hint_url, "pat-old"), json={"id": "pat-old"})

    contacts.contact_link(
        contact=contact, patient_id="pat-100", actor=Actor(label="Ann"), token=TOKEN
    )

    contact.refresh_from_db()
    assert contact.hint_patient_id == "pat-100"
    cleared = _sent(mocked_hint.calls[2])
    assert cleared == CLEARED


def test_linking_a_patient_linked_to_another_contact_moves_the_link(
    practice_a, mocked_hint, hint_url
):
    first = make_contact(
        practice_a, first_name="Other", hint_patient_id="pat-100", insurance_payer="Acme Health"
    )
    contact = make_contact(practice_a)
    mocked_hint.get(_patients(hint_url), json=patient_json())
    mocked_hint.patch(_patients(hint_url), json=patient_json())

    contacts.contact_link(
        contact=contact, patient_id="pat-100", actor=Actor(label="Ann"), token=TOKEN
    )

    first.refresh_from_db()
    assert first.hint_patient_id == "" and first.insurance_payer == ""
    assert first.first_name == "Other"
    assert Contact.objects.get(hint_patient_id="pat-100") == contact


def test_a_refused_link_changes_nothing_here_and_logs_an_error(practice_a, mocked_hint, hint_url):
    contact = make_contact(practice_a)
    mocked_hint.get(_patients(hint_url), json=patient_json())
    mocked_hint.patch(
        _patients(hint_url), status=422, json={"message": "Validation failed: Email is invalid"}
    )

    with pytest.raises(SyncError, match="Email is invalid"):
        contacts.contact_link(
            contact=contact, patient_id="pat-100", actor=Actor(label="Ann"), token=TOKEN
        )

    contact.refresh_from_db()
    assert contact.hint_patient_id == ""
    assert contact.city == ""
    assert SyncLog.objects.filter(level="error").count() == 1


def test_unlinking_removes_the_link_on_both_sides_and_keeps_both_records(
    practice_a, mocked_hint, hint_url
):
    contact = make_contact(
        practice_a,
        hint_patient_id="pat-100",
        insurance_payer="Acme Health",
        hipaa_authorization_accepted=True,
    )
    mocked_hint.patch(_patients(hint_url), json={"id": "pat-100"})

    done = contacts.contact_unlink(contact=contact, actor=Actor(label="Ann"), token=TOKEN)

    contact.refresh_from_db()
    assert done.patient_id == "pat-100" and done.cleared_in_hint
    assert contact.hint_patient_id == "" and contact.synced_to_hint is False
    assert contact.first_name == "Ana" and contact.email == "ana@example.test"  # its own details
    # The copies of that patient's Hint-only fields go with the link.
    assert contact.insurance_payer == "" and contact.hipaa_authorization_accepted is None
    assert _sent(mocked_hint.calls[0]) == CLEARED
    assert mocked_hint.calls[0].request.method == "PATCH"


def test_an_unlink_hint_refuses_is_done_here_and_says_hint_still_shows_it(
    practice_a, mocked_hint, hint_url
):
    contact = make_contact(practice_a, hint_patient_id="pat-100")
    mocked_hint.patch(_patients(hint_url), status=422, json={"message": "Validation failed"})

    done = contacts.contact_unlink(contact=contact, actor=Actor(label="Ann"), token=TOKEN)

    contact.refresh_from_db()
    assert contact.hint_patient_id == "" and not done.cleared_in_hint
    assert SyncLog.objects.filter(level="error", patient_id="pat-100").exists()


def test_creating_the_patient_in_hint_sends_the_contact_and_links_it(
    practice_a, mocked_hint, hint_url
):
    contact = make_contact(practice_a, mobile_phone="555-0300")
    mocked_hint.post(
        f"{hint_url}/api/provider/patients",
        json=patient_json(id="pat-new", last_name="Nunez", insurance_payer=None),
    )

    contacts.patient_create_from_contact(contact=contact, actor=Actor(label="Ann"), token=TOKEN)

    body = _sent(mocked_hint.calls[0])
    assert body["first_name"] == "Ana" and body["last_name"] == "Nunez"
    assert body["dob"] == "1980-04-02"
    assert body["phones"] == [{"type": "mobile", "number": "555-0300", "us_formattable": False}]
    assert body["integration_record_id"] == str(contact.pk)
    assert "middle_name" not in body  # blanks are not sent
    contact.refresh_from_db()
    assert contact.hint_patient_id == "pat-new"
    assert Patient.objects.filter(hint_id="pat-new").exists()


def test_creating_a_patient_needs_a_first_and_last_name(practice_a, mocked_hint):
    contact = make_contact(practice_a, last_name="")
    with pytest.raises(SyncError, match="first and a last name"):
        contacts.patient_create_from_contact(contact=contact, actor=Actor(label="Ann"), token=TOKEN)
    assert len(mocked_hint.calls) == 0


def test_editing_an_unlinked_contact_calls_nobody_and_owes_nothing(practice_a, mocked_hint):
    contact = make_contact(practice_a)
    contacts.contact_update(contact=contact, values={"city": "X"}, actor=Actor(label="Ann"))
    contact.refresh_from_db()
    assert contact.city == "X" and contact.hint_status == "unlinked"
    assert contact.hint_owed_fields == []
    assert len(mocked_hint.calls) == 0


def _new(**overrides):
    """A patient Hint created just now (a new patient, not the backlog)."""
    from django.utils import timezone

    return patient_json(created_at=timezone.now().isoformat(), **overrides)


def _mirror(practice, data):
    from sync.mirror import patient_apply

    return patient_apply(practice=practice, data=data).patient


def test_a_linked_patients_update_in_hint_updates_the_contact_patient_wins(practice_a, mocked_hint):
    contact = make_contact(practice_a, hint_patient_id="pat-100", city="Old town")
    patient = _mirror(practice_a, patient_json(address_city="Springfield", email=""))

    inbound.patient_changed(patient=patient, created=False)

    contact.refresh_from_db()
    assert contact.city == "Springfield"
    assert contact.email == ""  # cleared in Hint: cleared here
    assert contact.practitioner_name == "Dr. Who"
    assert len(mocked_hint.calls) == 0


@responses.activate
def test_a_new_patient_with_the_option_on_links_its_single_unlinked_match(
    practice_a, hint_url, django_capture_on_commit_callbacks
):
    options_for(practice_a).__class__.objects.filter(practice=practice_a).update(
        create_contacts_for_new_patients=True
    )
    contact = make_contact(practice_a, first_name="ANA", last_name="Núñez", office_phone="555-9")
    make_contact(practice_a, first_name="Ana", last_name="Nunez", hint_patient_id="pat-999")
    responses.patch(f"{hint_url}/api/provider/patients/pat-100", json=patient_json())

    patient = _mirror(practice_a, _new())
    inbound.patient_changed(patient=patient, created=True)
    contact.refresh_from_db()
    assert contact.hint_patient_id == "pat-100"
    assert contact.first_name == "Ana"  # patient wins
    assert contact.hint_status == "waiting" and contact.hint_link_owed  # sent by the worker

    with django_capture_on_commit_callbacks(execute=True):
        assert contact_writes.contact_writes_dispatch() == 1

    contact.refresh_from_db()
    assert contact.hint_status == "synced"
    body = json.loads(responses.calls[0].request.body)
    assert body["integration_record_id"] == str(contact.pk)
    assert {"type": "office", "number": "555-9", "us_formattable": False} in body[
        "phones"
    ]  # filled into Hint


@responses.activate
def test_a_new_patient_without_a_match_gets_a_new_contact_when_the_option_is_on(
    practice_a, hint_url, django_capture_on_commit_callbacks
):
    options = options_for(practice_a)
    options.create_contacts_for_new_patients = True
    options.save()
    responses.patch(f"{hint_url}/api/provider/patients/pat-100", json=patient_json())

    inbound.patient_changed(patient=_mirror(practice_a, _new()), created=True)
    with django_capture_on_commit_callbacks(execute=True):
        contact_writes.contact_writes_dispatch()

    contact = Contact.objects.get(hint_patient_id="pat-100")
    assert contact.hint_status == "synced"
    assert contact.last_name == "Núñez" and contact.insurance_payer == "Acme Health"
    assert json.loads(responses.calls[0].request.body)["integration_record_id"] == str(contact.pk)


def test_a_new_patient_with_the_option_off_creates_nothing(practice_a, mocked_hint):
    inbound.patient_changed(patient=_mirror(practice_a, _new()), created=True)
    assert not Contact.objects.exists()


def test_a_new_patient_matching_several_contacts_links_none_and_logs_it(practice_a, mocked_hint):
    options = options_for(practice_a)
    options.create_contacts_for_new_patients = True
    options.save()
    make_contact(practice_a)
    make_contact(practice_a)

    inbound.patient_changed(patient=_mirror(practice_a, _new()), created=True)

    assert not Contact.objects.linked().exists()
    assert SyncLog.objects.filter(level="error", patient_id="pat-100").exists()


def test_an_update_of_an_unlinked_existing_patient_does_not_create_a_contact(
    practice_a, mocked_hint
):
    options = options_for(practice_a)
    options.create_contacts_for_new_patients = True
    options.save()
    inbound.patient_changed(patient=_mirror(practice_a, patient_json()), created=False)
    assert not Contact.objects.exists()


def test_services_never_touch_another_practices_contacts(practice_a, practice_b, mocked_hint):
    theirs = make_contact(practice_b, hint_patient_id="pat-100", city="B town")
    inbound.patient_changed(patient=_mirror(practice_a, patient_json()), created=False)
    theirs.refresh_from_db()
    assert theirs.city == "B town"


def test_debug_entries_are_kept_only_when_the_log_level_is_debug(practice_a):
    sync_log_write(practice=practice_a, level="debug", message="quiet")
    assert not SyncLog.objects.exists()
    options = options_for(practice_a)
    options.log_level = "debug"
    options.save()
    sync_log_write(practice=practice_a, level="debug", message="loud")
    assert SyncLog.objects.get().message == "loud"


def test_a_backfilled_old_patient_is_not_a_new_patient(practice_a, mocked_hint):
    options = options_for(practice_a)
    options.create_contacts_for_new_patients = True
    options.save()
    old = _mirror(practice_a, patient_json(created_at="2020-01-01T00:00:00Z"))
    inbound.patient_changed(patient=old, created=True)  # first seen by a backfill
    assert not Contact.objects.exists()
