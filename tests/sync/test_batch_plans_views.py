"""Batch plan pages: Preview beside each start button, the plan page (counts, filter, CSV, the
option's effect, expiry), Apply, and practice isolation."""

import csv
import io
import json
from datetime import date, timedelta
from urllib.parse import parse_qs, urlparse

import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from sync.models import Batch, BatchRow, Contact
from tests.sync.helpers import make_contact


def _post(client, name, key, *args, **data):
    return client.post(reverse(name, args=args), {"session_key": key, **data})


def _get(client, name, key, *args, **params):
    return client.get(reverse(name, args=args), {"session_key": key, **params})


def _serve(mocked, hint_url, patients):
    def page(request):
        query = parse_qs(urlparse(request.url).query)
        offset, limit = int(query.get("offset", ["0"])[0]), int(query.get("limit", ["100"])[0])
        if "last_name" in query:
            last = query["last_name"][0].lower()
            return 200, {}, json.dumps([p for p in patients if p["last_name"].lower() == last])
        body = patients[offset : offset + limit]
        return 200, {"X-Total-Count": str(len(patients))}, json.dumps(body)

    mocked.add_callback(responses.GET, f"{hint_url}/api/provider/patients", callback=page)


def _patient(i, **extra):
    return {
        "id": f"pat-{i}",
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "dob": "1990-01-01",
        "phones": [],
        **extra,
    }


def test_the_batches_page_offers_previews_and_says_whether_contacts_are_created(
    client, practice_a, admin_key
):
    page = _get(client, "sync:batches", admin_key).content.decode()
    assert page.count(">Preview</button>") == 2
    assert reverse("sync:batch-plan-patients") in page and reverse("sync:batch-plan-csv") in page
    assert 'is <span class="badge">off</span>' in page
    assert "patients without a match are only reported" in page
    assert reverse("sync:options") in page


def _preview(client, key, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, "sync:batch-plan-patients", key)
    assert response.status_code == 303
    return Batch.objects.get(mode="plan"), client.get(response["Location"]).content.decode()


def test_preview_shows_the_plan_with_what_the_option_would_do_and_apply(
    client, practice_a, admin_key, mocked_hint, hint_url, django_capture_on_commit_callbacks
):
    make_contact(practice_a, first_name="First1", last_name="Last1", dob=date(1990, 1, 1))
    _serve(
        mocked_hint, hint_url, [_patient(1, address_city="=HYPERLINK()"), _patient(2), _patient(3)]
    )

    batch, page = _preview(client, admin_key, django_capture_on_commit_callbacks)

    assert batch.status == Batch.Status.PLANNED
    assert "Plan: nothing has been written yet" in page
    assert "would link and merge: 1" in page and "no match: 2" in page
    assert "2 contacts would be created if the option were on" in page
    assert "Apply this plan" in page
    assert "City: (blank) → =HYPERLINK() (to the contact)" in page
    filtered = _get(client, "sync:batch-detail", admin_key, batch.pk, outcome="no_match")
    assert "First2 Last2" in filtered.content.decode()
    assert "First1 Last1" not in filtered.content.decode()

    download = _get(client, "sync:batch-rows-csv", admin_key, batch.pk)
    assert download["Content-Disposition"].endswith(f'{batch.sync_id}-plan.csv"')
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[0][6:] == ["planned_outcome", "changed_since_plan", "field_changes"]
    assert rows[1][6] == "linked"
    assert "City: (blank) → =HYPERLINK() (to the contact)" in rows[1][8]
    assert not rows[1][8].startswith("=")

    with django_capture_on_commit_callbacks(execute=True):
        applied = _post(client, "sync:batch-apply", admin_key, batch.pk)
    assert applied.status_code == 303
    result = client.get(applied["Location"]).content.decode()
    assert "Applied plan" in result and "Every row was carried out as planned" in result
    assert "linked and merged: 1" in result and "no match: 2" in result
    assert Contact.objects.linked().count() == 1


