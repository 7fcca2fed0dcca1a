"""The contact form checks every value with the field map's rules (what Hint accepts) before it
is saved: gender identity from Hint's list (own words only under "not listed"), phone numbers
kept in one form, dates, sex and email."""

from django.urls import reverse

from sync.models import Contact
from tests.sync.helpers import make_contact


def _post(client, name, key, *args, **data):
    return client.post(reverse(name, args=args), {"session_key": key, **data})


def test_gender_identity_is_a_choice_of_hints_values(client, practice_a, staff_key):
    page = client.get(reverse("sync:contact-create"), {"session_key": staff_key}).content.decode()
    for value in ("man", "woman", "trans man", "trans woman", "nonbinary", "not listed"):
        assert f'<option value="{value}"' in page
    response = _post(
        client, "sync:contact-create", staff_key, first_name="Ana", gender_identity="female"
    )
    assert response.status_code == 400
    assert not Contact.objects.exists()


def test_own_words_are_taken_only_under_not_listed(client, practice_a, staff_key):
    refused = _post(
        client, "sync:contact-create", staff_key, first_name="Ana", gender_identity="not listed"
    )
    assert refused.status_code == 400 and "in their words" in refused.content.decode()
    mixed = _post(
        client,
        "sync:contact-create",
        staff_key,
        first_name="Ana",
        gender_identity="woman",
        gender_other="Two-spirit",
    )
    assert mixed.status_code == 400
    assert not Contact.objects.exists()
    saved = _post(
        client,
        "sync:contact-create",
        staff_key,
        first_name="Ana",
        gender_identity="not listed",
        gender_other="Two-spirit",
    )
    assert saved.status_code == 303
    assert Contact.objects.get().gender_identity == "Two-spirit"


def test_editing_own_words_shows_not_listed_with_the_words(client, practice_a, staff_key):
    contact = make_contact(practice_a, gender_identity="Two-spirit")
    page = client.get(
        reverse("sync:contact-edit", args=[contact.pk]), {"session_key": staff_key}
    ).content.decode()
    assert '<option value="not listed" selected>' in page
    assert 'value="Two-spirit"' in page


def test_phones_dates_and_emails_hint_would_refuse_are_caught_before_saving(
    client, practice_a, staff_key
):
    response = _post(
        client,
        "sync:contact-create",
        staff_key,
        first_name="Ana",
        mobile_phone="call me maybe",
        dob="2999-01-01",
        email="not-an-email",
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter a phone number" in body and "cannot be in the future" in body
    assert not Contact.objects.exists()


def test_a_us_number_is_kept_in_one_form(client, practice_a, staff_key):
    _post(
        client,
        "sync:contact-create",
        staff_key,
        first_name="Ana",
        mobile_phone="+1 201.555.0123",
        home_phone="+44 20 7946 0958",
    )
    contact = Contact.objects.get()
    assert (contact.mobile_phone, contact.home_phone) == ("(201) 555-0123", "+44 20 7946 0958")
