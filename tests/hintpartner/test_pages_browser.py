"""Pages whose inline code moved to static/ under the Content-Security-Policy, in headless
Chromium: each loads without a CSP violation (the autouse `no_csp_violations` fixture fails the
test otherwise) and the moved behaviour still works."""

import pytest
from django.urls import reverse

from handshake.models import Practice
from sync.models import BackfillRun, Batch, BatchRow, Contact, Patient, SyncLog
from tests.conftest import open_session

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_the_sync_and_settings_pages_run_under_the_policy(
    frame_page, live_server, practice_a: Practice
) -> None:
    page = frame_page
    key = open_session(practice_a, ["admin"])
    BackfillRun.objects.create(practice=practice_a, status="running")
    batch = Batch.objects.create(
        practice=practice_a,
        sync_id="BS-CSP",
        kind="contacts_to_patients",
        status="done",
        total=4,
        processed=3,
    )
    BatchRow.objects.create(practice=practice_a, batch=batch, position=1, outcome="linked")
    log = SyncLog.objects.create(practice=practice_a, level="error", message="x", detail="a\nb")
    contact = Contact.objects.create(
        practice=practice_a, first_name="Ana", synced_to_hint=True, hint_patient_id="pat-1"
    )
    patient = Patient.objects.create(
        practice=practice_a, hint_id="pat-1", first_name="Ana", provider_web_link="https://x.test"
    )

    def open(name: str, *args: object) -> None:
        page.goto(f"{live_server.url}{reverse(name, args=args)}?session_key={key}")
        page.wait_for_load_state("networkidle")

    for name, args in [
        ("handshake:core_page", ()),
        ("sync:patients", ()),
        ("sync:patient", (patient.pk,)),
        ("sync:contacts", ()),
        ("sync:contact-detail", (contact.pk,)),
        ("sync:log-detail", (log.pk,)),
    ]:
        open(name, *args)

    # The progress bar's width comes from data-percent (static/hintpartner/app.js).
    open("sync:batch-detail", batch.pk)
    bar = page.locator("#batch-progress .progress")
    fill = page.locator("#batch-progress .progress > span")
    assert round(100 * fill.bounding_box()["width"] / bar.bounding_box()["width"]) == 75
    # Choosing an outcome submits the filter (data-autosubmit).
    with page.expect_navigation():
        page.select_option("#outcome", "linked")
    assert "outcome=linked" in page.url

    # The settings surface (its panels load by htmx); disconnecting asks first (data-confirm).
    open("handshake:settings")
    asked = []

    def dismiss(dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.get_by_role("button", name="Disconnect").click()
    page.wait_for_timeout(300)
    assert asked == ["Disconnect this app from the practice? Its data here is kept."]
    assert reverse("handshake:settings") in page.url and "notice" not in page.url
    practice_a.refresh_from_db()
    assert practice_a.installation_status == Practice.InstallationStatus.ACTIVE
