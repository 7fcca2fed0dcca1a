"""Through the sandbox: a patient created, edited and deleted there shows in the app's list."""

import uuid

import pytest
import requests

from tests.e2e.live import PRACTICE_A

pytestmark = pytest.mark.e2e


def _patients_page(stack, key: str, query: str) -> str:
    response = requests.get(
        f"{stack.app_url}/hint/sync/patients/",
        params={"q": query},
        headers={"X-Hint-Session-Key": key, "HX-Request": "true"},
        timeout=10,
    )
    assert response.status_code == 200, response.status_code
    return response.text


def test_creating_editing_and_deleting_a_patient_in_the_sandbox_shows_in_the_app(live_stack):
    live_stack.install(PRACTICE_A)
    url = live_stack.handshake(PRACTICE_A, "staff", "core_page")
    key = url.split("session_key=", 1)[1].split("&", 1)[0]
    name = "Hooks" + uuid.uuid4().hex[:8]

    created = live_stack.trigger(
        PRACTICE_A, "create", fields={"first_name": "Edda", "last_name": name}
    )
    live_stack.wait_for(
        lambda: f"{name}, Edda" in _patients_page(live_stack, key, name), timeout=20
    )

    renamed = name + "Renamed"
    live_stack.trigger(
        PRACTICE_A, "update", patient_id=created["patient_id"], fields={"last_name": renamed}
    )
    live_stack.wait_for(
        lambda: f"{renamed}, Edda" in _patients_page(live_stack, key, name), timeout=20
    )

    live_stack.trigger(PRACTICE_A, "delete", patient_id=created["patient_id"])
    live_stack.wait_for(
        lambda: "No patient matches" in _patients_page(live_stack, key, name), timeout=20
    )
