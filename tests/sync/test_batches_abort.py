"""Abort in every phase of both batches: seen within a check, no write after it but the one in
flight, the batch ends "aborted" saying what was sent and what was not."""

import json
import re
import threading
import time
from collections.abc import Callable
from datetime import date
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from handshake.audit import Actor
from sync import batch_control, batch_patients, batch_progress
from sync.models import Batch, BatchRow, Contact
from sync.options import options_for
from tests.sync.helpers import id_rows, make_contact

pytestmark = pytest.mark.django_db

ADMIN = Actor(label="Admin")


class Seen:
    """When the batch saw the abort: how many PATCHes Hint had been sent by then."""

    patches: int | None = None


@pytest.fixture
def abort_when(monkeypatch, mocked_hint):
    """`abort_when(condition)`: the first abort check after `condition()` holds asks for an
    abort the way the page does (`batch_abort`), then runs the real check, noting when it
    raised. Checks come every 3 rows here (50 in production) so small batches see them."""
    monkeypatch.setattr(batch_progress, "ABORT_CHECK_ROWS", 3)
    real_check = batch_progress.abort_check
    seen = Seen()

    def arm(condition: Callable[[], bool]) -> Seen:
        def check(batch: Batch) -> None:
            if condition() and seen.patches is None:
                batch_control.batch_abort(batch=batch, actor=ADMIN)
            try:
                real_check(batch)
            except batch_progress.BatchAborted:
                seen.patches = len(_patches(mocked_hint))
                raise

        monkeypatch.setattr(batch_progress, "abort_check", check)
        return seen

    return arm


def _patches(mocked) -> list:
    return [c for c in mocked.calls if c.request.method == "PATCH"]


def _patient(i: int) -> dict:
    return {
        "id": f"pat-{i}",
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "dob": "1990-01-01",
    }


def _serve_pages(mocked, hint_url, patients, before_page=None) -> None:
    def page(request):
        offset = int(parse_qs(urlparse(request.url).query)["offset"][0])
        if before_page is not None:
            before_page(offset)
        body = patients[offset : offset + 100]
        return 200, {"X-Total-Count": str(len(patients))}, json.dumps(body)

    mocked.add_callback(responses.GET, f"{hint_url}/api/provider/patients", callback=page)
    mocked.add_callback(
        responses.PATCH,
        re.compile(rf"{hint_url}/api/provider/patients/.+"),
        callback=lambda request: (200, {}, "{}"),
    )


def _creating(practice) -> None:
    options = options_for(practice)
    options.create_contacts_when_batch_unmatched = True
    options.save()


def _patients_batch(practice) -> Batch:
    return batch_control.batch_start_patients(practice=practice, actor=ADMIN)


def test_abort_while_a_page_is_read_ends_the_batch_without_waiting_for_hint(
    practice_a, mocked_hint, hint_url, abort_when, monkeypatch
):
    monkeypatch.setattr(batch_patients, "ABORT_CHECK_SECONDS", 0.05)
    _creating(practice_a)
    slow_page, release = threading.Event(), threading.Event()

    def before_page(offset: int) -> None:
        if offset == 100:  # Hint takes its time over the second page
            slow_page.set()
            release.wait(10)

    _serve_pages(mocked_hint, hint_url, [_patient(i) for i in range(1, 251)], before_page)
    # Asked once page one is in and Hint is still on page two.
    seen = abort_when(lambda: slow_page.is_set() and BatchRow.objects.exists())
    batch = _patients_batch(practice_a)

    began = time.monotonic()
    try:
        batch_control.batch_run(batch_id=batch.pk)
        took = time.monotonic() - began
    finally:
        release.set()

    batch.refresh_from_db()
    assert took < 5  # the page under way is not waited for
    assert batch.status == Batch.Status.ABORTED
    assert seen.patches == 0 and _patches(mocked_hint) == []  # the write-back never began
    assert BatchRow.objects.filter(batch=batch).count() == 100  # page one stays done
    assert batch.counts == {"created": 100, "hint_writes_owed": 100}
    assert batch.message == (
        "Aborted. Contacts in step: 100 of 250. Writes to Hint: 0 sent, 100 not sent."
    )


def test_abort_while_linking_a_page_rolls_that_page_back_and_sends_nothing(
    practice_a, mocked_hint, hint_url, abort_when, monkeypatch
):
    _creating(practice_a)
    _serve_pages(mocked_hint, hint_url, [_patient(i) for i in range(1, 251)])
    decided = {"n": 0}
    real_decide = batch_patients.patient_link_decide

    def counting_decide(**kwargs):
        decided["n"] += 1
        return real_decide(**kwargs)

    monkeypatch.setattr(batch_patients, "patient_link_decide", counting_decide)
    seen = abort_when(lambda: decided["n"] >= 130)  # mid-way through page two
    batch = _patients_batch(practice_a)

    batch_control.batch_run(batch_id=batch.pk)

    batch.refresh_from_db()
    assert batch.status == Batch.Status.ABORTED
    assert 130 <= decided["n"] <= 134  # seen within a check's rows, not at the page's end
    assert seen.patches == 0 and _patches(mocked_hint) == []
    assert batch.checkpoint == 100 and Contact.objects.count() == 100  # page two rolled back
    assert BatchRow.objects.filter(batch=batch).count() == 100
    assert batch.message.endswith("Writes to Hint: 0 sent, 100 not sent.")