def test_an_expired_plan_says_so_and_apply_is_refused(
    client, practice_a, admin_key, mocked_hint, hint_url, django_capture_on_commit_callbacks
):
    _serve(mocked_hint, hint_url, [_patient(1)])
    batch, _page = _preview(client, admin_key, django_capture_on_commit_callbacks)
    Batch.objects.filter(pk=batch.pk).update(planned_at=timezone.now() - timedelta(hours=25))
    page = _get(client, "sync:batch-detail", admin_key, batch.pk).content.decode()
    assert "This plan expired" in page and "Apply this plan</button>" not in page
    response = _post(client, "sync:batch-apply", admin_key, batch.pk)
    assert response.status_code == 409
    assert "This plan has expired" in response.content.decode()
    assert Batch.objects.get(pk=batch.pk).status == Batch.Status.PLANNED


def test_another_practice_cannot_see_or_apply_a_plan(
    client,
    practice_a,
    admin_key,
    outsider_key,
    mocked_hint,
    hint_url,
    django_capture_on_commit_callbacks,
):
    _serve(mocked_hint, hint_url, [_patient(1)])
    batch, _page = _preview(client, admin_key, django_capture_on_commit_callbacks)
    assert _get(client, "sync:batch-detail", outsider_key, batch.pk).status_code == 404
    assert _get(client, "sync:batch-rows-csv", outsider_key, batch.pk).status_code == 404
    assert _post(client, "sync:batch-apply", outsider_key, batch.pk).status_code == 404
    assert Batch.objects.get(pk=batch.pk).status == Batch.Status.PLANNED


def test_staff_cannot_preview_or_apply(client, practice_a, staff_key):
    batch = Batch.objects.create(
        practice=practice_a,
        sync_id="BS-P",
        kind="patients_to_contacts",
        mode="plan",
        status="planned",
    )
    assert _post(client, "sync:batch-plan-patients", staff_key).status_code == 403
    assert _post(client, "sync:batch-apply", staff_key, batch.pk).status_code == 403
    assert not Batch.objects.exclude(pk=batch.pk).exists()


def test_a_csv_preview_lists_every_line_as_a_row_with_its_reason(
    client,
    practice_a,
    practice_b,
    admin_key,
    mocked_hint,
    hint_url,
    django_capture_on_commit_callbacks,
):
    ours = make_contact(practice_a, first_name="First1", last_name="Last1", dob=date(1990, 1, 1))
    theirs = make_contact(practice_b)
    _serve(mocked_hint, hint_url, [_patient(1)])
    content = f"Contact ID\n{ours.pk}\nnot-an-id\n{ours.pk}\n{theirs.pk}\n\nReport footer\n"
    upload = SimpleUploadedFile("report.csv", content.encode(), "text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, "sync:batch-plan-csv", admin_key, file=upload)
    assert response.status_code == 303
    batch = Batch.objects.get()
    outcomes = list(
        BatchRow.objects.filter(batch=batch).order_by("position").values_list("outcome", flat=True)
    )
    assert outcomes == ["linked", "not_an_id", "duplicate", "unknown"]
    page = client.get(response["Location"]).content.decode()
    assert "skip: not a contact id: 1" in page and "skip: id repeated in the file: 1" in page
    assert "skip: not a contact of this practice: 1" in page and "Report footer" in page
    assert [c.request.method for c in mocked_hint.calls] == ["GET"]


def test_a_csv_with_no_usable_id_is_still_a_400_and_starts_nothing(
    client, practice_a, practice_b, admin_key
):
    theirs = make_contact(practice_b)
    for content in (b"id\nabc\n", f"{theirs.pk}\nxyz\n{theirs.pk}\n".encode()):
        upload = SimpleUploadedFile("ids.csv", content, "text/csv")
        response = _post(client, "sync:batch-plan-csv", admin_key, file=upload)
        assert response.status_code == 400
    assert not Batch.objects.exists() and not BatchRow.objects.exists()


def test_while_a_batch_runs_a_csv_is_refused_409_and_a_file_with_no_usable_id_400(
    client, practice_a, admin_key
):
    running = Batch.objects.create(practice=practice_a, sync_id="BS-R", kind="patients_to_contacts")
    ours = make_contact(practice_a)
    for content, status in ((f"{ours.pk}\n", 409), ("abc\n999999\n", 400)):
        upload = SimpleUploadedFile("ids.csv", content.encode(), "text/csv")
        assert _post(client, "sync:batch-plan-csv", admin_key, file=upload).status_code == status
    assert list(Batch.objects.all()) == [running] and not BatchRow.objects.exists()
