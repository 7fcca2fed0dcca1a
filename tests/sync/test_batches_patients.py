"""Batch: all Hint patients -> contacts (patient wins), with abort and resume."""

import json
import re
import time
from datetime import date
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from handshake.audit import Actor
from handshake.models import Practice
from sync import batch_control, batch_patients
from sync.models import Batch, BatchRow, Contact
from sync.options import options_for
from tests.sync.helpers import make_contact

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """Stands for a worker process dying mid-batch (not an Exception: nothing catches it)."""


def _patient(i: int, **extra):
    return {
        "id": f"pat-{i}",
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "dob": "1990-01-01",
        "email": "",
        "phones": [],
        **extra,
    }


def _serve(mocked, hint_url, patients, seen_offsets=None):
    def page(request):
        query = parse_qs(urlparse(request.url).query)
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        if seen_offsets is not None:
            seen_offsets.append(offset)
        body = patients[offset : offset + limit]
        return 200, {"X-Total-Count": str(len(patients))}, json.dumps(body)

    mocked.add_callback(responses.GET, f"{hint_url}/api/provider/patients", callback=page)
    mocked.add_callback(
        responses.PATCH,
        re.compile(rf"{hint_url}/api/provider/patients/pat-\d+"),
        callback=lambda request: (200, {}, json.dumps({})),
    )


@pytest.fixture
def test_is_the_worker(monkeypatch):
    """For tests whose refusal arrives in a reader or writer thread: the thread marks the
    practice disconnected through its own database connection, so the test's data is committed
    (transaction=True), and then nothing is queued on commit: the test runs the batch itself."""
    monkeypatch.setattr(batch_control, "_enqueue_run", lambda batch: None)


def _start(practice):
    return batch_control.batch_start_patients(practice=practice, actor=Actor(label="Admin"))


def _patches(mocked):
    return [c for c in mocked.calls if c.request.method == "PATCH"]


def test_a_single_exact_match_is_linked_and_merged_patient_winning(
    practice_a, mocked_hint, hint_url
):
    contact = make_contact(
        practice_a, first_name="first1", last_name="LAST1", dob=date(1990, 1, 1), email="a@x.test"
    )
    _serve(mocked_hint, hint_url, [_patient(1, address_city="Springfield")])
    batch = _start(practice_a)

    batch_control.batch_run(batch_id=batch.pk)

    contact.refresh_from_db()
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DONE
    assert contact.hint_patient_id == "pat-1"
    assert contact.first_name == "First1"  # patient wins
    assert contact.city == "Springfield"  # filled from the patient
    assert contact.last_batch_sync_id == batch.sync_id
    body = json.loads(_patches(mocked_hint)[0].request.body)
    assert body["email"] == "a@x.test"  # blank in Hint: filled from the contact
    assert body["integration_record_id"] == str(contact.pk)
    assert batch.counts == {"linked": 1, "hint_writes_sent": 1}


def test_several_matches_are_skipped_and_reported(practice_a, mocked_hint, hint_url):
    for _ in range(2):
        make_contact(practice_a, first_name="First1", last_name="Last1", dob=date(1990, 1, 1))
    _serve(mocked_hint, hint_url, [_patient(1)])
    batch = _start(practice_a)

    batch_control.batch_run(batch_id=batch.pk)

    row = BatchRow.objects.get(batch=batch)
    assert row.outcome == BatchRow.Outcome.SKIPPED_MULTIPLE
    assert "2 contacts" in row.message
    assert not Contact.objects.linked().exists()
    assert _patches(mocked_hint) == []


def test_no_match_creates_a_contact_only_when_the_option_is_on(practice_a, mocked_hint, hint_url):
    _serve(mocked_hint, hint_url, [_patient(1), _patient(2)])
    batch = _start(practice_a)
    batch_control.batch_run(batch_id=batch.pk)
    assert Contact.objects.count() == 0
    assert Batch.objects.get(pk=batch.pk).counts == {"no_match": 2}

    options = options_for(practice_a)
    options.create_contacts_when_batch_unmatched = True
    options.save()
    second = _start(practice_a)
    batch_control.batch_run(batch_id=second.pk)
    assert sorted(Contact.objects.values_list("hint_patient_id", flat=True)) == ["pat-1", "pat-2"]
    assert Batch.objects.get(pk=second.pk).counts == {"created": 2, "hint_writes_sent": 2}
    assert len(_patches(mocked_hint)) == 2  # our integration fields, once per new link


