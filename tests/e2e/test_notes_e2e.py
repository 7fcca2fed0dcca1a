"""Clinical notes through the sandbox: a clinician writes and signs a note, the sandbox's chart
holds one signed partner interaction, and that interaction opens the same note again."""

import re

import pytest
import requests

from tests.e2e.browser import browser  # noqa: F401 - the fixture
from tests.e2e.live import PRACTICE_A

pytestmark = pytest.mark.e2e


def _key(url: str) -> str:
    return url.split("session_key=", 1)[1].split("&", 1)[0]


def _post(stack, key: str, path: str, data: dict | None = None, **headers: str):
    return requests.post(
        stack.app_url + path,
        data={"session_key": key, **(data or {})},
        headers=headers,
        allow_redirects=False,
        timeout=60,
    )


def _get(stack, key: str, path: str, **headers: str) -> requests.Response:
    return requests.get(
        stack.app_url + path,
        params={"session_key": key},
        headers=headers,
        allow_redirects=False,
        timeout=30,
    )


def _interactions(stack, patient_id: str) -> list[dict]:
    response = stack.provider(PRACTICE_A).get(
        f"{stack.sandbox_url}/api/provider/interactions",
        params={"patient_id": patient_id, "type": "partner", "limit": 100},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def _ours(stack, patient_id: str, note_id: int) -> list[dict]:
    return [
        i for i in _interactions(stack, patient_id) if i["integration_record_id"] == str(note_id)
    ]


def test_a_clinician_writes_and_signs_a_note_that_the_chart_shows_signed(live_stack):
    stack = live_stack
    stack.install(PRACTICE_A)
    patient_id = stack.patients(PRACTICE_A, limit=1, offset=3)[0]["id"]
    key = _key(stack.handshake(PRACTICE_A, "clinician", "clinical_chart", patient_id=patient_id))

    # From the chart panel: New note → the editor.
    panel = _get(stack, key, "/hint/notes/panels/chart", **{"HX-Request": "true"})
    assert panel.status_code == 200 and "New note" in panel.text
    created = _post(stack, key, "/hint/notes/new", {"patient_id": patient_id})
    assert created.status_code == 303, created.text
    note_path = created.headers["Location"].split("?", 1)[0]
    note_id = int(re.search(r"/hint/notes/(\d+)/", note_path).group(1))
    assert 'id="note-form"' in _get(stack, key, note_path).text

    # Autosave, then the status line's push with the session's token.
    saved = _post(
        stack,
        key,
        f"/hint/notes/{note_id}/save",
        {"base_version": "1", "title": "Knee follow-up", "body": "Swelling down."},
        **{"HX-Request": "true"},
    )
    assert saved.status_code == 200 and "Saved here at" in saved.text
    synced = _post(stack, key, f"/hint/notes/{note_id}/sync", **{"HX-Request": "true"})
    assert "Synced to Hint" in synced.text, synced.text
    (draft,) = _ours(stack, patient_id, note_id)
    assert (draft["status"], draft["title"]) == ("draft", "Knee follow-up")
    assert draft["integration_web_link"].endswith(f"/hint/notes/{note_id}/")

    # Sign after the confirmation page.
    assert "Sign the note" in _get(stack, key, f"/hint/notes/{note_id}/sign").text
    signed = _post(stack, key, f"/hint/notes/{note_id}/sign", {"version": "2"})
    assert signed.status_code == 303, signed.text
    _post(stack, key, f"/hint/notes/{note_id}/sync", **{"HX-Request": "true"})
    (interaction,) = _ours(stack, patient_id, note_id)
    assert interaction["id"] == draft["id"]
    assert interaction["status"] == "signed"
    page = _get(stack, key, note_path).text
    assert "Signed by" in page and "Synced to Hint" in page

    # The sandbox's chart lists it; opening it (clinical_interaction) opens the same note.
    chart = requests.get(f"{stack.sandbox_url}/patients/{patient_id}/", timeout=30).text
    assert "Knee follow-up" in chart
    back = _key(
        stack.handshake(
            PRACTICE_A,
            "clinician",
            "clinical_interaction",
            patient_id=patient_id,
            interaction_id=interaction["id"],
        )
    )
    opened = _get(stack, back, "/hint/notes/panels/interaction", **{"HX-Request": "true"})
    assert opened.headers["HX-Redirect"].startswith(note_path + "?session_key=")


def test_a_staff_user_cannot_sign(live_stack):
    stack = live_stack
    stack.install(PRACTICE_A)
    patient_id = stack.patients(PRACTICE_A, limit=1, offset=4)[0]["id"]
    key = _key(stack.handshake(PRACTICE_A, "staff", "clinical_chart", patient_id=patient_id))
    created = _post(stack, key, "/hint/notes/new", {"patient_id": patient_id})
    note_id = int(re.search(r"/hint/notes/(\d+)/", created.headers["Location"]).group(1))
    _post(stack, key, f"/hint/notes/{note_id}/save", {"base_version": "1", "body": "Draft."})

    refused = _post(stack, key, f"/hint/notes/{note_id}/sign", {"version": "2"})

    assert refused.status_code == 403
    assert "clinician" in refused.text


def test_with_hint_failing_the_text_is_kept_and_lands_once_hint_answers(live_stack):
    stack = live_stack
    stack.install(PRACTICE_A)
    patient_id = stack.patients(PRACTICE_A, limit=1, offset=5)[0]["id"]
    key = _key(stack.handshake(PRACTICE_A, "clinician", "clinical_chart", patient_id=patient_id))
    created = _post(stack, key, "/hint/notes/new", {"patient_id": patient_id})
    note_id = int(re.search(r"/hint/notes/(\d+)/", created.headers["Location"]).group(1))

    with stack.faults(fault_error_rate=1.0):
        _post(stack, key, f"/hint/notes/{note_id}/save", {"base_version": "1", "body": "Kept."})
        status = _post(stack, key, f"/hint/notes/{note_id}/sync", **{"HX-Request": "true"}).text
        assert "waiting to reach Hint" in status
        assert "Kept." in _get(stack, key, f"/hint/notes/{note_id}/").text

    # The page (or the worker's retry) tries again: exactly one interaction in Hint.
    _post(stack, key, f"/hint/notes/{note_id}/sync", **{"HX-Request": "true"})
    stack.wait_for(lambda: len(_ours(stack, note_id=note_id, patient_id=patient_id)) == 1)
    assert "Synced to Hint" in _get(stack, key, f"/hint/notes/{note_id}/status").text


def test_a_create_that_times_out_after_hint_stored_it_leaves_exactly_one_interaction(live_stack):
    stack = live_stack
    stack.install(PRACTICE_A)
    patient_id = stack.patients(PRACTICE_A, limit=1, offset=6)[0]["id"]
    key = _key(stack.handshake(PRACTICE_A, "clinician", "clinical_chart", patient_id=patient_id))
    created = _post(stack, key, "/hint/notes/new", {"patient_id": patient_id})
    note_id = int(re.search(r"/hint/notes/(\d+)/", created.headers["Location"]).group(1))
    _post(stack, key, f"/hint/notes/{note_id}/save", {"base_version": "1", "title": "Late"})

    # The sandbox stores the interaction, then answers after the app's read timeout (20 s).
    with stack.faults(fault_late_success_rate=1.0, fault_slow_seconds=21):
        status = _post(stack, key, f"/hint/notes/{note_id}/sync", **{"HX-Request": "true"}).text
    assert "waiting to reach Hint" in status
    assert len(_ours(stack, patient_id, note_id)) == 1  # Hint has it; we never saw the answer

    _post(stack, key, f"/hint/notes/{note_id}/sync", **{"HX-Request": "true"})

    assert "Synced to Hint" in _get(stack, key, f"/hint/notes/{note_id}/status").text
    assert len(_ours(stack, patient_id, note_id)) == 1


@pytest.mark.browser
def test_in_the_sandbox_a_clinician_writes_signs_and_comes_back_from_the_chart(
    live_stack,
    browser,  # noqa: F811
):
    stack = live_stack
    stack.install(PRACTICE_A)
    patient_id = stack.patients(PRACTICE_A, limit=1, offset=7)[0]["id"]
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    context.add_cookies(
        [
            {"name": "sbx_practice", "value": PRACTICE_A, "url": stack.sandbox_url},
            {"name": "sbx_user", "value": "user-sbx-clinician", "url": stack.sandbox_url},
        ]
    )
    page = context.new_page()
    try:
        page.goto(f"{stack.sandbox_url}/patients/{patient_id}/")
        frame = page.frame_locator("iframe.app-frame")
        frame.get_by_role("button", name="New note").click(timeout=20_000)
        frame.locator("#note-title").fill("Shoulder review")
        frame.locator("#note-body").press_sequentially("Range of motion improved.")
        frame.get_by_text("Synced to Hint").wait_for(timeout=20_000)

        frame.get_by_role("button", name="Sign…").click()
        frame.get_by_role("button", name="Sign the note").click(timeout=15_000)
        frame.get_by_text("Signed by").wait_for(timeout=15_000)
        frame.get_by_text("Synced to Hint").wait_for(timeout=20_000)

        # The chart moves to another patient (the SDK's callback): the frame follows.
        page.select_option("select[data-sdk-patient]", index=1)
        frame.get_by_text("No notes for this patient yet.").wait_for(timeout=20_000)

        # Hint's chart lists the signed interaction; opening it opens the same note.
        page.goto(f"{stack.sandbox_url}/patients/{patient_id}/")
        entry = page.locator("p", has=page.get_by_role("link", name="Shoulder review"))
        assert entry.locator(".badge").inner_text() == "signed"
        entry.get_by_role("link", name="Shoulder review").click()
        frame = page.frame_locator("iframe.app-frame[data-surface=clinical_interaction]")
        frame.get_by_text("Range of motion improved.").wait_for(timeout=20_000)
        assert frame.get_by_text("Signed by").count() == 1
    finally:
        context.close()
