"""The one linking decision, case by case: no database, no Hint."""

from datetime import date

import pytest

from sync import fieldmap
from sync.linking import Outcome, patient_link_decide
from sync.merge import Situation
from sync.models import Contact
from tests.sync.helpers import patient_json


def _contact(pk: int, **fields) -> Contact:
    values = {"first_name": "Ana", "last_name": "Nunez", "dob": date(1980, 4, 2), **fields}
    return Contact(pk=pk, **values)


def _decide(*, linked=None, candidates=(), create=False, taken=(), **patient):
    return patient_link_decide(
        patient=patient_json(**patient),
        linked=linked,
        candidates=list(candidates),
        situation=Situation.NEW_PATIENT,
        create=create,
        taken=taken,
    )


@pytest.mark.parametrize(
    ("case", "kwargs", "outcome"),
    [
        ("a linked contact that differs is updated", {"linked": _contact(1)}, Outcome.UPDATED),
        ("one free match is linked", {"candidates": [_contact(1)]}, Outcome.LINKED),
        (
            "two free matches link none",
            {"candidates": [_contact(1), _contact(2)]},
            Outcome.MULTIPLE,
        ),
        (
            "a match taken earlier in the page is no candidate",
            {"candidates": [_contact(1), _contact(2)], "taken": {1}},
            Outcome.LINKED,
        ),
        ("no match and creating allowed creates", {"create": True}, Outcome.CREATED),
        ("no match and creating not allowed leaves it", {}, Outcome.NO_MATCH),
        (
            "only taken matches and creating allowed creates",
            {"candidates": [_contact(1)], "taken": {1}, "create": True},
            Outcome.CREATED,
        ),
        (
            "a linked contact wins over candidates",
            {"linked": _contact(1), "candidates": [_contact(2), _contact(3)]},
            Outcome.UPDATED,
        ),
    ],
)
def test_each_situation_has_its_outcome(case, kwargs, outcome):
    assert _decide(**kwargs).outcome is outcome, case


def test_a_linked_contact_equal_to_the_patient_is_unchanged():
    patient = patient_json()
    linked = Contact(pk=1)
    fieldmap.contact_fill_new(linked, fieldmap.patient_values(patient))
    decision = patient_link_decide(
        patient=patient, linked=linked, candidates=[], situation=Situation.NEW_PATIENT, create=True
    )
    assert decision.outcome is Outcome.UNCHANGED
    assert decision.contact_updates == {} and decision.patient_updates == {}


def test_an_update_takes_the_patients_values_and_owes_hint_nothing():
    decision = _decide(linked=_contact(1, city="Old town", email="mine@x.test"))
    assert decision.contact_updates["city"] == "Springfield"
    assert decision.contact_updates["email"] == "ana@example.test"  # both set: patient wins
    assert decision.patient_updates == {}
    assert not decision.makes_link


def test_a_field_the_contact_still_owes_hint_keeps_our_value():
    decision = _decide(
        linked=_contact(1, city="Old town", email="mine@x.test", hint_owed_fields=["email"])
    )
    assert decision.contact_updates["city"] == "Springfield"
    assert "email" not in decision.contact_updates


def test_a_link_fills_blanks_both_ways_and_the_patient_wins_the_rest():
    contact = _contact(1, first_name="ANA", office_phone="555-9", city="")
    decision = _decide(candidates=[contact])
    assert decision.contact is contact
    assert decision.contact_updates["first_name"] == "Ana"  # both set: patient wins
    assert decision.contact_updates["city"] == "Springfield"  # blank here: filled
    assert decision.patient_updates == {"office_phone": "555-9"}  # blank in Hint: owed to Hint
    assert decision.makes_link


def test_a_created_contact_takes_every_value_and_owes_hint_only_the_link():
    decision = _decide(create=True)
    assert decision.contact is None
    assert decision.contact_updates["last_name"] == "Núñez"
    assert decision.contact_updates["insurance_payer"] == "Acme Health"
    assert decision.patient_updates == {}
    assert decision.makes_link


def test_several_matches_say_how_many_and_change_nothing():
    decision = _decide(candidates=[_contact(1), _contact(2), _contact(3)])
    assert decision.matches == 3
    assert decision.contact is None and decision.contact_updates == {}