def test_already_linked_contacts_take_the_patients_values(practice_a, mocked_hint, hint_url):
    contact = make_contact(practice_a, hint_patient_id="pat-1", first_name="Old")
    _serve(mocked_hint, hint_url, [_patient(1)])
    batch = _start(practice_a)
    batch_control.batch_run(batch_id=batch.pk)
    contact.refresh_from_db()
    assert contact.first_name == "First1"
    assert BatchRow.objects.get(batch=batch).outcome == BatchRow.Outcome.UPDATED


def test_a_batch_never_overwrites_a_field_the_contact_still_owes_hint(
    practice_a, mocked_hint, hint_url
):
    contact = make_contact(
        practice_a,
        hint_patient_id="pat-1",
        first_name="Old",
        email="mine@x.test",
        hint_owed_fields=["email"],
    )
    _serve(mocked_hint, hint_url, [_patient(1, email="theirs@x.test")])
    batch_control.batch_run(batch_id=_start(practice_a).pk)
    contact.refresh_from_db()
    assert (contact.first_name, contact.email) == ("First1", "mine@x.test")


def test_a_killed_worker_resumes_from_the_checkpoint_without_duplicate_work(
    practice_a, mocked_hint, hint_url, monkeypatch
):
    options = options_for(practice_a)
    options.create_contacts_when_batch_unmatched = True
    options.save()
    offsets: list[int] = []
    _serve(mocked_hint, hint_url, [_patient(i) for i in range(1, 251)], offsets)
    batch = _start(practice_a)
    real_page = batch_patients.page_apply
    pages = {"n": 0}

    def dying_page(*args, **kwargs):
        pages["n"] += 1
        real_page(*args, **kwargs)
        if pages["n"] == 2:
            raise WorkerKilled  # mid-page: the page's transaction never commits

    monkeypatch.setattr(batch_patients, "page_apply", dying_page)
    with pytest.raises(WorkerKilled):
        batch_control.batch_run(batch_id=batch.pk)

    batch.refresh_from_db()
    assert batch.status == Batch.Status.RUNNING  # as a dead worker leaves it
    assert batch.checkpoint == 100
    assert Contact.objects.count() == 100

    monkeypatch.setattr(batch_patients, "page_apply", real_page)
    batch_control.batch_run(batch_id=batch.pk)

    batch.refresh_from_db()
    assert batch.status == Batch.Status.DONE
    assert offsets.count(0) == 1  # page one was not read again...
    assert offsets[-2:] == [100, 200]  # ...the resumed run starts at the checkpoint
    assert Contact.objects.count() == 250
    assert BatchRow.objects.filter(batch=batch).count() == 250
    assert batch.counts == {"created": 250, "hint_writes_sent": 250}
    patched = [c.request.url.rsplit("/", 1)[1] for c in _patches(mocked_hint)]
    assert len(patched) == len(set(patched)) == 250  # one write per patient, none twice


def test_a_rerun_of_a_finished_batch_does_nothing(practice_a, mocked_hint, hint_url):
    _serve(mocked_hint, hint_url, [_patient(1)])
    batch = _start(practice_a)
    batch_control.batch_run(batch_id=batch.pk)
    calls = len(mocked_hint.calls)
    batch_control.batch_run(batch_id=batch.pk)
    assert len(mocked_hint.calls) == calls


def test_abort_stops_between_pages_and_keeps_what_is_done(
    practice_a, mocked_hint, hint_url, monkeypatch
):
    _serve(mocked_hint, hint_url, [_patient(i) for i in range(1, 251)])
    batch = _start(practice_a)
    real_page = batch_patients.page_apply

    def page_then_abort(b, *args, **kwargs):
        real_page(b, *args, **kwargs)
        batch_control.batch_abort(batch=b, actor=Actor(label="Admin"))

    monkeypatch.setattr(batch_patients, "page_apply", page_then_abort)
    batch_control.batch_run(batch_id=batch.pk)

    batch.refresh_from_db()
    assert batch.status == Batch.Status.ABORTED
    assert BatchRow.objects.filter(batch=batch).count() == 100
    assert batch.finished_at is not None


