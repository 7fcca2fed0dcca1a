"""Street lines: Hint names them `address_line1` (its API description) or `address_line_1` (the
go-hint client). We read both, and write the names the practice's Hint returned, remembered per
practice, so an address never syncs blank."""

import json
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from handshake.address_shape import practice_address_shape, practice_address_shape_learn
from handshake.audit import Actor
from handshake.models import Practice
from sync import batch_control, contact_writes, contacts, fieldmap
from sync.mirror import patient_apply
from sync.outbound import link_body
from tests.sync.helpers import make_contact, patient_json
from tests.sync.test_batches_patients import _patches, _patient, _serve

pytestmark = pytest.mark.django_db
ANN = Actor(label="Ann")


def _go_hint(**overrides) -> dict:
    """A patient as a Hint answering in go-hint's names returns it."""
    data = patient_json(**overrides)
    data["address_line_1"] = data.pop("address_line1")
    data["address_line_2"] = data.pop("address_line2")
    return data


# --- reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "patient",
    [
        {"address_line1": "1 Main St", "address_line2": "Apt 2"},
        {"address_line_1": "1 Main St", "address_line_2": "Apt 2"},
    ],
    ids=["address_line1", "address_line_1"],
)
def test_both_shapes_are_read_into_the_contacts_street_lines(patient):
    values = fieldmap.patient_values(patient)

    assert values["address_line1"] == "1 Main St"
    assert values["address_line2"] == "Apt 2"


def test_a_patient_read_teaches_the_practice_its_shape_and_only_that_practice(
    practice_a, practice_b
):
    patient_apply(practice=practice_a, data=_go_hint(id="pat-1"))

    practice_a.refresh_from_db()
    practice_b.refresh_from_db()
    assert practice_a.address_shape == "address_line_1"
    assert practice_address_shape(practice_b) == "address_line1"  # never read: Hint's documented


def test_reading_patients_of_a_known_shape_writes_nothing_to_the_practice(practice_a):
    patient_apply(practice=practice_a, data=_go_hint(id="pat-1"))

    with CaptureQueriesContext(connection) as queries:
        patient_apply(practice=practice_a, data=_go_hint(id="pat-2"))

    practice_writes = [
        q for q in queries if "UPDATE" in q["sql"] and "handshake_practice" in q["sql"]
    ]
    assert practice_writes == []


def test_a_patient_without_street_lines_changes_nothing(practice_a):
    practice_a.address_shape = "address_line_1"
    practice_a.save()

    assert practice_address_shape_learn(practice=practice_a, patient={"id": "pat-1"}) == ""
    practice_a.refresh_from_db()
    assert practice_a.address_shape == "address_line_1"


# --- writing ----------------------------------------------------------------------------------

VALUES = {"address_line1": "9 Elm St", "address_line2": "Unit 4", "city": "Springfield"}


def test_the_payload_uses_hints_documented_names_by_default():
    body = fieldmap.patient_payload(VALUES)

    assert body["address_line1"] == "9 Elm St" and body["address_line2"] == "Unit 4"
    assert "address_line_1" not in body


def test_the_payload_uses_the_practices_remembered_shape():
    body = fieldmap.patient_payload(VALUES, address_shape="address_line_1")

    assert body["address_line_1"] == "9 Elm St" and body["address_line_2"] == "Unit 4"
    assert "address_line1" not in body and body["address_city"] == "Springfield"


def test_the_patient_in_hand_decides_over_the_remembered_shape():
    body = fieldmap.patient_payload(
        VALUES, patient={"address_line_1": "old"}, address_shape="address_line1"
    )

    assert "address_line_1" in body and "address_line1" not in body


@pytest.mark.parametrize("shape", ["address_line1", "address_line_1"])
def test_an_owed_contact_write_sends_the_practices_shape(
    practice_a, mocked_hint, hint_url, django_capture_on_commit_callbacks, shape
):
    practice_a.address_shape = shape
    practice_a.save()
    contact = make_contact(practice_a, hint_patient_id="pat-100")
    contacts.contact_update(
        contact=contact,
        values={
            "first_name": "Ana",
            "last_name": "Nunez",
            "dob": "1980-04-02",
            "email": "ana@example.test",
            "address_line1": "9 Elm St",
        },
        actor=ANN,
    )
    mocked_hint.patch(f"{hint_url}/api/provider/patients/pat-100", json={"id": "pat-100"})

    with django_capture_on_commit_callbacks(execute=True):
        assert contact_writes.contact_writes_dispatch() == 1

    assert json.loads(mocked_hint.calls[0].request.body) == {shape: "9 Elm St"}


def test_creating_a_patient_sends_the_practices_shape(practice_a, mocked_hint, hint_url):
    practice_a.address_shape = "address_line_1"
    practice_a.save()
    contact = make_contact(practice_a, address_line1="9 Elm St")
    mocked_hint.post(f"{hint_url}/api/provider/patients", json=_go_hint(id="pat-new"), status=201)
    mocked_hint.patch(f"{hint_url}/api/provider/patients/pat-new", json=_go_hint(id="pat-new"))

    contacts.patient_create_from_contact(contact=contact, actor=ANN, token="practice-a-token")

    sent = json.loads(mocked_hint.calls[0].request.body)
    assert sent["address_line_1"] == "9 Elm St" and "address_line1" not in sent


def test_a_new_links_body_takes_the_shape_given_by_the_batch(practice_a):
    contact = make_contact(practice_a)

    body = link_body(contact, {"address_line2": "Unit 4"}, None, address_shape="address_line_1")

    assert body["address_line_2"] == "Unit 4"


def test_a_batch_learns_the_shape_from_its_page_and_writes_it(practice_a, mocked_hint, hint_url):
    contact = make_contact(
        practice_a,
        first_name="First1",
        last_name="Last1",
        dob=date(1990, 1, 1),
        address_line1="9 Elm St",
    )
    _serve(mocked_hint, hint_url, [_patient(1, address_line_1="", address_line_2="")])
    batch = batch_control.batch_start_patients(practice=practice_a, actor=ANN)

    batch_control.batch_run(batch_id=batch.pk)

    body = json.loads(_patches(mocked_hint)[0].request.body)
    assert body["address_line_1"] == "9 Elm St" and "address_line1" not in body
    assert body["integration_record_id"] == str(contact.pk)
    assert Practice.objects.get(pk=practice_a.pk).address_shape == "address_line_1"
