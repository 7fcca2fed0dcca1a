"""Tried as a new user would, in headless Chromium: a clinician and Hint support open a patient,
and an admin finds both reads on the patient's history and on the Activity page (under the CSP:
the autouse `no_csp_violations` fixture fails the test on any violation)."""

import pytest
from django.urls import reverse

from handshake.models import Practice
from sync.models import Patient
from tests.conftest import open_session

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_both_reads_of_a_patient_show_on_its_history_and_the_activity_page(
    frame_page, live_server, practice_a: Practice
) -> None:
    page = frame_page
    patient = Patient.objects.create(
        practice=practice_a, hint_id="pat-1", first_name="Jordan", last_name="Smith"
    )
    url = f"{live_server.url}{reverse('sync:patient', args=[patient.pk])}"
    clinician = open_session(practice_a, ["clinician"])
    support = open_session(practice_a, [], access_context="platform_support")
    page.goto(f"{url}?session_key={clinician}")
    assert "Recent activity" not in page.content()  # the history is the admins' (and support's)
    page.goto(f"{url}?session_key={support}")

    page.goto(f"{url}?session_key={open_session(practice_a, ['admin'])}")
    history = page.locator("section[aria-labelledby=history-heading]")
    rows = history.locator("tr.history-row")
    assert rows.count() == 3  # the admin's own read, support's, the clinician's
    assert "Hint support" in rows.nth(1).inner_text()
    assert "Clinician Tester" in rows.nth(2).inner_text()

    history.get_by_role("link", name="See all activity for this patient").click()
    page.wait_for_load_state()
    assert "Only patient Jordan Smith" in page.content()
    table = page.locator("tr.activity-row")
    assert table.count() == 3
    assert "Hint support" in table.nth(1).inner_text()
    assert "Viewed the patient" in table.nth(2).inner_text()

    page.get_by_role("link", name="Show everyone's records").click()
    page.select_option("#activity-action", "session.opened")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert page.locator("tr.activity-row").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
