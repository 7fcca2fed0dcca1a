"""The editor in a real browser: autosave, the two-tab conflict, and signing (headless Chromium).

Hint is mocked with `responses` in this process (the live server runs in a thread of it).
"""

import os
import shutil

import pytest
from django.conf import settings
from django.db import OperationalError
from django.urls import reverse

from handshake.models import HintSession, Practice
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


def drafts(page) -> dict[str, dict]:
    """The unsaved text the editor keeps in this browser's localStorage, by key."""
    return page.evaluate(
        """() => Object.fromEntries(Object.keys(localStorage)
            .filter((k) => k.startsWith("hintpartner-draft:"))
            .map((k) => [k, JSON.parse(localStorage.getItem(k))]))"""
    )


def note_url(live_server, note: Note, key: str) -> str:
    return live_server.url + reverse("interactions:note", args=[note.pk]) + f"?session_key={key}"


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
    assert drafts(page) == {}  # nothing of a signed note stays on the device


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


# Every text the status line shows, in order (what a screen reader would have heard).
STATUS_WATCH = """() => {
  window.__statuses = [];
  const seen = () => {
    const el = document.getElementById("note-status");
    const words = el ? el.innerText.trim() : "";
    const last = window.__statuses[window.__statuses.length - 1];
    if (words && words !== last) window.__statuses.push(words);
  };
  new MutationObserver(seen).observe(document.body,
    {subtree: true, childList: true, attributes: true, characterData: true});
  seen();
}"""


def status(page) -> str:
    return page.inner_text("#note-status").strip()


def test_the_status_line_says_only_what_holds_while_typing_saving_syncing_and_in_conflict(
    page, live_server, practice_a: Practice, mocked_hint
) -> None:
    mocked_hint.add_passthru(live_server.url)
    note = make_note(practice_a, title="Visit", body="")
    mocked_hint.post(create_url(), json=interaction_answer(note, title="Visit"))
    mocked_hint.patch(update_url(), json=interaction_answer(note, title="Visit"))
    key = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    page.goto(note_url(live_server, note, key))
    page.evaluate(STATUS_WATCH)

    # Typing: the editor's text is not stored yet.
    page.type("#note-body", "Knee better.")
    assert status(page) == "Not saved yet"
    # Saved, then pushed: "Saving…", "Saved here … waiting to reach Hint", "… Synced to Hint".
    eventually(page, lambda: stored(page, note.pk).body == "Knee better.")
    page.wait_for_selector("#note-status >> text=Synced to Hint", timeout=15_000)
    seen = page.evaluate("window.__statuses")
    typed = seen.index("Not saved yet")
    synced = next(i for i, words in enumerate(seen) if "Synced to Hint" in words)
    assert "Saving…" in seen[typed:synced], seen
    assert any("Saved here" in w and "waiting to reach Hint" in w for w in seen[typed:synced]), seen
    assert all("Synced" not in words for words in seen[:synced]), seen

    # Typing on top of a synced note: never "Synced" until that text is stored and pushed.
    page.type("#note-body", " Walking.")
    assert status(page) == "Not saved yet"
    page.wait_for_selector("#note-status >> text=Synced to Hint", timeout=15_000)

    # Another tab saves; this tab's next words are refused, and the line says so.
    services.note_save(
        note=stored(page, note.pk),
        title="Visit",
        body="From the other tab",
        base_version=stored(page, note.pk).version,
        actor=DR,
    )
    page.type("#note-body", " Stairs.")
    assert "Synced" not in status(page)
    page.wait_for_selector("#conflict-notice", timeout=15_000)
    assert status(page) == "Not saved: conflict"
    page.type("#note-body", " More.")
    assert status(page) == "Not saved: conflict"


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

    page.wait_for_selector(
        "#note-unsaved >> text=You have unsaved text kept on this device", timeout=10_000
    )
    page.click("#note-unsaved >> text=Restore")
    eventually(
        page,
        lambda: stored(page, note.pk).body == "Saved part. Typed just before the reload.",
    )
    eventually(page, lambda: drafts(page) == {})


# --- unsaved text through an expired session, a change of patient and a new tab ---------------

FAKE_SDK = """
window.HintSDK = {
  init: function (callback) { setTimeout(callback, 0); },
  onCurrentPatientChanged: function (callback) { window.__patientChanged = callback; }
};
"""