def test_a_queued_batch_aborts_at_once_and_never_runs(practice_a, mocked_hint):
    batch = _start(practice_a)
    batch_control.batch_abort(batch=batch, actor=Actor(label="Admin"))
    batch_control.batch_run(batch_id=batch.pk)
    assert Batch.objects.get(pk=batch.pk).status == Batch.Status.ABORTED
    assert len(mocked_hint.calls) == 0


def test_only_one_batch_runs_at_a_time_per_practice(practice_a, practice_b, mocked_hint):
    _start(practice_a)
    with pytest.raises(batch_control.BatchError):
        _start(practice_a)
    _start(practice_b)  # another practice is not blocked


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("test_is_the_worker")
def test_hint_refusing_the_token_stops_the_batch_and_marks_the_practice_disconnected(
    practice_a, mocked_hint, hint_url
):
    mocked_hint.get(f"{hint_url}/api/provider/patients", status=401, json={"message": "no"})
    batch = _start(practice_a)
    batch_control.batch_run(batch_id=batch.pk)
    batch.refresh_from_db()
    practice_a.refresh_from_db()
    assert batch.status == Batch.Status.FAILED
    assert "reconnect the app" in batch.message
    assert practice_a.installation_status == "disconnected"


def test_a_failed_write_back_is_reported_on_the_row_and_owed(practice_a, mocked_hint, hint_url):
    options = options_for(practice_a)
    options.create_contacts_when_batch_unmatched = True
    options.save()
    mocked_hint.get(
        f"{hint_url}/api/provider/patients", json=[_patient(1)], headers={"X-Total-Count": "1"}
    )
    mocked_hint.patch(f"{hint_url}/api/provider/patients/pat-1", status=422, json={"message": "x"})
    batch = _start(practice_a)
    batch_control.batch_run(batch_id=batch.pk)
    batch.refresh_from_db()
    row = BatchRow.objects.get(batch=batch)
    assert batch.status == Batch.Status.DONE
    assert batch.counts["hint_writes_owed"] == 1
    assert "Hint not updated" in row.message


def test_a_batch_only_touches_its_own_practices_contacts(
    practice_a, practice_b, mocked_hint, hint_url
):
    theirs = make_contact(practice_b, first_name="First1", last_name="Last1", dob=date(1990, 1, 1))
    _serve(mocked_hint, hint_url, [_patient(1)])
    batch = _start(practice_a)
    batch_control.batch_run(batch_id=batch.pk)
    theirs.refresh_from_db()
    assert theirs.hint_patient_id == ""
    assert BatchRow.objects.get(batch=batch).outcome == BatchRow.Outcome.NO_MATCH


