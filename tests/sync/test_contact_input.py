"""Contact input checked the way Hint checks it: an email Hint would refuse, a date of birth in
the future, a US state or ZIP code that is not one are refused on the form, naming the field,
before anything is saved (creating and editing alike)."""

import re
from datetime import date, timedelta

import pytest
from django.urls import reverse

from sync import fieldmap
from sync.models import Contact
from tests.sync.helpers import make_contact

pytestmark = pytest.mark.django_db

TOMORROW = (date.today() + timedelta(days=2)).isoformat()
# (field, value refused, the words saying why)
REFUSALS = [
    ("email", "ana@example", "Enter an email address"),
    ("email", "ana example.com", "Enter an email address"),
    ("dob", TOMORROW, "cannot be in the future"),
    ("dob", "1980-02-30", "Enter a valid date"),
    ("state", "Nowhere", "Enter a US state as its two-letter code"),
    ("state", "XX", "Enter a US state as its two-letter code"),
    ("zip_code", "1234", "Enter a US ZIP code"),
    ("zip_code", "ABCDE", "Enter a US ZIP code"),
    ("zip_code", "12345-67", "Enter a US ZIP code"),
]
GOOD = {"first_name": "Ana", "last_name": "Nunez", "country": "United States"}


def _field_errors(response) -> dict[str, list[str]]:
    return {name: list(errors) for name, errors in response.context["form"].errors.items()}


def _error_under_its_label(page: str, label: str, words: str) -> bool:
    """The sentence is shown in the field's own box, under its label."""
    boxes = re.findall(r'<div class="field">(.*?)</div>', page, flags=re.S)
    return any(f">{label}</label>" in box and words in box for box in boxes)


@pytest.mark.parametrize(("field", "value", "words"), REFUSALS)
def test_creating_refuses_the_value_naming_its_field_and_saves_nothing(
    client, practice_a, staff_key, field, value, words
):
    response = client.post(
        reverse("sync:contact-create"), {"session_key": staff_key, **GOOD, field: value}
    )
    assert response.status_code == 400
    assert list(_field_errors(response)) == [field]
    page = response.content.decode()
    assert _error_under_its_label(page, fieldmap.LABELS[field], words), page
    assert "Nothing was saved" in page
    assert not Contact.objects.exists()


@pytest.mark.parametrize(("field", "value", "words"), REFUSALS)
def test_editing_refuses_the_value_naming_its_field_and_changes_nothing(
    client, practice_a, staff_key, field, value, words
):
    contact = make_contact(practice_a, hint_patient_id="pat-1", state="IL", zip_code="62701")
    before = Contact.objects.values().get(pk=contact.pk)
    response = client.post(
        reverse("sync:contact-edit", args=[contact.pk]),
        {"session_key": staff_key, **GOOD, field: value},
    )
    assert response.status_code == 400
    assert list(_field_errors(response)) == [field]
    assert Contact.objects.values().get(pk=contact.pk) == before  # nothing owed to Hint either


@pytest.mark.parametrize(
    ("state", "zip_code", "country"),
    [
        ("NY", "10002", "United States"),
        ("ny", "10002-1234", ""),
        ("New York", "100021234", "USA"),
        ("PR", "00901", "US"),
        ("Ontario", "K1A 0B1", "Canada"),  # outside the US: as typed
        ("", "", ""),
    ],
)
def test_an_address_hint_takes_is_saved(client, practice_a, staff_key, state, zip_code, country):
    response = client.post(
        reverse("sync:contact-create"),
        {
            "session_key": staff_key,
            **GOOD,
            "state": state,
            "zip_code": zip_code,
            "country": country,
        },
    )
    assert response.status_code == 303, _field_errors(response)
    saved = Contact.objects.get()
    assert (saved.state, saved.zip_code, saved.country) == (state, zip_code, country)


def test_problems_name_the_state_and_zip_of_a_us_address_only():
    assert set(fieldmap.problems({"state": "Narnia", "zip_code": "12"})) == {"state", "zip_code"}
    assert fieldmap.problems({"state": "Narnia", "zip_code": "12", "country": "France"}) == {}
    assert fieldmap.problems({"state": " ca ", "zip_code": " 94103 "}) == {}
