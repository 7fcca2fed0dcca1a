"""Through the sandbox: a host-page save of one field leaves a linked contact's title, middle
name and phones as they were (the sandbox's form used to blank them, and the webhook carried the
blanks into the contact)."""

import uuid

import pytest
import requests

from tests.e2e.flows import link
from tests.e2e.live import PRACTICE_A

pytestmark = pytest.mark.e2e


def _key(url: str) -> str:
    return url.split("session_key=", 1)[1].split("&", 1)[0]


def _contact_page(stack, key: str, path: str) -> str:
    response = requests.get(stack.app_url + path, headers={"X-Hint-Session-Key": key}, timeout=20)
    assert response.status_code == 200
    return response.text


def _save_host_form(stack, patient: dict, **changes: str) -> None:
    """The chart's Demographics form, saved as a browser would (only the fields it shows)."""
    session = requests.Session()
    session.get(f"{stack.sandbox_url}/patients/{patient['id']}/", timeout=30)
    mobile = next((p["number"] for p in patient["phones"] if p["type"] == "mobile"), "")
    form = {
        "first_name": patient["first_name"],
        "last_name": patient["last_name"],
        "dob": patient["dob"],
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
    saved = session.post(
        f"{stack.sandbox_url}/patients/{patient['id']}/update",
        data={"csrfmiddlewaretoken": session.cookies.get("csrftoken"), **form},
        timeout=30,
    )
    assert saved.status_code == 200 and "Not saved" not in saved.text


def test_a_host_page_save_keeps_the_linked_contacts_title_middle_name_and_phones(live_stack):
    stack = live_stack
    stack.install(PRACTICE_A)
    key = _key(stack.handshake(PRACTICE_A, "admin", "core_page"))
    last = "Keep" + uuid.uuid4().hex[:8]
    fields = {"first_name": "Henrietta", "last_name": last, "dob": "1975-07-08"}
    patient_id = stack.trigger(
        PRACTICE_A,
        "create",
        fields={
            **fields,
            "title": "Dr.",
            "middle_name": "Lacks",
            "phones": [
                {"type": "mobile", "number": "(303) 555-0111", "us_formattable": True},
                {"type": "home", "number": "(303) 555-0122", "us_formattable": True},
            ],
        },
    )["patient_id"]
    created = requests.post(
        stack.app_url + "/hint/sync/contacts/new",
        data={"session_key": key, **fields},
        allow_redirects=False,
        timeout=30,
    )
    assert created.status_code == 303, created.text[:500]
    contact_path = created.headers["Location"].split("?", 1)[0]
    linked = link(stack, key, contact_path, patient_id)
    assert linked.status_code == 303, linked.text[:500]
    page = _contact_page(stack, key, contact_path)
    assert "Dr." in page and "Lacks" in page and "(303) 555-0122" in page

    patient = stack.provider(PRACTICE_A).get(
        f"{stack.sandbox_url}/api/provider/patients/{patient_id}", timeout=10
    )
    _save_host_form(stack, patient.json(), address_city="Formville")

    def updated() -> str:
        text = _contact_page(stack, key, contact_path)
        return text if "Formville" in text else ""

    page = stack.wait_for(updated, timeout=30)
    assert "Dr." in page
    assert "Lacks" in page
    assert "(303) 555-0111" in page and "(303) 555-0122" in page
