"""Surfaces in a real browser (headless Chromium): Hint's SDK callbacks, and the 1024x768 frame.

Hint's SDK is replaced by a small fake served at HINT_SDK_URL through Playwright's routing.
"""

import os
import shutil

import pytest
from django.conf import settings

from handshake.models import HintSession, Practice
from handshake.services import key_hash
from tests.conftest import open_session
from tests.e2e.browser import csp_watched

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="needs Chromium (installed by .ci/run)"
    ),
]

FAKE_SDK = """
window.HintSDK = {
  currentPatient: null,
  init: function (callback) {
    var next = new URLSearchParams(location.search).get("patient_id");
    this.currentPatient = next === "pat-2" ? {id: "pat-2", name: "Alex Doe"}
                                           : {id: "pat-1", name: "Jordan Smith"};
    window.__sdkInitialised = true;
    setTimeout(callback, 0);
  },
  onCurrentPatientChanged: function (callback) { window.__patientChanged = callback; }
};
"""


@pytest.fixture
def page(monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = csp_watched(pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"]))
        try:
            page = browser.new_page(viewport={"width": 1024, "height": 768})
            page.route(
                f"{settings.HINT_API_URL}/hint-sdk.js",
                lambda route: route.fulfill(body=FAKE_SDK, content_type="text/javascript"),
            )
            yield page
        finally:
            browser.close()


def test_the_chart_surface_follows_the_patient_the_sdk_reports(
    page, live_server, practice_a: Practice
) -> None:
    key = open_session(practice_a, ["clinician"], patient_id="pat-1")
    page.goto(f"{live_server.url}/hint/clinical_chart?session_key={key}")
    page.wait_for_function("window.__patientChanged !== undefined")
    assert page.inner_text("[data-hint-patient-name]") == "Jordan Smith"

    with page.expect_navigation():
        page.evaluate("window.__patientChanged({id: 'pat-2', name: 'Alex Doe'})")
    page.wait_for_function("window.__patientChanged !== undefined")
    assert page.get_attribute("#hint-surface", "data-patient-id") == "pat-2"
    assert page.inner_text("[data-hint-patient-name]") == "Alex Doe"
    assert HintSession.objects.get(key_hash=key_hash(key)).patient_id == "pat-2"


@pytest.mark.parametrize("surface", ["core_page", "settings"])
def test_core_page_and_settings_fit_the_frame_without_scrollbars(
    page, live_server, practice_a: Practice, surface: str
) -> None:
    key = open_session(practice_a, ["admin"])
    for user in range(8):  # a settings page with a user list that needs its own scrolling
        open_session(practice_a, ["staff"], user_id=f"user-extra-{user}")
    page.goto(f"{live_server.url}/hint/{surface}?session_key={key}")
    size = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert size[0] <= 1024 and size[1] <= 768


@pytest.mark.parametrize("width", [393, 480, 720])
def test_surfaces_step_down_to_phone_widths_without_sideways_scrolling(
    page, live_server, practice_a: Practice, width: int
) -> None:
    key = open_session(practice_a, ["admin"])
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{live_server.url}/hint/settings?session_key={key}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [1024, 393])
@pytest.mark.parametrize("state", ["denied", "expired"])
def test_a_denial_or_an_expired_session_in_the_chart_strip_reports_its_own_height(
    page, live_server, practice_a: Practice, state: str, width: int
) -> None:
    key = open_session(practice_a, [], patient_id="pat-1")  # no role: denied
    query = f"?session_key={key}" if state == "denied" else ""
    page.set_viewport_size({"width": width, "height": 768})
    page.goto(f"{live_server.url}/hint/clinical_chart{query}")
    # Hint's SDK is started (it reports the body's height to Hint)...
    page.wait_for_function("window.__sdkInitialised === true")
    body, content, scroll = page.evaluate(
        """[document.body.getBoundingClientRect().height,
            document.querySelector("main .card").getBoundingClientRect().bottom,
            document.body.scrollHeight]"""
    )
    # ...and that height is the page's words, not the 768 px frame; nothing is cut off.
    words = "You have no role" if state == "denied" else "open this app again"
    assert words in page.inner_text("main")
    assert content <= body < 768, (content, body)
    assert scroll <= body + 1
