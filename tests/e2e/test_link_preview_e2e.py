""" "Sync to Hint" over real HTTP against the sandbox: the preview changes nothing in Hint,
"Sync patient" leaves the sandbox's patient exactly as the preview said, and Unlink, confirmed,
takes our fields off it."""

import html
import re
import uuid

import pytest
import requests

from sync import fieldmap, preview
from tests.e2e.live import PRACTICE_A

pytestmark = pytest.mark.e2e

ROW = re.compile(
    r'<th scope="row">([^<]+?)\s*(?:<span[^>]*>[^<]*</span>)?</th>\s*'
    r"<td>([^<]*)</td>\s*<td>([^<]*)</td>\s*<td><strong>([^<]*)</strong></td>\s*"
    r"<td><span[^>]*>([^<]*)</span></td>"
)
BY_LABEL = {label: name for name, label in fieldmap.LABELS.items()}


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


def _sandbox_patient(stack, patient_id: str) -> dict:
    response = stack.provider(PRACTICE_A).get(
        f"{stack.sandbox_url}/api/provider/patients/{patient_id}", timeout=10
    )
    response.raise_for_status()
    return response.json()


def _rows(page: str) -> dict[str, dict[str, str]]:
    """The preview's table as a person reads it: field name → contact, Hint, after, effect."""
    rows = {}
    blank = {"\u2013": ""}  # the page's dash for a blank
    for label, ours, theirs, after, effect in ROW.findall(page):
        cells = [html.unescape(c.strip()) for c in (ours, theirs, after, effect)]
        ours, theirs, after, effect = (blank.get(c, c) for c in cells)
        rows[BY_LABEL[html.unescape(label.strip())]] = {
            "contact": ours,
            "hint": theirs,
            "after": after,
            "effect": effect,
        }
    return rows


def test_preview_then_sync_changes_the_sandbox_patient_exactly_as_previewed(live_stack):
    stack = live_stack
    stack.install(PRACTICE_A)
    key = stack.handshake(PRACTICE_A, "admin", "core_page").split("session_key=", 1)[1]
    key = key.split("&", 1)[0]
    last = "Preview" + uuid.uuid4().hex[:8]
    names = {"first_name": "Pia", "last_name": last, "dob": "1975-08-09"}
    patient_id = stack.trigger(
        PRACTICE_A,
        "create",
        fields={**names, "email": "pia.hint@e2e.test", "address_city": "Hintville"},
    )["patient_id"]
    created = _post(
        stack,
        key,
        "/hint/sync/contacts/new",
        {**names, "email": "pia.here@e2e.test", "office_phone": "(201) 555-0142", "city": ""},
    )
    assert created.status_code == 303, created.text[:500]
    contact_path = created.headers["Location"].split("?", 1)[0]
    contact_id = contact_path.rsplit("/", 1)[1]
    before = _sandbox_patient(stack, patient_id)

    # The preview: each field's two sides and the result; nothing reaches Hint.
    shown = _get(stack, key, f"{contact_path}/link", patient_id=patient_id)
    assert shown.status_code == 200, shown.text[:500]
    rows = _rows(shown.text)
    assert set(rows) == set(fieldmap.ALL_FIELDS)
    assert rows["email"] == {
        "contact": "pia.here@e2e.test",
        "hint": "pia.hint@e2e.test",
        "after": "pia.here@e2e.test",
        "effect": "Contact wins: replaces Hint's value",
    }
    assert rows["city"]["after"] == "Hintville"
    assert rows["city"]["effect"] == "Fills the contact's blank from Hint"
    assert _sandbox_patient(stack, patient_id) == before  # updated_at included

    # "Sync patient": Hint's patient now holds, field by field, what the preview said.
    seen = re.search(r'name="seen" value="([^"]*)"', shown.text).group(1)
    synced = _post(stack, key, f"{contact_path}/link", {"patient_id": patient_id, "seen": seen})
    assert synced.status_code == 303, synced.text[:500]
    after = _sandbox_patient(stack, patient_id)
    values = fieldmap.patient_values(after)
    assert {name: preview.value_text(name, values[name]) for name in fieldmap.TWO_WAY_FIELDS} == {
        name: rows[name]["after"] for name in fieldmap.TWO_WAY_FIELDS
    }
    written = {
        n for n, row in rows.items() if row["effect"].startswith(("Contact wins", "Fills Hint"))
    }
    unchanged = set(fieldmap.TWO_WAY_FIELDS) - written
    assert "email" in written and "office_phone" in written
    old = fieldmap.patient_values(before)
    assert {n: values[n] for n in unchanged} == {n: old[n] for n in unchanged}
    assert after["integration_record_id"] == contact_id
    page = _get(stack, key, contact_path, done="linked").text
    assert "Synced to Hint" in page and "now linked to the patient" in page

    # Unlink, confirmed: the patient keeps its details and loses our fields.
    confirm = _get(stack, key, f"{contact_path}/unlink")
    assert "integration record id" in confirm.text
    assert after["integration_record_id"] == contact_id  # the confirmation changed nothing
    unlinked = _post(stack, key, f"{contact_path}/unlink")
    assert unlinked.status_code == 303, unlinked.text[:500]
    gone = _sandbox_patient(stack, patient_id)
    assert not gone["integration_record_id"] and not gone["integration_web_link"]
    assert gone["integration_sync_status"] == "unsynced"
    assert gone["email"] == "pia.here@e2e.test"
    done = _get(stack, key, unlinked.headers["Location"].split("?", 1)[0], done="unlinked").text
    assert "The contact was unlinked" in done and "Not linked to a Hint patient" in done
