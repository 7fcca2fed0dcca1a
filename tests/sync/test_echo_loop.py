"""Our own change, echoed back by a webhook, changes nothing and starts no loop."""

import json

from handshake.audit import Actor
from sync import contact_writes, contacts, inbound
from sync.mirror import patient_apply
from sync.models import Contact
from tests.sync.helpers import make_contact, patient_json


def test_the_echo_of_our_own_push_changes_nothing_and_sends_nothing(
    practice_a, mocked_hint, hint_url
):
    contact = make_contact(practice_a, hint_patient_id="pat-100")
    mirrored = patient_apply(practice=practice_a, data=patient_json(last_name="Nunez"))
    inbound.patient_changed(patient=mirrored.patient, created=False)  # contact equals the patient
    contact.refresh_from_db()
    answer = patient_json(
        last_name="Nunez", address_city="Shelbyville", updated_at="2024-03-01T00:00:00Z"
    )
    mocked_hint.patch(f"{hint_url}/api/provider/patients/pat-100", json=answer)

    contacts.contact_update(contact=contact, values={"city": "Shelbyville"}, actor=Actor(label="A"))
    assert contact_writes.contact_write_send(contact=contact) == "synced"
    assert len(mocked_hint.calls) == 1
    before = Contact.objects.get(pk=contact.pk).updated_at

    # Hint echoes our change in a webhook (a newer event, same values).
    echo = dict(answer, updated_at="2024-03-01T00:00:01Z")
    result = patient_apply(practice=practice_a, data=echo)
    inbound.patient_changed(patient=result.patient, created=False)

    assert Contact.objects.get(pk=contact.pk).updated_at == before  # not even re-saved
    assert len(mocked_hint.calls) == 1  # and nothing was pushed back


def test_the_answer_of_our_push_is_mirrored_so_a_late_older_webhook_is_ignored(
    practice_a, mocked_hint, hint_url
):
    contact = make_contact(practice_a, hint_patient_id="pat-100", city="Old")
    patient_apply(practice=practice_a, data=patient_json(address_city="Old"))
    answer = patient_json(address_city="New", updated_at="2024-03-01T00:00:00Z")
    mocked_hint.patch(f"{hint_url}/api/provider/patients/pat-100", json=answer)

    contacts.contact_update(contact=contact, values={"city": "New"}, actor=Actor(label="A"))
    contact_writes.contact_write_send(contact=contact)
    late = patient_apply(practice=practice_a, data=patient_json(address_city="Old"))

    assert late.changed is False  # the webhooks side never calls patient_changed for it
    contact.refresh_from_db()
    assert contact.city == "New"
    assert json.loads(mocked_hint.calls[0].request.body) == {"address_city": "New"}


def test_an_event_from_hint_while_our_write_is_owed_never_overwrites_the_owed_fields(
    practice_a, mocked_hint, hint_url
):
    contact = make_contact(practice_a, hint_patient_id="pat-100", city="Old", email="a@x.test")
    patient_apply(practice=practice_a, data=patient_json(address_city="Old", email="a@x.test"))
    contacts.contact_update(contact=contact, values={"city": "Ours"}, actor=Actor(label="A"))

    # Hint changes the patient (city and email) before our write reached it.
    theirs = patient_json(
        address_city="Theirs", email="b@x.test", updated_at="2024-03-01T00:00:00Z"
    )
    inbound.patient_changed(
        patient=patient_apply(practice=practice_a, data=theirs).patient, created=False
    )

    contact.refresh_from_db()
    assert contact.city == "Ours"  # owed: kept
    assert contact.email == "b@x.test"  # not owed: patient wins
    assert contact.hint_status == "waiting"

    # Our write lands: Hint's answer is mirrored and applied to what is no longer owed.
    answer = dict(theirs, address_city="Ours", updated_at="2024-03-01T00:00:05Z")
    mocked_hint.patch(f"{hint_url}/api/provider/patients/pat-100", json=answer)
    assert contact_writes.contact_write_send(contact=contact) == "synced"
    assert json.loads(mocked_hint.calls[0].request.body) == {"address_city": "Ours"}
    contact.refresh_from_db()
    assert (contact.city, contact.email, contact.hint_owed_fields) == ("Ours", "b@x.test", [])
