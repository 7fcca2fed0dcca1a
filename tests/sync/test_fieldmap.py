from sync import fieldmap
from sync.fieldmap import HINT_ONLY_FIELDS, TWO_WAY_FIELDS, patient_payload, patient_values
from sync.models import Contact
from tests.sync.helpers import patient_json


def test_every_field_of_the_seed_list_plus_last_name_is_mapped():
    expected_two_way = {
        "name_prefix", "first_name", "middle_name", "last_name", "dob", "sex",
        "gender_identity", "email", "mobile_phone", "home_phone", "office_phone",
        "address_line1", "address_line2", "city", "state", "zip_code", "country",
    }  # fmt: skip
    expected_hint_only = {
        "practitioner_name", "insurance_payer", "insurance_group_id", "insurance_member_id",
        "member_contract_accepted", "member_contract_accepted_at",
        "hipaa_authorization_accepted", "hipaa_authorization_accepted_at",
    }  # fmt: skip
    assert set(TWO_WAY_FIELDS) == expected_two_way
    assert set(HINT_ONLY_FIELDS) == expected_hint_only
    model_fields = {f.name for f in Contact._meta.get_fields()}
    assert set(fieldmap.ALL_FIELDS) <= model_fields


def test_it_reads_a_hint_patient_into_contact_fields():
    values = patient_values(patient_json())
    assert values["name_prefix"] == "Dr."
    assert values["last_name"] == "Núñez"
    assert values["dob"] == "1980-04-02"
    assert values["sex"] == "female"
    assert values["gender_identity"] == "woman"
    assert values["mobile_phone"] == "555-0100"
    assert values["home_phone"] == "555-0101"
    assert values["office_phone"] == ""
    assert values["city"] == "Springfield"
    assert values["zip_code"] == "62701"
    assert values["practitioner_name"] == "Dr. Who"
    assert values["insurance_payer"] == "Acme Health"
    assert values["member_contract_accepted"] is True
    assert values["hipaa_authorization_accepted"] is False
    assert values["member_contract_accepted_at"].startswith("2024-01-02T03:04:05")


def test_the_deprecated_gender_is_read_only_as_a_fallback_for_sex():
    assert patient_values(patient_json(sex=None, gender="male"))["sex"] == "male"
    assert patient_values(patient_json(sex="intersex", gender="male"))["sex"] == "intersex"


def test_it_never_writes_hint_only_fields_or_the_deprecated_gender():
    values = patient_values(patient_json())
    body = patient_payload(values, patient=patient_json())
    assert "gender" not in body
    assert body["sex"] == "female"
    for hint_only in ("practitioner", "health_insurance_payer_name", "patient_agreement_accepted"):
        assert hint_only not in body


def test_phones_are_written_into_hints_phones_array_by_type_keeping_other_entries():
    body = patient_payload(
        {"mobile_phone": "555-0200", "home_phone": "", "office_phone": "555-0300"},
        patient=patient_json(),
    )
    assert body["phones"] == [
        {"type": "mobile", "number": "555-0200", "us_formattable": False},
        {"type": "fax", "number": "555-0199"},
        {"type": "office", "number": "555-0300", "us_formattable": False},
    ]


def test_us_numbers_are_sent_as_ten_digits_and_others_with_us_formattable_false():
    body = patient_payload(
        {"mobile_phone": "+1 (201) 555-0123", "home_phone": "+44 20 7946 0958", "office_phone": ""}
    )
    assert body["phones"] == [
        {"type": "mobile", "number": "2015550123", "us_formattable": True},
        {"type": "home", "number": "+44 20 7946 0958", "us_formattable": False},
    ]
    # Hint's digits and the contact's "(201) 555-0123" are the same number: no change, no loop.
    hint = patient_json(phones=[{"type": "mobile", "number": "2015550123", "us_formattable": True}])
    assert patient_values(hint)["mobile_phone"] == "(201) 555-0123"
    assert fieldmap.canonical_value("mobile_phone", "201.555.0123") == "(201) 555-0123"


def test_gender_identity_is_one_of_hints_values_or_own_words_under_not_listed():
    assert patient_payload({"gender_identity": "Nonbinary"}) == {"gender_identity": "nonbinary"}
    assert patient_payload({"gender_identity": "non-binary"}) == {"gender_identity": "nonbinary"}
    assert patient_payload({"gender_identity": "Two-spirit"}) == {
        "gender_identity": "not listed",
        "gender_other": "Two-spirit",
    }
    assert patient_payload({"gender_identity": ""}) == {"gender_identity": ""}
    hint = patient_json(gender_identity="not listed", gender_other="Two-spirit")
    assert patient_values(hint)["gender_identity"] == "Two-spirit"


def test_the_app_never_sends_a_value_outside_hints_lists():
    """Whatever a contact holds, the body holds only Hint's values (or `not listed` + words)."""
    samples = ["", "man", "WOMAN", "trans woman", "Trans Man", "agender", "non binary", "x"]
    for text in samples:
        body = patient_payload({"gender_identity": text, "sex": text})
        assert body["gender_identity"] in (*fieldmap.GENDER_IDENTITIES, "")
        assert body["sex"] in (*fieldmap.SEX_VALUES, "")
        if body["gender_identity"] == "not listed":
            assert body["gender_other"].strip()
    for number in [
        "2015550123",
        "1-201-555-0123",
        "555-0100",
        "+33 1 23 45 67 89",
        "201 555 0123 x2",
    ]:
        (phone,) = patient_payload({"mobile_phone": number})["phones"]
        digits = sum(c.isdigit() for c in phone["number"])
        assert phone["us_formattable"] is (digits == 10 and phone["number"].isdigit())


def test_problems_name_each_value_hint_would_refuse():
    found = fieldmap.problems(
        {
            "dob": "2999-01-01",
            "sex": "other",
            "gender_identity": "not listed",
            "mobile_phone": "call me",
            "email": "nope",
            "first_name": "Ana",
        }
    )
    assert set(found) == {"dob", "sex", "gender_identity", "mobile_phone", "email"}
    assert fieldmap.problems(
        {"dob": "1980-01-02", "sex": "female", "gender_identity": "Two-spirit",
         "mobile_phone": "+44 20 7946 0958", "email": "a@example.com"}
    ) == {}  # fmt: skip


def test_a_blank_date_of_birth_is_sent_as_null():
    assert patient_payload({"dob": ""}) == {"dob": None}


def test_assigning_values_reports_only_the_fields_that_changed(practice_a):
    contact = Contact(practice=practice_a, first_name="Ana", city="Springfield")
    changed = fieldmap.contact_assign(
        contact, {"first_name": "Ana", "city": "Shelbyville", "dob": "1980-04-02"}
    )
    assert sorted(changed) == ["city", "dob"]
    assert contact.dob.isoformat() == "1980-04-02"
