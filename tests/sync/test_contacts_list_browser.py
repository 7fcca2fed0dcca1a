"""The contact list in headless Chromium, as an admin uses it: the sync state filter and the
live search narrow the rows together, "Export CSV" downloads what they show, and a contact is
deleted from its page after the confirmation."""

from pathlib import Path

import pytest
from django.urls import reverse

from handshake.models import Practice
from sync.models import Contact
from tests.conftest import open_session
from tests.sync.helpers import make_contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_filter_search_export_and_delete(frame_page, live_server, practice_a: Practice) -> None:
    from playwright.sync_api import expect

    page = frame_page
    key = open_session(practice_a, ["admin"])
    make_contact(
        practice_a,
        first_name="Ada",
        last_name="Waiting",
        hint_patient_id="p1",
        hint_write_state="waiting",
    )
    make_contact(
        practice_a,
        first_name="Abe",
        last_name="Waiting",
        hint_patient_id="p2",
        hint_write_state="waiting",
    )
    gone = make_contact(practice_a, first_name="Bo", last_name="Unlinked")
    page.goto(f"{live_server.url}{reverse('sync:contacts')}?session_key={key}")
    rows = page.locator("#contact-rows tr")
    expect(rows).to_have_count(3)

    page.select_option("#contact-state", "waiting")
    expect(rows).to_have_count(2)
    page.fill("#contact-q", "ada")
    expect(rows).to_have_count(1)
    assert "Ada Waiting" in rows.first.inner_text()

    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and ",Ada,," in lines[1] and ",waiting," in lines[1]

    page.goto(
        f"{live_server.url}{reverse('sync:contact-detail', args=[gone.pk])}?session_key={key}"
    )
    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name="Delete the contact").click()
    page.wait_for_load_state("networkidle")
    assert "The contact was deleted." in page.inner_text("main")
    assert not Contact.objects.filter(pk=gone.pk).exists()
