"""/hint-sdk.js across the frame boundary, in headless Chromium, with a stand-in surface."""

import pytest

from tests.e2e.live import PRACTICE_A

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_the_sdk_gets_the_context_reports_height_and_hears_a_patient_change(
    sandbox, receiver, browser
):
    receiver.sdk_url = f"{sandbox.sandbox_url}/hint-sdk.js"
    patients = sandbox.patients(PRACTICE_A, limit=1, sort="last_name")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{sandbox.sandbox_url}/patients/{patients[0]['id']}/")
        frame = page.frame_locator("iframe.app-frame")
        frame.get_by_text(f"init {patients[0]['name']} for Avery Stone").wait_for(timeout=10_000)
        iframe = page.locator("iframe.app-frame")
        page.wait_for_function(
            "() => document.querySelector('iframe.app-frame').getBoundingClientRect().height > 300"
        )
        picker = page.locator("select[data-sdk-patient]")
        other = picker.locator("option").nth(1)
        other_name = other.get_attribute("data-name")
        picker.select_option(other.get_attribute("value"))
        frame.get_by_text(f"changed to {other_name}").wait_for(timeout=5_000)
        assert iframe.get_attribute("data-surface") == "clinical_chart"
        frame.get_by_role("button", name="Set query").click()
        frame.get_by_text("query tab=notes").wait_for(timeout=5_000)
        frame.get_by_role("button", name="Close me").click()
        page.get_by_text("The app closed itself").wait_for(timeout=5_000)
        assert iframe.is_hidden()
    finally:
        receiver.sdk_url = ""
        page.close()
