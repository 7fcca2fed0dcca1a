"""Every row of DESIGN.md's rules table, case by case."""

import pytest

from sync.merge import RULES, Situation, Source, Winner, field_changes, merge

CONTACT = {"first_name": "Ana", "email": "contact@x.test", "city": "", "mobile_phone": "555-1"}
PATIENT = {"first_name": "Anna", "email": "", "city": "Springfield", "mobile_phone": "555-1"}
HINT_ONLY = {"insurance_payer": "Acme", "member_contract_accepted": True}


def _run(situation):
    return merge(situation=situation, contact=dict(CONTACT), patient={**PATIENT, **HINT_ONLY})


@pytest.mark.parametrize(
    ("situation", "winner"),
    [
        (Situation.MANUAL_LINK, Winner.CONTACT),
        (Situation.NEW_PATIENT, Winner.PATIENT),
        (Situation.BATCH_PATIENTS, Winner.PATIENT),
        (Situation.BATCH_CSV, Winner.CONTACT),
        (Situation.PATIENT_UPDATED, Winner.PATIENT),
        (Situation.CONTACT_EDITED, Winner.CONTACT),
    ],
)
def test_each_situation_has_the_winner_of_the_rules_table(situation, winner):
    assert RULES[situation].winner is winner


@pytest.mark.parametrize("situation", [Situation.MANUAL_LINK, Situation.BATCH_CSV])
def test_on_a_contact_wins_link_the_contact_value_overwrites_and_blanks_are_filled(situation):
    result = _run(situation)
    assert result.patient_updates == {"first_name": "Ana", "email": "contact@x.test"}
    assert result.contact_updates["city"] == "Springfield"
    assert "first_name" not in result.contact_updates


@pytest.mark.parametrize("situation", [Situation.NEW_PATIENT, Situation.BATCH_PATIENTS])
def test_on_a_patient_wins_link_the_patient_value_overwrites_and_blanks_are_filled(situation):
    result = _run(situation)
    assert result.contact_updates["first_name"] == "Anna"
    assert result.contact_updates["city"] == "Springfield"
    assert result.patient_updates == {"email": "contact@x.test"}


def test_a_patient_update_copies_the_patient_as_is_blanks_included_and_sends_nothing_back():
    result = _run(Situation.PATIENT_UPDATED)
    assert result.contact_updates["first_name"] == "Anna"
    assert result.contact_updates["email"] == ""
    assert result.contact_updates["city"] == "Springfield"
    assert result.patient_updates == {}


def test_a_contact_edit_pushes_the_contact_as_is_blanks_included_and_changes_no_contact_field():
    result = _run(Situation.CONTACT_EDITED)
    assert result.patient_updates == {
        "first_name": "Ana",
        "email": "contact@x.test",
        "city": "",
    }
    assert result.contact_updates == {}


@pytest.mark.parametrize("situation", [s for s in Situation if s is not Situation.CONTACT_EDITED])
def test_hint_only_fields_always_come_from_the_patient(situation):
    result = merge(
        situation=situation,
        contact={"insurance_payer": "Old payer"},
        patient={"insurance_payer": "Acme", "member_contract_accepted": True},
    )
    assert result.contact_updates["insurance_payer"] == "Acme"
    assert result.contact_updates["member_contract_accepted"] is True
    assert "insurance_payer" not in result.patient_updates


def test_equal_values_change_nothing_on_either_side():
    same = {"first_name": "Ana", "email": "a@x.test", "insurance_payer": "Acme"}
    for situation in Situation:
        assert merge(situation=situation, contact=dict(same), patient=dict(same)).changes_nothing


def test_field_changes_show_each_side_and_the_value_both_hold_after():
    contact = {"first_name": "Ana", "email": "ana@ours.example", "mobile_phone": ""}
    patient = {
        "first_name": "Ana",
        "email": "ana@hint.example",
        "mobile_phone": "5551234567",
        "practitioner_name": "Dr. Reyes",
    }
    rows = {
        r.name: r
        for r in field_changes(situation=Situation.MANUAL_LINK, contact=contact, patient=patient)
    }
    assert rows["first_name"].source is Source.SAME and not rows["first_name"].changes_patient
    assert rows["email"].source is Source.CONTACT and rows["email"].after == "ana@ours.example"
    assert rows["email"].changes_patient and not rows["email"].changes_contact
    assert rows["mobile_phone"].source is Source.PATIENT
    assert rows["mobile_phone"].after == "5551234567" and rows["mobile_phone"].changes_contact
    assert rows["practitioner_name"].source is Source.HINT_ONLY
    assert rows["practitioner_name"].after == "Dr. Reyes"
    assert rows["email"].label == "Email"


def test_field_changes_agree_with_merge_for_every_situation():
    contact = {"first_name": "Ana", "last_name": "", "email": "a@x.example", "city": "Austin"}
    patient = {"first_name": "Anna", "last_name": "Diaz", "email": "", "city": "Boston"}
    for situation in Situation:
        result = merge(situation=situation, contact=contact, patient=patient)
        rows = field_changes(situation=situation, contact=contact, patient=patient)
        to_hint = {r.name: r.after for r in rows if r.changes_patient}
        to_contact = {r.name: r.after for r in rows if r.changes_contact}
        assert to_hint == result.patient_updates
        assert to_contact == {
            k: v for k, v in result.contact_updates.items() if v != contact.get(k)
        }
