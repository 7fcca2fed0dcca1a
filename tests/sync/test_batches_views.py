"""Batch pages: start (both kinds), progress partial, abort, resume, results, CSV download."""

import csv
import io
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from handshake.models import AuditEntry
from sync.models import Batch, BatchRow
from tests.sync.helpers import make_contact


def _post(client, name, key, *args, **data):
    return client.post(reverse(name, args=args), {"session_key": key, **data})


def _get(client, name, key, *args, **params):
    return client.get(reverse(name, args=args), {"session_key": key, **params})


def test_the_batches_page_offers_both_batches(client, practice_a, admin_key):
    page = _get(client, "sync:batches", admin_key).content.decode()
    assert "Batch sync patients to contacts" in page and 'type="file"' in page


def test_starting_the_patients_batch_shows_its_batch_sync_id(
    client, practice_a, admin_key, mocked_hint, hint_url, django_capture_on_commit_callbacks
):
    mocked_hint.get(f"{hint_url}/api/provider/patients", json=[], headers={"X-Total-Count": "0"})
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, "sync:batch-start-patients", admin_key)
    batch = Batch.objects.get()
    assert response.status_code == 303
    assert batch.status == Batch.Status.DONE  # the immediate backend ran it
    page = client.get(response["Location"]).content.decode()
    assert f"Batch Sync ID: {batch.sync_id}" in page
    assert AuditEntry.objects.filter(action="batch.started", target_id=batch.sync_id).exists()


def test_a_second_batch_while_one_runs_is_refused_with_409(client, practice_a, admin_key):
    Batch.objects.create(practice=practice_a, sync_id="BS-1", kind="patients_to_contacts")
    response = _post(client, "sync:batch-start-patients", admin_key)
    assert response.status_code == 409
    assert "Another batch is still running" in response.content.decode()
    assert Batch.objects.count() == 1


def test_uploading_a_csv_queues_a_batch_for_those_contacts(client, practice_a, admin_key):
    a, b = make_contact(practice_a), make_contact(practice_a)
    upload = SimpleUploadedFile(
        "report.csv", f"Contact ID\n{a.pk}\n{b.pk}\n\nReport footer\n".encode(), "text/csv"
    )
    response = _post(client, "sync:batch-start-csv", admin_key, file=upload)
    assert response.status_code == 303
    batch = Batch.objects.get()
    assert batch.total == 2 and batch.ignored_lines == ["Report footer"]
    assert list(BatchRow.objects.values_list("contact_id", flat=True).order_by("position")) == [
        a.pk,
        b.pk,
    ]
    page = client.get(response["Location"]).content.decode()
    assert "Report footer" in page


def test_a_bad_csv_is_a_400_with_a_message_and_starts_nothing(
    client, practice_a, practice_b, admin_key
):
    theirs = make_contact(practice_b)
    for content, message in [
        (b"\x00\x01binary", "not a CSV"),
        (f"{theirs.pk}\n".encode(), "not contacts of this practice"),
        ("12,Zoë\n".encode("latin-1"), "not in UTF-8"),
    ]:
        upload = SimpleUploadedFile("ids.csv", content, "text/csv")
        response = _post(client, "sync:batch-start-csv", admin_key, file=upload)
        assert response.status_code == 400
        assert message in response.content.decode()
    missing = _post(client, "sync:batch-start-csv", admin_key)
    assert missing.status_code == 400
    assert not Batch.objects.exists() and not BatchRow.objects.exists()


def _batch_with_rows(practice):
    batch = Batch.objects.create(
        practice=practice,
        sync_id="BS-20261123-AAAA",
        kind="contacts_to_patients",
        status="done",
        total=2,
        processed=2,
        counts={"linked": 1, "no_match": 1},
    )
    BatchRow.objects.create(
        practice=practice, batch=batch, position=1, outcome="linked", name="Ana"
    )
    BatchRow.objects.create(
        practice=practice, batch=batch, position=2, outcome="no_match", name="=cmd()"
    )
    return batch


def test_the_results_page_counts_outcomes_and_filters_rows(client, practice_a, admin_key):
    batch = _batch_with_rows(practice_a)
    page = _get(client, "sync:batch-detail", admin_key, batch.pk, outcome="linked").content.decode()
    assert "linked and merged: 1" in page and "no match: 1" in page
    assert "<td>Ana</td>" in page and "=cmd()" not in page


def test_the_rows_download_as_csv_and_the_export_is_audited(client, practice_a, admin_key):
    batch = _batch_with_rows(practice_a)
    response = _get(client, "sync:batch-rows-csv", admin_key, batch.pk)
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:2] == ["position", "outcome"]
    assert rows[2][4] == "'=cmd()"  # no formula reaches a spreadsheet
    assert AuditEntry.objects.filter(action="batch.exported", target_id=batch.sync_id).exists()


