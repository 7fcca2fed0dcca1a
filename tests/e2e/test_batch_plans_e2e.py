"""A batch plan against the sandbox, as a new admin would: preview the patients batch (Hint's
patients and the sandbox's event log unchanged), read the plan, apply it, and find the same
counts in the result."""

import csv
import io
import re
import uuid
from collections import Counter

import pytest
import requests

from tests.e2e.live import PRACTICE_A

pytestmark = pytest.mark.e2e


def _key(url: str) -> str:
    return url.split("session_key=", 1)[1].split("&", 1)[0]


def _get(stack, key: str, path: str, **params) -> requests.Response:
    return requests.get(
        stack.app_url + path, params=params, headers={"X-Hint-Session-Key": key}, timeout=20
    )


def _post(stack, key: str, path: str, data=None) -> requests.Response:
    return requests.post(
        stack.app_url + path,
        data={"session_key": key, **(data or {})},
        allow_redirects=False,
        timeout=30,
    )


def _all_patients(stack) -> list[dict]:
    patients, offset = [], 0
    while page := stack.patients(PRACTICE_A, offset=offset, limit=100):
        patients.extend(page)
        offset += len(page)
    return sorted(patients, key=lambda p: p["id"])


def _page_with(stack, key: str, path: str, text: str) -> str:
    page = _get(stack, key, path).text
    return page if text in page else ""


def _outcomes(stack, key: str, path: str) -> tuple[Counter, list[list[str]]]:
    rows = list(csv.reader(io.StringIO(_get(stack, key, f"{path}/rows.csv").text)))
    return Counter(row[1] for row in rows[1:]), rows[1:]


def test_preview_a_patients_batch_read_the_plan_apply_it_and_get_the_same_counts(live_stack):
    stack = live_stack
    stack.install(PRACTICE_A)
    key = _key(stack.handshake(PRACTICE_A, "admin", "settings"))
    last = "Plan" + uuid.uuid4().hex[:8]
    patient_id = stack.trigger(
        PRACTICE_A, "create", fields={"first_name": "Pia", "last_name": last, "dob": "1977-02-03"}
    )["patient_id"]
    created = _post(
        stack,
        key,
        "/hint/sync/contacts/new",
        {"first_name": "Pia", "last_name": last, "dob": "1977-02-03", "email": "pia@e2e.test"},
    )
    assert created.status_code == 303, created.text[:500]
    stack.wait_for(lambda: not _get(stack, key, "/hint/sync/batches/").text.count("Watch its"), 60)
    batches = _get(stack, key, "/hint/sync/batches/").text
    assert "Preview" in batches and "“Create a contact when no match” is" in batches

    before, events_before = _all_patients(stack), len(stack.events())
    previewed = _post(stack, key, "/hint/sync/batches/patients/plan")
    assert previewed.status_code == 303, previewed.text[:500]
    plan_path = previewed.headers["Location"].split("?", 1)[0]
    page = stack.wait_for(lambda: _page_with(stack, key, plan_path, "Apply this plan</button>"), 60)

    # Nothing written: Hint's patients are as they were, and no change event was emitted.
    assert _all_patients(stack) == before
    assert len(stack.events()) == events_before
    assert "Plan: nothing has been written yet" in page
    assert "would link and merge" in page  # our contact and its patient
    planned, plan_rows = _outcomes(stack, key, plan_path)
    assert any(row[3] == patient_id and row[1] == "linked" for row in plan_rows)
    assert re.search(r"would be created if the option were on|would be created for", page)

    applied = _post(stack, key, f"{plan_path}/apply")
    assert applied.status_code == 303, applied.text[:500]
    result = stack.wait_for(lambda: _page_with(stack, key, plan_path, 'success">finished'), 90)
    assert "Applied plan" in result
    done, done_rows = _outcomes(stack, key, plan_path)
    assert done == planned
    assert not [row for row in done_rows if row[7] == "yes"]  # nothing changed in between
    linked = stack.provider(PRACTICE_A).get(
        f"{stack.sandbox_url}/api/provider/patients/{patient_id}", timeout=10
    )
    assert linked.json()["integration_record_id"]
