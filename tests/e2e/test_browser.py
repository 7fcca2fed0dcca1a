"""The host page in headless Chromium: open the app from Hint's sidebar, see its greeting."""

import pytest

from tests.e2e.browser import browser  # noqa: F401 - the fixture
from tests.e2e.live import PRACTICE_A

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_the_host_page_opens_the_app_and_shows_its_greeting(live_stack, browser):  # noqa: F811
    live_stack.install(PRACTICE_A)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(live_stack.sandbox_url + "/")
        page.get_by_role("link", name="hintpartner").click()
        frame = page.frame_locator("iframe.app-frame")
        frame.get_by_text("Hello, Avery").wait_for(timeout=15_000)
        assert page.locator("iframe.app-frame").get_attribute("width") == "1024"
    finally:
        page.close()


def test_the_chart_opens_the_clinical_chart_surface(live_stack, browser):  # noqa: F811
    live_stack.install(PRACTICE_A)
    patient = live_stack.patients(PRACTICE_A, limit=1)[0]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        response = page.goto(f"{live_stack.sandbox_url}/patients/{patient['id']}/")
        assert response is not None and response.status == 200
        page.locator("iframe.app-frame[data-surface=clinical_chart]").wait_for()
        assert page.locator("[role=alert]:visible").count() == 0
        # The app's page loads /hint-sdk.js, which reports its height: the frame grows past
        # the 150 px strip a surface without the SDK gets.
        page.wait_for_function(
            "() => document.querySelector('iframe.app-frame').getBoundingClientRect().height > 160"
        )
    finally:
        page.close()


def test_localhost_mode_sends_the_handshake_from_the_browser(live_stack, browser):  # noqa: F811
    live_stack.install(PRACTICE_A)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        with live_stack.faults(localhost_mode=True):
            page.goto(live_stack.sandbox_url + "/app/")
            assert page.locator("#browser-handshake").count() == 1
            frame = page.frame_locator("iframe.app-frame")
            frame.get_by_text("Hello, Avery").wait_for(timeout=15_000)
    finally:
        page.close()