def test_the_progress_partial_polls_while_running_and_stops_when_done(
    client, practice_a, admin_key
):
    batch = Batch.objects.create(
        practice=practice_a, sync_id="BS-X", kind="patients_to_contacts", status="running", total=4
    )
    batch.processed = 1
    batch.save()
    running = _get(client, "sync:batch-progress", admin_key, batch.pk).content.decode()
    assert 'hx-trigger="every 2s"' in running and 'aria-valuenow="25"' in running
    assert "Abort batch" in running
    Batch.objects.filter(pk=batch.pk).update(status="done")
    done = client.get(
        reverse("sync:batch-progress", args=[batch.pk]),
        HTTP_X_HINT_SESSION_KEY=admin_key,
        HTTP_HX_REQUEST="true",
    )
    assert "every 2s" not in done.content.decode()
    assert done["HX-Trigger"] == "batch-finished"


def test_abort_marks_a_running_batch_and_is_audited(client, practice_a, admin_key):
    batch = Batch.objects.create(
        practice=practice_a, sync_id="BS-Y", kind="patients_to_contacts", status="running"
    )
    response = _post(client, "sync:batch-abort", admin_key, batch.pk)
    assert response.status_code == 303
    assert Batch.objects.get(pk=batch.pk).status == Batch.Status.ABORTING
    assert AuditEntry.objects.filter(action="batch.aborted").exists()


def test_a_stalled_batch_can_be_resumed_and_a_healthy_one_cannot(
    client, practice_a, admin_key, mocked_hint, hint_url, django_capture_on_commit_callbacks
):
    batch = Batch.objects.create(
        practice=practice_a, sync_id="BS-Z", kind="patients_to_contacts", status="running"
    )
    assert _post(client, "sync:batch-resume", admin_key, batch.pk).status_code == 409
    Batch.objects.filter(pk=batch.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    page = _get(client, "sync:batch-detail", admin_key, batch.pk).content.decode()
    assert "Resume" in page
    mocked_hint.get(f"{hint_url}/api/provider/patients", json=[], headers={"X-Total-Count": "0"})
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, "sync:batch-resume", admin_key, batch.pk)
    assert response.status_code == 303
    assert Batch.objects.get(pk=batch.pk).status == Batch.Status.DONE


def _writing_back(practice):
    batch = Batch.objects.create(
        practice=practice,
        sync_id="BS-W",
        kind="patients_to_contacts",
        status="running",
        phase="writing",
        total=51,
        processed=51,
        counts={"created": 51, "hint_writes_sent": 3, "hint_writes_owed": 48},
    )
    for position in range(1, 52):
        BatchRow.objects.create(
            practice=practice,
            batch=batch,
            position=position,
            outcome="created",
            name=f"P{position}",
        )
    return batch


def test_progress_while_writing_back_shows_both_phases_and_never_100_percent_for_writes(
    client, practice_a, admin_key
):
    batch = _writing_back(practice_a)
    page = _get(client, "sync:batch-progress", admin_key, batch.pk).content.decode()
    assert "running</span> · writing to Hint" in page
    assert "Contacts in step: 51 of 51" in page
    assert "Writes to Hint: 3 of 51" in page
    assert (
        'aria-label="Writes to Hint" aria-valuemin="0" aria-valuemax="100" aria-valuenow="5"'
        in page
    )
    assert "51 of 51 done" not in page
    batch.counts = {"created": 1000, "hint_writes_sent": 999, "hint_writes_owed": 1}
    assert batch.writes_percent == 99


def test_the_rows_table_shows_rows_committed_while_the_batch_runs_and_reloads_with_progress(
    client, practice_a, admin_key
):
    batch = _writing_back(practice_a)
    page = _get(client, "sync:batch-detail", admin_key, batch.pk).content.decode()
    assert "<td>P1</td>" in page and "No rows" not in page
    assert 'hx-trigger="batch-progress from:body, batch-finished from:body"' in page
    polled = client.get(
        reverse("sync:batch-progress", args=[batch.pk]),
        HTTP_X_HINT_SESSION_KEY=admin_key,
        HTTP_HX_REQUEST="true",
    )
    assert polled["HX-Trigger"] == "batch-progress"  # the rows table reloads with each poll


def test_an_aborted_batch_shows_the_writes_not_sent(client, practice_a, admin_key):
    batch = _writing_back(practice_a)
    Batch.objects.filter(pk=batch.pk).update(
        status="aborted",
        message="Aborted. Contacts in step: 51 of 51. Writes to Hint: 3 sent, 48 not sent.",
    )
    page = _get(client, "sync:batch-progress", admin_key, batch.pk).content.decode()
    assert "Writes to Hint: 3 of 51; 48 not sent" in page
    assert "Abort batch" not in page and "every 2s" not in page


def test_a_csv_of_a_million_and_a_half_short_rows_is_refused_at_the_row_limit(
    client, practice_a, admin_key
):
    """Over Django's in-memory upload size the file is a temporary file, read as a stream."""
    content = b"".join(b"%d\n" % (1_000_000 + i) for i in range(1_500_000))
    upload = SimpleUploadedFile("big.csv", content, "text/csv")
    response = _post(client, "sync:batch-start-csv", admin_key, file=upload)
    assert response.status_code == 400
    assert "more than 100,000 contact ids" in response.content.decode()
    assert not Batch.objects.exists() and not BatchRow.objects.exists()
