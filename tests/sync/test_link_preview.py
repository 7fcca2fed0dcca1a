""" "Sync to Hint" shows every change first: the preview writes nothing, "Sync patient" writes
exactly what was previewed (or shows the preview again if either side changed), "Create new
patient" and "Unlink" are confirmed before anything is sent."""

import json
import re
from typing import Any

import responses
from django.urls import reverse

from handshake.models import AuditEntry
from sync import fieldmap, preview
from sync.merge import Source
from sync.mirror import patient_apply
from sync.models import Contact, Patient, SyncLog
from tests.conftest import open_session
from tests.sync.helpers import make_contact, patient_json

NEW_EMAIL = "ana.new@example.test"
CLEARED = {"integration_record_id": "", "integration_web_link": "", "integration_error_message": ""}


def _patient_url(hint_url: str, pid: str = "pat-100") -> str:
    return f"{hint_url}/api/provider/patients/{pid}"


def _get(client, name, key, pk, **params):
    return client.get(reverse(name, args=[pk]), {"session_key": key, **params})


def _post(client, name, key, pk, **data):
    return client.post(reverse(name, args=[pk]), {"session_key": key, **data})


def _seen(page: str) -> str:
    return re.search(r'name="seen" value="([^"]*)"', page).group(1)


def _marked(page: str) -> list[str]:
    """The fields a preview marks as changed since the one the person saw."""
    found = re.findall(r'<tr class="changed">\s*<th scope="row">([^<]+)<', page)
    return [label.strip() for label in found]


def _methods(mocked) -> list[str]:
    return [call.request.method for call in mocked.calls]


def _state() -> dict[str, Any]:
    """Everything a preview must leave as it was: contacts (values, links, owed writes), the
    mirror, the sync log, and every audit entry but reads of a page."""
    return {
        "contacts": list(Contact.objects.order_by("pk").values()),
        "mirror": list(Patient.objects.order_by("pk").values()),
        "log": list(SyncLog.objects.order_by("pk").values()),
        "audit": list(
            AuditEntry.objects.exclude(action="contact.viewed").order_by("pk").values("action")
        ),
    }


def _contact(practice):
    # Hint has ana@example.test, mobile 555-0100, the last name "Núñez" and a city.
    return make_contact(practice, email=NEW_EMAIL, mobile_phone="(201) 555-0123", city="")


# --- the preview -------------------------------------------------------------------------------


