"""Keyboard alone, in headless Chromium against the sandbox: "Sync to Hint" previews and links a
contact, and the note editor writes and signs a note. Only Tab, Space, Enter and typing."""

import uuid

import pytest
import requests

from tests.e2e.browser import browser  # noqa: F401 - the fixture
from tests.e2e.live import PRACTICE_A

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _tab_to(page, selector: str, text: str = "", limit: int = 60) -> None:
    """Press Tab until the focused element matches `selector` (and shows `text`, if given)."""
    check = (
        "([s, t]) => { const e = document.activeElement;"
        " return !!e && e.matches(s) && (!t || e.textContent.trim() === t); }"
    )
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(check, [selector, text]):
            # The focus ring must be visible on what the keyboard reached.
            outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", selector
            return
    raise AssertionError(f"Tab never reached {selector} {text}")


def test_sync_to_hint_by_keyboard_alone(live_stack, browser):  # noqa: F811
    stack = live_stack
    stack.install(PRACTICE_A)
    url = stack.handshake(PRACTICE_A, "admin", "core_page")
    key = url.split("session_key=", 1)[1].split("&", 1)[0]
    last = "Keys" + uuid.uuid4().hex[:8]
    stack.trigger(
        PRACTICE_A, "create", fields={"first_name": "Kira", "last_name": last, "dob": "1970-03-04"}
    )
    created = requests.post(
        stack.app_url + "/hint/sync/contacts/new",
        data={"session_key": key, "first_name": "Kira", "last_name": last, "dob": "1970-03-04"},
        allow_redirects=False,
        timeout=30,
    )
    contact_path = created.headers["Location"].split("?", 1)[0]
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        page.goto(f"{stack.app_url}{contact_path}?session_key={key}")
        _tab_to(page, "a.button", "Sync to Hint")
        page.keyboard.press("Enter")
        page.wait_for_selector("#hint-results input[type=radio]", timeout=20_000)
        _tab_to(page, "#hint-q")
        _tab_to(page, "#hint-results input[type=radio]")
        page.keyboard.press("Space")
        _tab_to(page, "button", "Preview changes")
        page.keyboard.press("Enter")
        page.get_by_text("Nothing has been written yet").wait_for(timeout=20_000)
        _tab_to(page, "button", "Sync patient")
        page.keyboard.press("Enter")
        page.get_by_text("Synced to Hint").first.wait_for(timeout=20_000)
    finally:
        page.close()


def test_the_note_editor_by_keyboard_alone(live_stack, browser):  # noqa: F811
    stack = live_stack
    stack.install(PRACTICE_A)
    patient_id = stack.patients(PRACTICE_A, limit=1, offset=11)[0]["id"]
    url = stack.handshake(PRACTICE_A, "clinician", "clinical_chart", patient_id=patient_id)
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        page.goto(url)
        page.get_by_role("button", name="New note").wait_for(timeout=20_000)
        _tab_to(page, "button", "New note")
        page.keyboard.press("Enter")
        page.wait_for_selector("#note-title", timeout=20_000)
        _tab_to(page, "#note-title")
        page.keyboard.type("Keyboard review")
        _tab_to(page, "#note-body")
        page.keyboard.type("Written without a mouse.")
        page.get_by_text("Synced to Hint").wait_for(timeout=20_000)
        _tab_to(page, "button", "Sign…")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Sign the note").wait_for(timeout=15_000)
        _tab_to(page, "button", "Sign the note")
        page.keyboard.press("Enter")
        page.get_by_text("Signed by").wait_for(timeout=15_000)
    finally:
        page.close()
