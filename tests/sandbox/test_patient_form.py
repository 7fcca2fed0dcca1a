"""The host page's patient form and the integration fields behave as Hint does: a save changes
only what the form shows; clearing our link puts the patient back to never synced."""

import pytest
import requests

from tests.e2e.live import PRACTICE_A

pytestmark = pytest.mark.e2e

PHONES = [
    {"type": "mobile", "number": "(303) 555-0101", "us_formattable": True},
    {"type": "home", "number": "(303) 555-0102", "us_formattable": True},
    {"type": "office", "number": "+44 20 7946 0958", "us_formattable": False},
]


def _patient_url(sandbox, patient_id: str = "") -> str:
    return sandbox.sandbox_url + "/api/provider/patients" + (f"/{patient_id}" if patient_id else "")


def _create(sandbox) -> dict:
    created = sandbox.provider(PRACTICE_A).post(
        _patient_url(sandbox),
        json={
            "title": "Dr.",
            "first_name": "Ingrid",
            "middle_name": "Maria",
            "last_name": "Formtest",
            "dob": "1970-02-03",
            "email": "ingrid@example.com",
            "address_line1": "1 Elm St",
            "address_line2": "Suite 4",
            "address_city": "Denver",
            "phones": PHONES,
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    return created.json()


def _get(sandbox, patient_id: str) -> dict:
    return sandbox.provider(PRACTICE_A).get(_patient_url(sandbox, patient_id), timeout=10).json()


def _save_form(sandbox, patient_id: str, **changes: str) -> requests.Response:
    """Save the chart's Demographics form as a person would: every field it shows, as shown,
    with `changes` typed in."""
    session = requests.Session()
    chart = session.get(f"{sandbox.sandbox_url}/patients/{patient_id}/", timeout=30)
    assert chart.status_code == 200
    patient = _get(sandbox, patient_id)
    mobile = next((p["number"] for p in patient["phones"] if p["type"] == "mobile"), "")
    form = {
        "first_name": patient["first_name"],
        "last_name": patient["last_name"],
        "dob": patient["dob"] or "",
        "sex": patient["sex"] or "",
        "email": patient["email"] or "",
        "phone": mobile,
        "address_line1": patient["address_line1"] or "",
        "address_city": patient["address_city"] or "",
        "address_state": patient["address_state"] or "",
        "address_zip": patient["address_zip"] or "",
        "gender_identity": patient["gender_identity"] or "",
        "gender_other": patient.get("gender_other") or "",
        "practitioner": (patient.get("practitioner") or {}).get("id") or "",
        **changes,
    }
    return session.post(
        f"{sandbox.sandbox_url}/patients/{patient_id}/update",
        data={"csrfmiddlewaretoken": session.cookies.get("csrftoken"), **form},
        timeout=30,
    )


def test_the_chart_form_shows_the_mobile_number_not_the_first_phone(sandbox):
    sandbox.install(PRACTICE_A)
    patient = _create(sandbox)
    reordered = [PHONES[1], PHONES[0]]
    sandbox.provider(PRACTICE_A).patch(
        _patient_url(sandbox, patient["id"]), json={"phones": reordered}, timeout=10
    )
    chart = requests.get(f"{sandbox.sandbox_url}/patients/{patient['id']}/", timeout=30).text
    assert 'name="phone" value="(303) 555-0101"' in chart


def test_saving_the_form_changes_only_the_fields_it_shows(sandbox):
    sandbox.install(PRACTICE_A)
    patient = _create(sandbox)

    saved = _save_form(sandbox, patient["id"], address_city="Boulder")

    assert saved.status_code == 200 and "Not saved" not in saved.text
    after = _get(sandbox, patient["id"])
    assert after["address_city"] == "Boulder"
    assert after["title"] == "Dr."
    assert after["middle_name"] == "Maria"
    assert after["address_line2"] == "Suite 4"
    assert after["phones"] == PHONES
    # The webhook Hint sends carries the patient as it now is, title and phones included.
    event = sandbox.events("patient.updated")[0]
    assert event["practice_id"] == PRACTICE_A


def test_a_new_mobile_number_replaces_only_the_mobile_entry(sandbox):
    sandbox.install(PRACTICE_A)
    patient = _create(sandbox)

    _save_form(sandbox, patient["id"], phone="(720) 555-0199")
    phones = _get(sandbox, patient["id"])["phones"]
    assert phones[0] == {"type": "mobile", "number": "(720) 555-0199", "us_formattable": True}
    assert phones[1:] == PHONES[1:]

    _save_form(sandbox, patient["id"], phone="")
    assert _get(sandbox, patient["id"])["phones"] == PHONES[1:]


def test_clearing_the_integration_fields_puts_the_patient_back_to_unsynced(sandbox):
    sandbox.install(PRACTICE_A)
    patient = _create(sandbox)
    assert patient["integration_sync_status"] == "unsynced"
    session = sandbox.provider(PRACTICE_A)
    url = _patient_url(sandbox, patient["id"])

    linked = session.patch(
        url,
        json={"integration_record_id": "c-1", "integration_web_link": "https://app.test/c/1"},
        timeout=10,
    ).json()
    assert linked["integration_sync_status"] == "synced"

    cleared = session.patch(
        url, json={"integration_record_id": "", "integration_web_link": None}, timeout=10
    ).json()
    assert cleared["integration_record_id"] in ("", None)
    assert cleared["integration_sync_status"] == "unsynced"
    assert _get(sandbox, patient["id"])["integration_sync_status"] == "unsynced"


def test_clearing_only_one_integration_field_keeps_the_patient_synced(sandbox):
    sandbox.install(PRACTICE_A)
    patient = _create(sandbox)
    session = sandbox.provider(PRACTICE_A)
    url = _patient_url(sandbox, patient["id"])
    session.patch(
        url,
        json={"integration_record_id": "c-2", "integration_web_link": "https://app.test/c/2"},
        timeout=10,
    )
    after = session.patch(url, json={"integration_web_link": ""}, timeout=10).json()
    assert after["integration_sync_status"] == "synced"