def test_abort_while_writing_back_sends_nothing_after_it_is_seen_but_the_write_in_flight(
    practice_a, mocked_hint, hint_url, abort_when
):
    _creating(practice_a)
    _serve_pages(mocked_hint, hint_url, [_patient(i) for i in range(1, 121)])
    seen = abort_when(lambda: len(_patches(mocked_hint)) >= 30)
    batch = _patients_batch(practice_a)

    batch_control.batch_run(batch_id=batch.pk)

    batch.refresh_from_db()
    sent = len(_patches(mocked_hint))
    assert batch.status == Batch.Status.ABORTED
    assert seen.patches is not None and 30 <= seen.patches <= 34
    assert sent <= seen.patches + 1  # at most the PATCH already in flight
    assert batch.counts == {
        "created": 120,
        "hint_writes_sent": sent,
        "hint_writes_owed": 120 - sent,
    }
    assert batch.message == (
        f"Aborted. Contacts in step: 120 of 120. Writes to Hint: {sent} sent, "
        f"{120 - sent} not sent."
    )
    assert BatchRow.objects.filter(batch=batch, written_at__isnull=False).count() == sent
    assert BatchRow.objects.filter(batch=batch, push_body__isnull=False).count() == 120 - sent


def test_abort_of_a_csv_batch_sends_nothing_after_it_is_seen_but_the_write_in_flight(
    practice_a, mocked_hint, hint_url, abort_when
):
    contacts = [
        make_contact(practice_a, first_name=f"First{i}", last_name=f"Last{i}", dob=date(1990, 1, 1))
        for i in range(1, 31)
    ]

    def search(request):
        query = parse_qs(urlparse(request.url).query)
        i = query["last_name"][0].removeprefix("Last")
        return 200, {}, json.dumps([_patient(int(i))])

    mocked_hint.add_callback(responses.GET, f"{hint_url}/api/provider/patients", callback=search)
    mocked_hint.add_callback(
        responses.PATCH,
        re.compile(rf"{hint_url}/api/provider/patients/.+"),
        callback=lambda request: (200, {}, "{}"),
    )
    seen = abort_when(lambda: len(_patches(mocked_hint)) >= 5)
    batch = batch_control.batch_start_csv(
        practice=practice_a, actor=ADMIN, rows=id_rows([c.pk for c in contacts])
    )

    batch_control.batch_run(batch_id=batch.pk)

    batch.refresh_from_db()
    sent = len(_patches(mocked_hint))
    assert batch.status == Batch.Status.ABORTED
    assert seen.patches is not None and 5 <= seen.patches <= 9
    assert sent <= seen.patches + 1
    assert Contact.objects.linked().count() == sent  # linked only where Hint took the write
    pending = BatchRow.objects.filter(batch=batch, outcome="pending").count()
    assert pending == 30 - sent
    assert batch.counts == {"linked": sent, "hint_writes_sent": sent}
    assert batch.message == (
        f"Aborted. Contacts done: {sent} of 30; {pending} not processed. "
        f"Writes to Hint: {sent} sent, none sent for the contacts not processed."
    )


def test_a_queued_batch_aborted_says_nothing_was_sent(practice_a, mocked_hint):
    batch = _patients_batch(practice_a)
    batch_control.batch_abort(batch=batch, actor=ADMIN)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.ABORTED
    assert "Writes to Hint: 0 sent, 0 not sent." in batch.message


def test_the_watch_checks_after_a_second_or_fifty_rows_whichever_comes_first(
    practice_a, monkeypatch
):
    batch = _patients_batch(practice_a)
    checks: list[int] = []
    done = {"rows": 0}
    monkeypatch.setattr(batch_progress, "abort_check", lambda b: checks.append(done["rows"]))
    now = {"t": 0.0}
    watch = batch_progress.AbortWatch(batch, clock=lambda: now["t"])

    for done["rows"] in range(1, 121):  # fast rows: every 50th
        watch.tick()
    assert checks == [50, 100]

    checks.clear()
    for done["rows"] in range(1, 21):  # slow rows (0.3 s each): at least every second
        now["t"] += 0.3
        watch.tick()
    assert checks == [4, 8, 12, 16, 20]
