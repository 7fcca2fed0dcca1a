"""An admin manages contacts against the sandbox over real HTTP: the chart link, the export that
a CSV batch takes as it is, and deleting a linked contact, which leaves Hint's patient with all
its details and none of our integration fields."""

import re
import uuid

import pytest

from tests.e2e.flows import app_get as _get
from tests.e2e.flows import app_post as _post
from tests.e2e.flows import link
from tests.e2e.flows import session_key as _key
from tests.e2e.live import PRACTICE_A

pytestmark = pytest.mark.e2e


def _sandbox_patient(stack, patient_id: str) -> dict:
    response = stack.provider(PRACTICE_A).get(
        f"{stack.sandbox_url}/api/provider/patients/{patient_id}", timeout=10
    )
    response.raise_for_status()
    return response.json()


def test_export_feeds_a_csv_batch_and_delete_clears_our_fields_in_hint(live_stack):
    stack = live_stack
    stack.install(PRACTICE_A)
    key = _key(stack.handshake(PRACTICE_A, "admin", "core_page"))
    last = "Del" + uuid.uuid4().hex[:8]
    fields = {"first_name": "Dora", "last_name": last, "dob": "1977-07-07"}
    patient_id = stack.trigger(PRACTICE_A, "create", fields=fields)["patient_id"]
    created = _post(stack, key, "/hint/sync/contacts/new", {**fields, "city": "Delville"})
    assert created.status_code == 303, created.text[:500]
    contact_path = created.headers["Location"].split("?", 1)[0]
    contact_id = contact_path.rstrip("/").rsplit("/", 1)[1]
    linked = link(stack, key, contact_path, patient_id)
    assert linked.status_code == 303, linked.text[:500]
    assert _sandbox_patient(stack, patient_id)["integration_record_id"] == contact_id

    # The contact's page links to the patient's chart in Hint, in Hint's own window.
    page = _get(stack, key, contact_path).text
    chart = re.search(r'href="([^"]+)" target="_top" rel="noopener">Open the chart in Hint', page)
    assert chart and chart.group(1) == _sandbox_patient(stack, patient_id)["provider_web_link"]

    # Export (filtered to this contact), then upload the file unchanged as a CSV batch.
    export = _get(stack, key, "/hint/sync/contacts/export.csv", q=last)
    assert export.status_code == 200
    lines = export.content.decode().splitlines()
    assert lines[0].startswith("contact_id,") and lines[1].startswith(f"{contact_id},")
    uploaded = _post(
        stack,
        key,
        "/hint/sync/batches/csv",
        files={"file": ("contacts.csv", export.content, "text/csv")},
    )
    assert uploaded.status_code == 303, uploaded.text[:500]

    def batch_done() -> str:
        text = _get(stack, key, uploaded.headers["Location"].split("?", 1)[0]).text
        return text if 'badge success">finished' in text else ""

    report = stack.wait_for(batch_done, timeout=60)
    assert "skipped: contact already linked: 1" in report

    # Delete: the confirmation says what happens; while Hint fails nothing is deleted; then
    # Hint's patient loses only our fields.
    confirm = _get(stack, key, f"{contact_path}/delete").text
    assert "the link is removed from that patient in Hint" in confirm
    with stack.faults(fault_error_rate=1.0):
        refused = _post(stack, key, f"{contact_path}/delete")
    assert refused.status_code == 503 and "Nothing was deleted" in refused.text
    assert _get(stack, key, contact_path).status_code == 200
    deleted = _post(stack, key, f"{contact_path}/delete")
    assert deleted.status_code == 303, deleted.text[:500]
    patient = _sandbox_patient(stack, patient_id)
    assert not patient["integration_record_id"] and not patient["integration_web_link"]
    assert (patient["first_name"], patient["last_name"]) == ("Dora", last)
    assert _get(stack, key, contact_path).status_code == 404
