"""The editor in a real browser: autosave, the two-tab conflict, and signing (headless Chromium).

Hint is mocked with `responses` in this process (the live server runs in a thread of it).
"""

import os
import shutil

import pytest
from django.db import OperationalError
from django.urls import reverse

from handshake.models import Practice
from interactions import services
from interactions.models import Note
from tests.conftest import open_session
from tests.e2e.browser import csp_watched
from tests.interactions.conftest import (
    DR,
    PATIENT,
    create_url,
    interaction_answer,
    make_note,
    update_url,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="needs Chromium (installed by .ci/run)"
    ),
]


def stored(page, pk: int) -> Note:
    """The note as the database holds it. The live server writes from another thread, and the
    in-memory SQLite test database answers "table is locked" instead of waiting: read again."""
    for _ in range(40):
        try:
            return Note.objects.get(pk=pk)
        except OperationalError:
            page.wait_for_timeout(100)
    return Note.objects.get(pk=pk)


def eventually(page, check, *, seconds: float = 15) -> None:
    """Wait (without asserting on time) until `check()` holds; fail after `seconds`."""
    for _ in range(int(seconds * 4)):
        if check():
            return
        page.wait_for_timeout(250)
    assert check()


@pytest.fixture
def page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls in the test are
    # still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = csp_watched(pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"]))
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_a_clinician_types_sees_it_saved_and_synced_then_signs(
    page, live_server, practice_a: Practice, mocked_hint
) -> None:
    mocked_hint.add_passthru(live_server.url)
    note = make_note(practice_a)
    mocked_hint.post(create_url(), json=interaction_answer(note, title="Knee pain"))
    mocked_hint.patch(update_url(), json=interaction_answer(note, status="signed"))
    key = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    url = live_server.url + reverse("interactions:note", args=[note.pk]) + f"?session_key={key}"

    page.goto(url)
    page.fill("#note-title", "Knee pain")
    page.type("#note-body", "Swelling down since Monday.")
    eventually(page, lambda: stored(page, note.pk).body == "Swelling down since Monday.")
    page.wait_for_selector("#note-status >> text=Synced to Hint", timeout=15_000)

    saved = stored(page, note.pk)
    assert saved.hint_interaction_id == "inter-N0te1"
    assert page.input_value("#note-base-version") == str(saved.version)

    page.click("text=Sign…")
    page.wait_for_selector("text=Sign this note?", timeout=10_000)
    page.click("button:has-text('Sign the note')")
    page.wait_for_selector("text=Signed by", timeout=10_000)
    page.wait_for_selector("#note-status >> text=Synced to Hint", timeout=15_000)

    saved = stored(page, note.pk)
    assert saved.status == Note.Status.SIGNED
    assert saved.hint_status == "signed"


def test_a_second_tab_is_shown_both_versions_instead_of_overwriting(
    page, live_server, practice_a: Practice, mocked_hint
) -> None:
    mocked_hint.add_passthru(live_server.url)
    note = make_note(practice_a, title="Visit", body="Original")
    mocked_hint.post(create_url(), json=interaction_answer(note))
    mocked_hint.patch(update_url(), json=interaction_answer(note))
    key = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    page.goto(
        live_server.url + reverse("interactions:note", args=[note.pk]) + f"?session_key={key}"
    )

    # Another tab saves first.
    services.note_save(
        note=note, title="Visit", body="From the other tab", base_version=1, actor=DR
    )
    page.fill("#note-body", "From this tab")
    page.wait_for_selector("#conflict-notice", timeout=15_000)

    assert "From the other tab" in page.inner_text("#note-conflict")
    assert "From this tab" in page.inner_text("#note-conflict")
    assert stored(page, note.pk).body == "From the other tab"

    page.click("button:has-text('Keep my version')")
    page.wait_for_selector("#note-form", timeout=10_000)
    eventually(page, lambda: stored(page, note.pk).body == "From this tab")


def test_text_typed_just_before_a_reload_is_offered_back(
    page, live_server, practice_a: Practice, mocked_hint
) -> None:
    mocked_hint.add_passthru(live_server.url)
    note = make_note(practice_a, title="Visit", body="Saved part.")
    mocked_hint.post(create_url(), json=interaction_answer(note))
    key = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    url = live_server.url + reverse("interactions:note", args=[note.pk]) + f"?session_key={key}"
    page.goto(url)

    page.fill("#note-body", "Saved part. Typed just before the reload.")
    page.reload()  # before the autosave's pause is over

    page.wait_for_selector("#note-unsaved >> text=Restore it", timeout=10_000)
    page.click("#note-unsaved button")
    eventually(
        page,
        lambda: stored(page, note.pk).body == "Saved part. Typed just before the reload.",
    )


def test_text_typed_as_the_session_expires_survives_reopening_from_hint(
    page, live_server, practice_a: Practice, mocked_hint
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from handshake.models import HintSession

    mocked_hint.add_passthru(live_server.url)
    note = make_note(practice_a, title="Visit", body="Saved part.")
    mocked_hint.post(create_url(), json=interaction_answer(note))
    path = reverse("interactions:note", args=[note.pk])
    key = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    page.goto(f"{live_server.url}{path}?session_key={key}")

    HintSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    page.fill("#note-body", "Saved part. Typed as the session ran out.")
    page.wait_for_selector("text=Please open this app again from Hint", timeout=15_000)
    assert stored(page, note.pk).body == "Saved part."

    again = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    page.goto(f"{live_server.url}{path}?session_key={again}")
    page.click("#note-unsaved button", timeout=10_000)
    eventually(
        page,
        lambda: stored(page, note.pk).body == "Saved part. Typed as the session ran out.",
    )
