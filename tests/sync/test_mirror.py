"""The Patient mirror ends in Hint's latest state whatever order events arrive in."""

import itertools
from datetime import datetime

import pytest
from django.test import Client

from handshake.models import Practice
from sync import mirror
from sync.models import Patient
from tests.webhooks.conftest import deliver_and_dispatch, load_event, patient_event

pytestmark = pytest.mark.django_db

T1 = "2026-05-26T14:00:00Z"
T2 = "2026-05-26T15:00:00Z"
T3 = "2026-05-26T16:00:00Z"


def _patient(practice: Practice) -> Patient:
    return Patient.objects.for_practice(practice).get(hint_id="pat-8Hs2LwQ4")


def test_it_keeps_the_whole_object_and_the_columns_for_lists(practice_a: Practice) -> None:
    data = load_event("patient_created")["object"]
    result = mirror.patient_apply(practice=practice_a, data=data)
    patient = result.patient
    assert result.changed and result.created
    assert (patient.first_name, patient.last_name) == ("Zoë", "O'Brien-Smith")
    assert (patient.first_name_key, patient.last_name_key) == ("zoe", "obriensmith")
    assert patient.email_key == "zoe.obrien@example.com"
    assert str(patient.dob) == "1984-03-09"
    assert patient.phone == "555-0199"  # the mobile number first
    assert patient.practitioner_name == "Dr. Ada Lovelace"
    assert patient.provider_web_link.startswith("https://app.hint.com/")
    assert patient.data["address_city"] == "Austin"
    assert patient.hint_updated_at == datetime.fromisoformat("2026-05-26T14:22:59+00:00")


def test_an_older_update_changes_nothing(practice_a: Practice) -> None:
    data = load_event("patient_created")["object"]
    mirror.patient_apply(practice=practice_a, data={**data, "updated_at": T2, "last_name": "New"})
    result = mirror.patient_apply(
        practice=practice_a, data={**data, "updated_at": T1, "last_name": "Old"}
    )
    assert not result.changed
    assert _patient(practice_a).last_name == "New"


def test_applying_the_same_state_twice_changes_nothing(practice_a: Practice) -> None:
    data = load_event("patient_created")["object"]
    assert mirror.patient_apply(practice=practice_a, data=data).changed
    assert not mirror.patient_apply(practice=practice_a, data=data).changed


def test_a_javascript_link_is_not_kept(practice_a: Practice) -> None:
    data = {**load_event("patient_created")["object"], "provider_web_link": "javascript:alert(1)"}
    assert mirror.patient_apply(practice=practice_a, data=data).patient.provider_web_link == ""


def test_a_patient_without_an_id_is_refused(practice_a: Practice) -> None:
    with pytest.raises(mirror.MirrorError):
        mirror.patient_apply(practice=practice_a, data={"first_name": "Nobody"})
    assert not Patient.objects.exists()


def test_destroy_leaves_a_tombstone_hidden_from_lists(practice_a: Practice) -> None:
    data = load_event("patient_created")["object"]
    mirror.patient_apply(practice=practice_a, data=data)
    mirror.patient_apply(practice=practice_a, data=data, kind=mirror.DESTROYED)
    patient = _patient(practice_a)
    assert patient.is_destroyed
    assert patient.last_name == "O'Brien-Smith"  # kept for the audit trail
    assert not Patient.objects.for_practice(practice_a).visible().exists()


def test_a_stale_update_after_destroy_does_not_resurrect(practice_a: Practice) -> None:
    data = load_event("patient_created")["object"]
    mirror.patient_apply(practice=practice_a, data={**data, "updated_at": T2}, kind="destroyed")
    for updated_at in (T1, T3):  # older, and even a later-stamped late copy
        result = mirror.patient_apply(practice=practice_a, data={**data, "updated_at": updated_at})
        assert not result.changed
    assert _patient(practice_a).is_destroyed


def test_inactive_marks_the_patient_and_a_newer_active_state_clears_it(
    practice_a: Practice,
) -> None:
    data = load_event("patient_created")["object"]
    mirror.patient_apply(practice=practice_a, data={**data, "updated_at": T1})
    mirror.patient_apply(practice=practice_a, data={**data, "updated_at": T1}, kind="inactive")
    assert _patient(practice_a).inactive
    # the older active state arriving late changes nothing
    mirror.patient_apply(practice=practice_a, data={**data, "updated_at": T1})
    assert _patient(practice_a).inactive
    mirror.patient_apply(
        practice=practice_a, data={**data, "updated_at": T2, "membership_status": "active"}
    )
    assert not _patient(practice_a).inactive


def _final_state(client: Client, events: list[dict]) -> tuple[str, bool]:
    for event in events:
        assert deliver_and_dispatch(client, event).status_code == 200
    patient = Patient.objects.get(hint_id="pat-8Hs2LwQ4")
    return patient.last_name, patient.is_destroyed


SEQUENCE = [
    ("patient.created", T1, "First"),
    ("patient.updated", T2, "Second"),
    ("patient.updated", T3, "Third"),
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_updates_in_any_order_end_in_hints_latest_state(
    client: Client, practice_a: Practice, order: tuple[int, ...]
) -> None:
    events = [patient_event(t, updated_at=at, last_name=name) for t, at, name in SEQUENCE]
    assert _final_state(client, [events[i] for i in order]) == ("Third", False)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_update_and_destroy_in_any_order_end_destroyed(
    client: Client, practice_a: Practice, order: tuple[int, ...]
) -> None:
    events = [
        patient_event("patient.created", updated_at=T1, last_name="First"),
        patient_event("patient.updated", updated_at=T2, last_name="Second"),
        patient_event("patient.destroyed", updated_at=T2, last_name="Second"),
    ]
    _name, destroyed = _final_state(client, [events[i] for i in order])
    assert destroyed
    assert not Patient.objects.visible().exists()


def test_the_same_patient_id_in_two_practices_is_two_patients(
    practice_a: Practice, practice_b: Practice
) -> None:
    data = load_event("patient_created")["object"]
    mirror.patient_apply(practice=practice_a, data=data)
    mirror.patient_apply(practice=practice_b, data={**data, "updated_at": T3, "last_name": "B"})
    mirror.patient_apply(practice=practice_b, data=data, kind="destroyed")
    assert _patient(practice_a).last_name == "O'Brien-Smith"
    assert not _patient(practice_a).is_destroyed
