"""The sandbox answers in the shapes the app reads (hintpartner/hint/schemas/): a sandbox that
drifts from Hint's description fails here."""

import pytest

from tests.e2e.live import PRACTICE_A
from tests.schemas import problems

pytestmark = pytest.mark.e2e


def _ok(name, items):
    for item in items:
        assert problems(name, item) == [], item.get("id")


def test_patients_from_the_list_a_create_and_an_update(sandbox):
    session = sandbox.provider(PRACTICE_A)
    url = sandbox.sandbox_url + "/api/provider/patients"
    _ok("patient", session.get(url, params={"limit": 100}).json())
    created = session.post(
        url,
        json={
            "first_name": "Shape",
            "last_name": "Check",
            "gender_identity": "not listed",
            "gender_other": "Two-spirit",
            "phones": [{"type": "home", "number": "555-0100", "us_formattable": False}],
        },
    ).json()
    updated = session.patch(f"{url}/{created['id']}", json={"dob": "1990-01-02"}).json()
    _ok("patient", [created, updated])


def test_partner_interactions(sandbox):
    session = sandbox.provider(PRACTICE_A)
    base = sandbox.sandbox_url + "/api/provider"
    patient_id = session.get(f"{base}/patients", params={"limit": 1}).json()[0]["id"]
    url = f"{base}/patients/{patient_id}/interactions/partner"
    created = session.post(url, json={"status": "draft", "title": "Note"}).json()
    signed = session.patch(f"{url}/{created['id']}", json={"status": "signed"}).json()
    listed = session.get(
        f"{base}/interactions", params={"patient_id": patient_id, "type": "partner"}
    ).json()
    _ok("interaction", [created, signed, *listed])


def test_installations(sandbox):
    sandbox.install(PRACTICE_A)
    rows = sandbox.partner().get(sandbox.sandbox_url + "/api/partner/installations").json()
    assert rows
    _ok("installation", rows)


def test_webhook_events(sandbox, receiver):
    sandbox.install(PRACTICE_A)
    before = len(receiver.to("/hint/webhooks"))
    event = sandbox.trigger(PRACTICE_A, "update", fields={"address_city": "Shapeville"})

    def delivered():
        return [
            r.json()
            for r in receiver.to("/hint/webhooks")[before:]
            if r.json()["id"] == event["event_id"]
        ]

    bodies = sandbox.wait_for(delivered, timeout=15)
    _ok("webhook_event", bodies)