@pytest.fixture
def context(monkeypatch):
    """A browser context for several tabs sharing one localStorage (as Hint's tabs do)."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = csp_watched(pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"]))
        try:
            yield browser.new_context()
        finally:
            browser.close()


def test_an_autosave_after_the_session_expired_keeps_the_text_and_offers_it_back(
    page, live_server, practice_a: Practice, mocked_hint
) -> None:
    mocked_hint.add_passthru(live_server.url)
    note = make_note(practice_a, title="Visit", body="Saved part.")
    mocked_hint.post(create_url(), json=interaction_answer(note))
    key = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    page.goto(note_url(live_server, note, key))

    HintSession.objects.all().delete()
    page.fill("#note-body", "Saved part. Typed as the session ran out.")
    page.wait_for_selector("#note-expired >> text=kept on this device", timeout=15_000)

    assert page.input_value("#note-body") == "Saved part. Typed as the session ran out."
    assert "open this note again from Hint" in page.inner_text("#note-expired")
    assert page.locator("text=Please open this app again from Hint").count() == 0
    assert stored(page, note.pk).body == "Saved part."
    (kept,) = drafts(page).values()
    assert kept["body"] == "Saved part. Typed as the session ran out."
    assert key not in page.evaluate("JSON.stringify(localStorage)")

    again = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    page.goto(note_url(live_server, note, again))
    page.wait_for_selector(
        "#note-unsaved >> text=You have unsaved text kept on this device", timeout=10_000
    )
    assert page.input_value("#note-body") == "Saved part."  # nothing replaced until chosen
    page.click("#note-unsaved >> text=Restore")

    eventually(
        page, lambda: stored(page, note.pk).body == "Saved part. Typed as the session ran out."
    )
    eventually(page, lambda: drafts(page) == {})
    assert page.is_hidden("#note-expired")


def test_following_the_chart_to_another_patient_saves_the_text_first(
    page, live_server, practice_a: Practice, mocked_hint
) -> None:
    mocked_hint.add_passthru(live_server.url)
    note = make_note(practice_a, title="Visit", body="Saved part.")
    mocked_hint.post(create_url(), json=interaction_answer(note))
    page.route(
        f"{settings.HINT_API_URL}/hint-sdk.js",
        lambda route: route.fulfill(body=FAKE_SDK, content_type="text/javascript"),
    )
    seen: list[str] = []
    page.on("response", lambda r: seen.append("saved") if "/save?" in r.url + "?" else None)
    page.on("request", lambda r: seen.append("chart") if "/hint/clinical_chart" in r.url else None)
    key = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    page.goto(note_url(live_server, note, key))
    page.wait_for_function("window.__patientChanged !== undefined")

    page.fill("#note-body", "Saved part. Typed a moment before the chart moved.")
    assert seen == []  # the autosave waits for a pause in typing
    with page.expect_navigation(url="**/hint/clinical_chart**"):
        page.evaluate("window.__patientChanged({id: 'pat-Bob2', name: 'Bob Doe'})")

    assert seen[:2] == ["saved", "chart"]
    assert stored(page, note.pk).body == "Saved part. Typed a moment before the chart moved."
    assert drafts(page) == {}


def test_a_save_that_fails_as_the_chart_moves_leaves_the_text_on_the_device(
    page, live_server, practice_a: Practice, mocked_hint
) -> None:
    mocked_hint.add_passthru(live_server.url)
    note = make_note(practice_a, title="Visit", body="Saved part.")
    page.route(
        f"{settings.HINT_API_URL}/hint-sdk.js",
        lambda route: route.fulfill(body=FAKE_SDK, content_type="text/javascript"),
    )
    page.route("**/save?*", lambda route: route.abort())  # the network drops the save
    key = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    page.goto(note_url(live_server, note, key))
    page.wait_for_function("window.__patientChanged !== undefined")

    page.fill("#note-body", "Saved part. Typed as the network dropped.")
    with page.expect_navigation(url="**/hint/clinical_chart**"):
        page.evaluate("window.__patientChanged({id: 'pat-Bob2', name: 'Bob Doe'})")

    assert stored(page, note.pk).body == "Saved part."
    (kept,) = drafts(page).values()
    assert kept["body"] == "Saved part. Typed as the network dropped."


def test_unsaved_text_from_a_closed_tab_is_offered_in_a_new_one(
    context, live_server, practice_a: Practice, mocked_hint
) -> None:
    mocked_hint.add_passthru(live_server.url)
    note = make_note(practice_a, title="Visit", body="Saved part.")
    mocked_hint.post(create_url(), json=interaction_answer(note))
    first = context.new_page()
    first.goto(note_url(live_server, note, open_session(practice_a, ["clinician"])))
    first.fill("#note-body", "Saved part. Typed in a tab that closed.")
    first.close()  # before the autosave's pause is over

    second = context.new_page()
    second.goto(note_url(live_server, note, open_session(practice_a, ["clinician"])))
    assert stored(second, note.pk).body == "Saved part."
    second.wait_for_selector(
        "#note-unsaved >> text=You have unsaved text kept on this device", timeout=10_000
    )
    second.click("#note-unsaved >> text=Restore")

    eventually(
        second, lambda: stored(second, note.pk).body == "Saved part. Typed in a tab that closed."
    )
    eventually(second, lambda: drafts(second) == {})


def test_discarding_the_offered_text_forgets_it_and_keeps_the_saved_note(
    context, live_server, practice_a: Practice, mocked_hint
) -> None:
    mocked_hint.add_passthru(live_server.url)
    note = make_note(practice_a, title="Visit", body="Saved part.")
    first = context.new_page()
    first.goto(note_url(live_server, note, open_session(practice_a, ["clinician"])))
    first.fill("#note-body", "Saved part. Then a thought to drop.")
    first.close()

    second = context.new_page()
    second.goto(note_url(live_server, note, open_session(practice_a, ["clinician"])))
    second.click("#note-unsaved >> text=Discard", timeout=10_000)

    assert second.is_hidden("#note-unsaved")
    assert drafts(second) == {}
    assert second.input_value("#note-body") == "Saved part."
    assert stored(second, note.pk).body == "Saved part."