def test_a_hint_outage_mid_list_fails_the_batch_with_a_message_and_resume_finishes_it(
    practice_a, mocked_hint, hint_url
):
    patients = [_patient(i) for i in range(1, 151)]
    state = {"down": True}

    def page(request):
        query = parse_qs(urlparse(request.url).query)
        offset = int(query["offset"][0])
        if offset >= 100 and state["down"]:
            return 503, {}, json.dumps({"message": "maintenance"})
        return 200, {"X-Total-Count": "150"}, json.dumps(patients[offset : offset + 100])

    mocked_hint.add_callback(responses.GET, f"{hint_url}/api/provider/patients", callback=page)
    batch = _start(practice_a)
    batch_control.batch_run(batch_id=batch.pk)

    batch.refresh_from_db()
    assert batch.status == Batch.Status.FAILED
    assert "Hint did not answer" in batch.message and "Resume" in batch.message
    assert batch.checkpoint == 100 and batch.counts == {"no_match": 100}

    state["down"] = False
    batch_control.batch_resume(
        batch=batch, actor=Actor(label="Admin")
    )  # queued; the test backend runs it on commit
    batch_control.batch_run(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DONE
    assert batch.counts == {"no_match": 150}
    assert BatchRow.objects.filter(batch=batch).count() == 150


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("test_is_the_worker")
def test_a_refused_token_mid_write_back_stops_and_resume_sends_what_is_still_owed(
    practice_a, mocked_hint, hint_url
):
    options = options_for(practice_a)
    options.create_contacts_when_batch_unmatched = True
    options.save()
    patients = [_patient(i) for i in range(1, 8)]
    mocked_hint.add_callback(
        responses.GET,
        f"{hint_url}/api/provider/patients",
        callback=lambda request: (200, {"X-Total-Count": "7"}, json.dumps(patients)),
    )
    refused = {"pat-3"}

    def patch(request):
        if request.url.rsplit("/", 1)[1] in refused:
            # The writer thread then marks the practice disconnected through its own connection
            # while this thread records the previous write: the test database (in-memory SQLite,
            # shared cache) refuses two writers at once instead of waiting, so let it land first.
            time.sleep(0.2)
            return 401, {}, json.dumps({"message": "Unauthorized"})
        return 200, {}, "{}"

    mocked_hint.add_callback(
        responses.PATCH, re.compile(rf"{hint_url}/api/provider/patients/pat-\d+"), callback=patch
    )
    batch = _start(practice_a)
    batch_control.batch_run(batch_id=batch.pk)
    batch.refresh_from_db()
    practice_a.refresh_from_db()
    assert batch.status == Batch.Status.FAILED and "reconnect the app" in batch.message
    assert practice_a.installation_status == "disconnected"
    assert Contact.objects.count() == 7  # the contacts stand; only Hint's side is owed
    owed = BatchRow.objects.filter(batch=batch, push_body__isnull=False)
    assert {r.patient_id for r in owed} >= {"pat-3", "pat-7"}  # refused, and never sent

    refused.clear()  # reconnected: a new code exchange gave a new token
    practice_a.installation_status = Practice.InstallationStatus.ACTIVE
    practice_a.token = "practice-a-new-token"
    practice_a.save()
    batch_control.batch_resume(batch=batch, actor=Actor(label="Admin"))
    batch_control.batch_run(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DONE
    assert not BatchRow.objects.filter(batch=batch, push_body__isnull=False).exists()
    written = [c.request.url.rsplit("/", 1)[1] for c in _patches(mocked_hint)]
    assert set(written) == {f"pat-{i}" for i in range(1, 8)}


@pytest.mark.django_db(transaction=True)
def test_an_edit_saved_while_its_page_is_decided_is_neither_overwritten_nor_lost(
    practice_a, mocked_hint, hint_url, monkeypatch
):
    """The page's contacts stay locked until it commits: the edit waits, then lands on top of
    the batch's values and stays owed to Hint (PostgreSQL; SQLite has one writer at a time)."""
    import threading

    from django.db import connection

    from sync import contacts

    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    contact = make_contact(practice_a, first_name="First1", last_name="Last1", city="Old")
    Contact.objects.filter(pk=contact.pk).update(hint_patient_id="pat-1")
    contact.refresh_from_db()
    _serve(mocked_hint, hint_url, [_patient(1, address_city="Hint City")])
    real_decide = batch_patients.patient_link_decide
    edit = {}

    def save_edit() -> None:
        try:
            contacts.contact_update(contact=contact, values={"city": "Edited"}, actor=Actor("Ann"))
            edit["done"] = True
        finally:
            connection.close()

    def decide_while_editing(**kwargs):
        edit["thread"] = threading.Thread(target=save_edit)
        edit["thread"].start()
        edit["thread"].join(timeout=1.0)  # it waits for the page's lock (or, unlocked, lands)
        return real_decide(**kwargs)

    monkeypatch.setattr(batch_patients, "patient_link_decide", decide_while_editing)
    batch_control.batch_run(batch_id=_start(practice_a).pk)
    edit["thread"].join(timeout=10)
    assert edit.get("done")
    contact.refresh_from_db()
    assert contact.city == "Edited"  # the person's edit, saved after the page's values
    assert "city" in contact.hint_owed_fields  # and still on its way to Hint


def test_a_page_older_than_what_hint_last_told_us_does_not_put_old_values_back(
    practice_a, mocked_hint, hint_url
):
    """Our edit reached Hint while the page was being read ahead: Hint's answer (mirrored) is
    newer than the page, and the contact keeps the edited value rather than the page's."""
    from sync.mirror import patient_apply

    contact = make_contact(practice_a, first_name="First1", last_name="Last1", city="Edited")
    Contact.objects.filter(pk=contact.pk).update(hint_patient_id="pat-1")
    newer = _patient(1, address_city="Edited", updated_at="2026-05-02T10:00:00Z")
    patient_apply(practice=practice_a, data=newer)  # Hint's answer to our write
    stale = _patient(1, address_city="Stale", updated_at="2026-05-02T09:00:00Z")
    _serve(mocked_hint, hint_url, [stale])
    batch = _start(practice_a)
    batch_control.batch_run(batch_id=batch.pk)

    contact.refresh_from_db()
    assert contact.city == "Edited"