def test_choosing_a_patient_shows_each_field_and_who_wins_and_writes_nothing(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    contact = _contact(practice_a)
    mocked_hint.get(_patient_url(hint_url), json=patient_json())  # no write is registered
    before = _state()

    response = _get(client, "sync:contact-link", staff_key, contact.pk, patient_id="pat-100")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Nothing has been written yet" in page
    rows = dict(
        re.findall(r'<th scope="row">([^<]+)</th>.*?<span class="badge[^"]*">([^<]+)<', page, re.S)
    )
    assert rows["Email"] == "Contact wins: replaces Hint&#x27;s value"
    assert rows["Mobile phone"] == "Contact wins: replaces Hint&#x27;s value"
    assert rows["City"] == "Fills the contact&#x27;s blank from Hint"
    assert rows["Insurance payer"] == "Read-only: comes from Hint"
    assert rows["Date of birth"] == "Already the same"
    assert NEW_EMAIL in page and "ana@example.test" in page and "Acme Health" in page
    # One detail GET with the session's own token; nothing else reached Hint, nothing changed here.
    assert _methods(mocked_hint) == ["GET"]
    assert mocked_hint.calls[0].request.headers["Authorization"].startswith("Bearer session-")
    assert _state() == before


def test_sync_patient_writes_exactly_the_previewed_changes_to_both_sides(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    contact = _contact(practice_a)
    patient = patient_json()
    mocked_hint.get(_patient_url(hint_url), json=patient)
    shown = _get(client, "sync:contact-link", staff_key, contact.pk, patient_id="pat-100")
    expected = preview.link_preview_from(contact=contact, patient_id="pat-100", patient=patient)
    mocked_hint.patch(_patient_url(hint_url), json=patient_json(email=NEW_EMAIL))

    response = _post(
        client,
        "sync:contact-link",
        staff_key,
        contact.pk,
        patient_id="pat-100",
        seen=_seen(shown.content.decode()),
    )

    assert response.status_code == 303 and "done=linked" in response["Location"]
    assert _methods(mocked_hint) == ["GET", "GET", "PATCH"]  # preview, re-read, write
    body = json.loads(mocked_hint.calls[2].request.body)
    to_hint = {row.change.name: row.change.after for row in expected.to_hint}
    assert set(to_hint) == {"email", "last_name", "mobile_phone"}
    assert body == {
        **fieldmap.patient_payload(to_hint, patient=patient),
        "integration_record_id": str(contact.pk),
        "integration_web_link": f"https://partner.test/hint/sync/contacts/{contact.pk}",
    }
    assert body["email"] == NEW_EMAIL and body["last_name"] == "Nunez"
    assert body["phones"][0] == {"type": "mobile", "number": "2015550123", "us_formattable": True}
    contact.refresh_from_db()
    after = fieldmap.contact_values(contact)
    assert {c.name: after[c.name] for c in expected.changes} == {
        c.name: c.after for c in expected.changes
    }
    assert contact.city == "Springfield" and contact.insurance_payer == "Acme Health"
    assert contact.hint_patient_id == "pat-100" and contact.hint_status == "synced"
    assert AuditEntry.objects.filter(action="contact.linked", target_id=str(contact.pk)).exists()
    page = client.get(response["Location"]).content.decode()
    assert "The contact is now linked to the patient in Hint" in page


def test_a_patient_changed_in_hint_since_the_preview_is_shown_again_and_nothing_is_written(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    contact = _contact(practice_a)
    mocked_hint.get(_patient_url(hint_url), json=patient_json())
    shown = _get(client, "sync:contact-link", staff_key, contact.pk, patient_id="pat-100")
    changed = patient_json(address_city="Shelbyville", updated_at="2024-03-01T00:00:00Z")
    mocked_hint.replace(responses.GET, _patient_url(hint_url), json=changed)
    before = _state()

    response = _post(
        client,
        "sync:contact-link",
        staff_key,
        contact.pk,
        patient_id="pat-100",
        seen=_seen(shown.content.decode()),
    )

    page = response.content.decode()
    assert response.status_code == 409
    assert "the patient was changed in Hint (City)" in page
    assert _marked(page) == ["City"]
    assert "Shelbyville" in page
    assert _methods(mocked_hint) == ["GET", "GET"]  # no write
    assert _state() == before
    # The new preview is what "Sync patient" now does: confirming it applies it.
    mocked_hint.patch(_patient_url(hint_url), json=changed)
    again = _post(
        client, "sync:contact-link", staff_key, contact.pk, patient_id="pat-100", seen=_seen(page)
    )
    assert again.status_code == 303
    contact.refresh_from_db()
    assert contact.city == "Shelbyville"


def test_a_contact_changed_here_since_the_preview_is_shown_again_and_nothing_is_written(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    contact = _contact(practice_a)
    mocked_hint.get(_patient_url(hint_url), json=patient_json())
    shown = _get(client, "sync:contact-link", staff_key, contact.pk, patient_id="pat-100")
    Contact.objects.filter(pk=contact.pk).update(email="third@example.test")

    response = _post(
        client,
        "sync:contact-link",
        staff_key,
        contact.pk,
        patient_id="pat-100",
        seen=_seen(shown.content.decode()),
    )

    page = response.content.decode()
    assert response.status_code == 409
    assert "the contact was changed here (Email)" in page
    assert _marked(page) == ["Email"]
    assert _methods(mocked_hint) == ["GET", "GET"]
    contact.refresh_from_db()
    assert contact.hint_patient_id == "" and not SyncLog.objects.exists()


def test_sync_patient_without_a_preview_or_with_a_forged_one_writes_nothing(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    contact = _contact(practice_a)
    mocked_hint.get(_patient_url(hint_url), json=patient_json())
    before = _state()

    unseen = _post(client, "sync:contact-link", staff_key, contact.pk, patient_id="pat-100")
    forged = [
        _post(client, "sync:contact-link", staff_key, contact.pk, patient_id="pat-100", seen=seen)
        for seen in ("c:x=1;", "=;;==;" + "x" * 10_000, "c:email")
    ]

    assert unseen.status_code == 400 and "Nothing was written yet" in unseen.content.decode()
    assert [answer.status_code for answer in forged] == [409, 409, 409]
    assert _methods(mocked_hint) == ["GET"] * 4
    assert _state() == before


def test_a_preview_for_another_patient_does_not_apply_to_this_one(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    contact = _contact(practice_a)
    mocked_hint.get(_patient_url(hint_url), json=patient_json())
    mocked_hint.get(_patient_url(hint_url, "pat-200"), json=patient_json(id="pat-200"))
    shown = _get(client, "sync:contact-link", staff_key, contact.pk, patient_id="pat-100")

    response = _post(
        client,
        "sync:contact-link",
        staff_key,
        contact.pk,
        patient_id="pat-200",
        seen=_seen(shown.content.decode()),
    )

    assert response.status_code == 409
    assert "PATCH" not in _methods(mocked_hint)


def test_relinking_names_the_patient_and_the_contact_that_lose_their_link(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    patient_apply(
        practice=practice_a,
        data=patient_json(id="pat-old", first_name="Olga", last_name="Oldfield"),
    )
    contact = make_contact(practice_a, hint_patient_id="pat-old")
    holder = make_contact(
        practice_a, first_name="Holly", last_name="Holder", hint_patient_id="pat-100"
    )
    mocked_hint.get(_patient_url(hint_url), json=patient_json())

    page = _get(
        client, "sync:contact-link", staff_key, contact.pk, patient_id="pat-100"
    ).content.decode()

    assert "Olga Oldfield" in page and "Hint id pat-old" in page
    assert "that patient loses this app's fields in Hint" in page
    assert "Holly Holder" in page and reverse("sync:contact-detail", args=[holder.pk]) in page
    assert _methods(mocked_hint) == ["GET"]


def test_a_patient_hint_cannot_find_is_said_in_words_and_nothing_changes(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    contact = _contact(practice_a)
    mocked_hint.get(_patient_url(hint_url, "pat-9"), status=404, json={})
    before = _state()

    response = _get(client, "sync:contact-link", staff_key, contact.pk, patient_id="pat-9")

    assert response.status_code == 400
    assert "Hint no longer has this patient" in response.content.decode()
    assert _state() == before


def test_preview_rows_say_which_side_wins_under_the_manual_link_rule(practice_a):
    contact = _contact(practice_a)
    found = preview.link_preview_from(contact=contact, patient_id="pat-100", patient=patient_json())
    sources = {c.name: c.source for c in found.changes}
    assert sources["email"] is Source.CONTACT  # both set: contact wins
    assert sources["city"] is Source.PATIENT  # blank here: filled from Hint
    assert sources["practitioner_name"] is Source.HINT_ONLY
    assert [row.label for row in found.read_only][:2] == ["Practitioner", "Insurance payer"]
    # The fingerprint fits the form field it travels in, and reads back as it was written.
    assert len(found.seen) < preview.MAX_SEEN
    assert preview.seen_parse(found.seen) == found.parts


# --- create ------------------------------------------------------------------------------------


def test_create_new_patient_first_shows_what_hint_will_get_and_sends_nothing(
    client, practice_a, staff_key, mocked_hint
):
    contact = make_contact(practice_a, city="Springfield")
    before = _state()

    response = _get(client, "sync:contact-create-patient", staff_key, contact.pk)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Nothing has been sent yet" in page
    for shown in ("Ana", "Nunez", "Apr 2, 1980", "ana@example.test", "Springfield"):
        assert shown in page
    assert "Middle name" not in page  # blank: not sent
    assert len(mocked_hint.calls) == 0 and _state() == before


def test_confirming_creates_the_patient_as_shown_and_links_it(
    client, practice_a, staff_key, mocked_hint, hint_url
):
    contact = make_contact(practice_a, city="Springfield")
    shown = _get(client, "sync:contact-create-patient", staff_key, contact.pk).content.decode()
    mocked_hint.post(f"{hint_url}/api/provider/patients", json=patient_json(id="pat-new"))

    response = _post(
        client, "sync:contact-create-patient", staff_key, contact.pk, seen=_seen(shown)
    )

    assert response.status_code == 303 and "done=created" in response["Location"]
    assert _methods(mocked_hint) == ["POST"]
    body = json.loads(mocked_hint.calls[0].request.body)
    assert body == {
        "first_name": "Ana",
        "last_name": "Nunez",
        "dob": "1980-04-02",
        "email": "ana@example.test",
        "address_city": "Springfield",
        "integration_record_id": str(contact.pk),
        "integration_web_link": f"https://partner.test/hint/sync/contacts/{contact.pk}",
    }
    contact.refresh_from_db()
    assert contact.hint_patient_id == "pat-new"
    assert AuditEntry.objects.filter(action="patient.created", target_id="pat-new").exists()
    page = client.get(response["Location"]).content.decode()
    assert "Hint created the patient, and the contact is linked to it" in page


def test_create_without_confirming_or_after_a_change_sends_nothing(
    client, practice_a, staff_key, mocked_hint
):
    contact = make_contact(practice_a)
    shown = _get(client, "sync:contact-create-patient", staff_key, contact.pk).content.decode()
    Contact.objects.filter(pk=contact.pk).update(email="other@example.test")

    unconfirmed = _post(client, "sync:contact-create-patient", staff_key, contact.pk)
    stale = _post(client, "sync:contact-create-patient", staff_key, contact.pk, seen=_seen(shown))

    assert unconfirmed.status_code == 400
    assert stale.status_code == 409
    page = stale.content.decode()
    assert "the contact was changed (Email)" in page and "other@example.test" in page
    assert len(mocked_hint.calls) == 0
    contact.refresh_from_db()
    assert contact.hint_patient_id == ""


def test_a_contact_without_a_last_name_is_not_offered_for_creation(
    client, practice_a, staff_key, mocked_hint
):
    contact = make_contact(practice_a, last_name="")
    page = _get(client, "sync:contact-create-patient", staff_key, contact.pk).content.decode()
    assert "Hint needs a first and a last name" in page
    assert "Create patient in Hint" not in page


def test_creating_while_linked_names_the_patient_that_loses_the_link(client, practice_a, staff_key):
    patient_apply(practice=practice_a, data=patient_json(id="pat-old", first_name="Olga"))
    contact = make_contact(practice_a, hint_patient_id="pat-old")
    page = _get(client, "sync:contact-create-patient", staff_key, contact.pk).content.decode()
    assert "Olga Núñez" in page and "Hint id pat-old" in page


# --- unlink ------------------------------------------------------------------------------------


def test_unlink_first_lists_what_is_cleared_on_both_sides_and_changes_nothing(
    client, practice_a, clinician_key, mocked_hint
):
    patient_apply(practice=practice_a, data=patient_json(id="pat-100"))
    contact = make_contact(
        practice_a,
        hint_patient_id="pat-100",
        insurance_payer="Acme Health",
        hint_owed_fields=["email"],
        hint_write_state="waiting",
    )
    before = _state()

    response = _get(client, "sync:contact-unlink", clinician_key, contact.pk)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Ana Núñez" in page and "Hint id pat-100" in page
    assert "Acme Health" in page  # the copy that is cleared here
    assert "The change waiting to reach Hint (Email) is not sent" in page
    for words in ("integration record id", "integration web link", "integration error message"):
        assert words in page
    assert len(mocked_hint.calls) == 0 and _state() == before


def test_unlinking_clears_both_sides_and_the_page_says_so_with_nothing_from_hint_left(
    client, practice_a, clinician_key, mocked_hint, hint_url
):
    contact = make_contact(
        practice_a,
        hint_patient_id="pat-100",
        insurance_payer="Acme Health",
        practitioner_name="Dr. Who",
    )
    detail = _get(client, "sync:contact-detail", clinician_key, contact.pk).content.decode()
    assert "Acme Health" in detail
    mocked_hint.patch(_patient_url(hint_url), json={"id": "pat-100"})

    response = _post(client, "sync:contact-unlink", clinician_key, contact.pk)

    assert response.status_code == 303 and "done=unlinked" in response["Location"]
    assert json.loads(mocked_hint.calls[0].request.body) == CLEARED
    contact.refresh_from_db()
    assert contact.hint_patient_id == "" and contact.insurance_payer == ""
    assert contact.first_name == "Ana"  # the contact's own details stay
    page = client.get(response["Location"]).content.decode()
    assert "The contact was unlinked" in page
    assert "Acme Health" not in page and "Dr. Who" not in page
    assert "Nothing from Hint: the contact is not linked" in page


def test_an_unlink_hint_does_not_confirm_says_so(
    client, practice_a, clinician_key, mocked_hint, hint_url
):
    contact = make_contact(practice_a, hint_patient_id="pat-100")
    mocked_hint.patch(_patient_url(hint_url), status=422, json={"message": "Validation failed"})

    response = _post(client, "sync:contact-unlink", clinician_key, contact.pk)

    page = client.get(response["Location"]).content.decode()
    assert "Hint did not confirm removing this app's fields" in page
    assert "The contact was unlinked:" not in page


def test_a_done_notice_that_is_not_true_is_not_shown(client, practice_a, staff_key):
    contact = make_contact(practice_a, hint_patient_id="pat-100")
    page = _get(client, "sync:contact-detail", staff_key, contact.pk, done="unlinked")
    assert "was unlinked" not in page.content.decode()


# --- who may, and which practice ----------------------------------------------------------------


def test_staff_preview_and_create_but_cannot_unlink(client, practice_a, staff_key, mocked_hint):
    contact = make_contact(practice_a, hint_patient_id="pat-100")
    assert _get(client, "sync:contact-create-patient", staff_key, contact.pk).status_code == 200
    assert _get(client, "sync:contact-unlink", staff_key, contact.pk).status_code == 403
    assert _post(client, "sync:contact-unlink", staff_key, contact.pk).status_code == 403
    detail = _get(client, "sync:contact-detail", staff_key, contact.pk).content.decode()
    assert "Unlink" not in detail


def test_hint_support_cannot_preview_a_change(client, practice_a, mocked_hint):
    contact = make_contact(practice_a)
    support = open_session(practice_a, [], access_context="platform_support")
    response = _get(client, "sync:contact-link", support, contact.pk, patient_id="pat-100")
    assert response.status_code == 403 and len(mocked_hint.calls) == 0


def test_another_practice_cannot_preview_or_confirm_anything_on_a_contact(
    client, practice_a, outsider_key, mocked_hint
):
    contact = make_contact(practice_a, hint_patient_id="pat-100")
    before = _state()
    answers = [
        _get(client, "sync:contact-link", outsider_key, contact.pk, patient_id="pat-100"),
        _post(client, "sync:contact-link", outsider_key, contact.pk, patient_id="pat-100"),
        _get(client, "sync:contact-create-patient", outsider_key, contact.pk),
        _post(client, "sync:contact-create-patient", outsider_key, contact.pk, seen="x"),
        _get(client, "sync:contact-unlink", outsider_key, contact.pk),
        _post(client, "sync:contact-unlink", outsider_key, contact.pk),
    ]
    assert [a.status_code for a in answers] == [404] * 6
    assert len(mocked_hint.calls) == 0 and _state() == before
