"""Batch plans: a preview decides every row with no write to either side; applying it carries out
exactly those rows; a row changed since is decided again and flagged; a plan expires."""

import json
import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from django.test import override_settings
from django.utils import timezone

from handshake.audit import Actor
from handshake.models import AuditEntry
from sync import batch_control
from sync.models import Batch, BatchRow, Contact
from sync.options import options_for
from tests.sync.helpers import id_rows, make_contact

pytestmark = pytest.mark.django_db

ADMIN = Actor(label="Admin")


def _patient(i: int, **extra):
    return {
        "id": f"pat-{i}",
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "dob": "1990-01-01",
        "email": "",
        "phones": [],
        "updated_at": "2026-11-01T10:00:00Z",
        **extra,
    }


class Hint:
    """Hint's patient list as `responses` serves it; `patients` can change between calls."""

    def __init__(self, mocked, hint_url, patients):
        self.patients = patients
        mocked.add_callback(responses.GET, f"{hint_url}/api/provider/patients", callback=self.page)
        mocked.add_callback(
            responses.PATCH,
            re.compile(rf"{hint_url}/api/provider/patients/.+"),
            callback=lambda request: (200, {}, "{}"),
        )

    def page(self, request):
        query = parse_qs(urlparse(request.url).query)
        if "offset" in query:
            offset, limit = int(query["offset"][0]), int(query["limit"][0])
            body = self.patients[offset : offset + limit]
            return 200, {"X-Total-Count": str(len(self.patients))}, json.dumps(body)
        last = query["last_name"][0].lower()  # the CSV batch's search
        found = [p for p in self.patients if p["last_name"].lower() == last]
        return 200, {}, json.dumps(found)


def _methods(mocked) -> list[str]:
    return [c.request.method for c in mocked.calls]


def _patched(mocked) -> list[str]:
    return sorted(
        c.request.url.rsplit("/", 1)[1] for c in mocked.calls if c.request.method == "PATCH"
    )


def _contacts_state() -> list[dict]:
    return list(Contact.objects.order_by("pk").values())


def _plan(practice) -> Batch:
    batch = batch_control.batch_start_patients(practice=practice, actor=ADMIN, plan=True)
    batch_control.batch_run(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def _apply(batch: Batch) -> Batch:
    batch_control.plan_apply(batch=batch, actor=ADMIN)
    batch_control.batch_run(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def _rows(batch: Batch) -> dict[str, BatchRow]:
    return {r.patient_id: r for r in BatchRow.objects.filter(batch=batch)}


def _world(practice):
    """One patient with a single match, one with two, one linked, one with none."""
    match = make_contact(
        practice, first_name="First1", last_name="Last1", dob=date(1990, 1, 1), email="a@x.test"
    )
    for _ in range(2):
        make_contact(practice, first_name="First2", last_name="Last2", dob=date(1990, 1, 1))
    linked = make_contact(
        practice,
        first_name="First3",
        last_name="Last3",
        dob=date(1990, 1, 1),
        hint_patient_id="pat-3",
    )
    patients = [
        _patient(1, address_city="Springfield"),
        _patient(2),
        _patient(3, email="new@x.test"),
        _patient(4),
    ]
    return match, linked, patients


def test_a_preview_decides_every_row_and_writes_nothing_to_either_side(
    practice_a, mocked_hint, hint_url
):
    match, _linked, patients = _world(practice_a)
    Hint(mocked_hint, hint_url, patients)
    before = _contacts_state()

    batch = _plan(practice_a)

    assert batch.status == Batch.Status.PLANNED and batch.planned_at is not None
    assert set(_methods(mocked_hint)) == {"GET"}  # read Hint; wrote nothing there
    assert _contacts_state() == before  # nor here
    rows = _rows(batch)
    assert {pid: r.outcome for pid, r in rows.items()} == {
        "pat-1": "linked",
        "pat-2": "skipped_multiple",
        "pat-3": "updated",
        "pat-4": "no_match",
    }
    assert rows["pat-1"].contact_id == match.pk
    changes = {c["field"]: c for c in rows["pat-1"].changes}
    assert changes["city"]["after"] == "Springfield" and changes["city"]["to"] == "to the contact"
    assert changes["email"]["after"] == "a@x.test" and changes["email"]["to"] == "to Hint"
    assert [c["field"] for c in rows["pat-3"].changes] == ["email"]
    assert (
        batch.plan_counts
        == batch.counts
        == {
            "linked": 1,
            "skipped_multiple": 1,
            "updated": 1,
            "no_match": 1,
        }
    )
    assert AuditEntry.objects.filter(action="batch.planned", target_id=batch.sync_id).exists()


def test_applying_a_plan_makes_exactly_the_planned_changes(practice_a, mocked_hint, hint_url):
    match, linked, patients = _world(practice_a)
    Hint(mocked_hint, hint_url, patients)
    batch = _plan(practice_a)
    planned = {pid: (r.outcome, r.contact_id) for pid, r in _rows(batch).items()}

    batch = _apply(batch)

    assert batch.status == Batch.Status.DONE
    assert {pid: (r.outcome, r.contact_id) for pid, r in _rows(batch).items()} == planned
    assert not BatchRow.objects.filter(batch=batch, redecided=True).exists()
    match.refresh_from_db()
    linked.refresh_from_db()
    assert match.hint_patient_id == "pat-1" and match.city == "Springfield"
    assert linked.email == "new@x.test"
    assert Contact.objects.count() == 4  # no match, option off: nothing created
    assert _patched(mocked_hint) == ["pat-1"]  # the one new link's write
    counts = {k: v for k, v in batch.counts.items() if not k.startswith("hint_writes")}
    assert counts == batch.plan_counts
    assert AuditEntry.objects.filter(action="batch.applied", target_id=batch.sync_id).exists()


def test_a_plan_keeps_the_option_it_was_made_with(practice_a, mocked_hint, hint_url):
    Hint(mocked_hint, hint_url, [_patient(1), _patient(2)])
    options = options_for(practice_a)
    options.create_contacts_when_batch_unmatched = True
    options.save()
    batch = _plan(practice_a)
    assert batch.plan_create and batch.counts == {"created": 2}
    assert Contact.objects.count() == 0
    options.create_contacts_when_batch_unmatched = False
    options.save()

    batch = _apply(batch)

    assert Contact.objects.count() == 2 and batch.counts["created"] == 2
    assert _patched(mocked_hint) == ["pat-1", "pat-2"]


def test_a_row_changed_after_planning_is_decided_again_and_flagged(
    practice_a, mocked_hint, hint_url
):
    match, linked, patients = _world(practice_a)
    hint = Hint(mocked_hint, hint_url, patients)
    batch = _plan(practice_a)
    # After the plan: the matched contact's birth date is corrected (no match any more), and
    # the linked patient changes in Hint.
    match.dob = date(1991, 1, 1)
    match.save()
    hint.patients[2] = _patient(3, email="newer@x.test", updated_at="2026-11-02T10:00:00Z")

    batch = _apply(batch)

    rows = _rows(batch)
    assert rows["pat-1"].outcome == "no_match" and rows["pat-1"].redecided
    assert "planned: would link and merge" in rows["pat-1"].message
    assert rows["pat-3"].outcome == "updated" and rows["pat-3"].redecided
    assert "same outcome" in rows["pat-3"].message
    assert not rows["pat-2"].redecided and not rows["pat-4"].redecided
    linked.refresh_from_db()
    assert linked.email == "newer@x.test"  # the new decision, not the stale one
    match.refresh_from_db()
    assert match.hint_patient_id == ""
    assert _patched(mocked_hint) == []
    assert "2 rows had changed since the plan" in batch.message


def test_a_patient_new_since_the_plan_is_left_alone_and_one_gone_is_reported(
    practice_a, mocked_hint, hint_url
):
    options = options_for(practice_a)
    options.create_contacts_when_batch_unmatched = True
    options.save()
    hint = Hint(mocked_hint, hint_url, [_patient(1), _patient(2)])
    batch = _plan(practice_a)
    hint.patients = [_patient(2), _patient(3)]  # 1 deleted, 3 created since

    batch = _apply(batch)

    rows = _rows(batch)
    assert rows["pat-2"].outcome == "created" and not rows["pat-2"].redecided
    assert rows["pat-3"].outcome == "not_planned"
    assert rows["pat-1"].outcome == "error" and "no longer lists" in rows["pat-1"].message
    assert list(Contact.objects.values_list("hint_patient_id", flat=True)) == ["pat-2"]


def test_a_plan_spanning_pages_links_a_contact_once(practice_a, mocked_hint, hint_url):
    """Two patients with the same name and birth date on different pages: the plan, like the
    run, links the single contact to the first one only."""
    make_contact(practice_a, first_name="First1", last_name="Last1", dob=date(1990, 1, 1))
    patients = [_patient(1)] + [_patient(i) for i in range(100, 199)] + [_patient(1, id="pat-x")]
    Hint(mocked_hint, hint_url, patients)
    batch = _plan(practice_a)
    rows = _rows(batch)
    assert rows["pat-1"].outcome == "linked" and rows["pat-x"].outcome == "no_match"
    batch = _apply(batch)
    assert not BatchRow.objects.filter(batch=batch, redecided=True).exists()


@override_settings(SYNC_PLAN_TTL_HOURS=2)
def test_an_expired_plan_cannot_be_applied_and_says_so(practice_a, mocked_hint, hint_url):
    Hint(mocked_hint, hint_url, [_patient(1)])
    batch = _plan(practice_a)
    Batch.objects.filter(pk=batch.pk).update(planned_at=timezone.now() - timedelta(hours=3))
    batch.refresh_from_db()
    with pytest.raises(batch_control.BatchError, match="expired"):
        batch_control.plan_apply(batch=batch, actor=ADMIN)
    assert Batch.objects.get(pk=batch.pk).status == Batch.Status.PLANNED


def test_a_plan_cannot_be_applied_twice_nor_a_batch_that_is_no_plan(
    practice_a, mocked_hint, hint_url
):
    Hint(mocked_hint, hint_url, [_patient(1)])
    batch = _apply(_plan(practice_a))
    with pytest.raises(batch_control.BatchError, match="not a plan waiting"):
        batch_control.plan_apply(batch=batch, actor=ADMIN)
    run = batch_control.batch_start_patients(practice=practice_a, actor=ADMIN)
    with pytest.raises(batch_control.BatchError, match="not a plan waiting"):
        batch_control.plan_apply(batch=run, actor=ADMIN)


# --- the CSV batch's plan ----------------------------------------------------------------------


def _csv_plan(practice, rows) -> Batch:
    batch = batch_control.batch_start_csv(practice=practice, actor=ADMIN, rows=rows, plan=True)
    batch_control.batch_run(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def test_a_csv_preview_searches_only_and_applying_links_as_planned(
    practice_a, mocked_hint, hint_url
):
    one = make_contact(practice_a, first_name="First1", last_name="Last1", dob=date(1990, 1, 1))
    none = make_contact(practice_a, first_name="Nobody", last_name="Here", dob=date(1990, 1, 1))
    twin = make_contact(practice_a, first_name="First1", last_name="Last1", dob=date(1990, 1, 1))
    Hint(mocked_hint, hint_url, [_patient(1, address_city="Hint City")])
    rows = [*id_rows([one.pk, none.pk, twin.pk]), (None, "line 5: abc", "not_an_id", "Not an id.")]
    before = _contacts_state()

    batch = _csv_plan(practice_a, rows)

    assert batch.status == Batch.Status.PLANNED
    assert set(_methods(mocked_hint)) == {"GET"} and _contacts_state() == before
    planned = list(
        BatchRow.objects.filter(batch=batch).order_by("position").values_list("outcome", flat=True)
    )
    assert planned == ["linked", "no_match", "skipped_patient_linked", "not_an_id"]
    first = BatchRow.objects.get(batch=batch, position=1)
    assert {c["field"]: c["after"] for c in first.changes}["city"] == "Hint City"

    batch = _apply(batch)

    done = list(
        BatchRow.objects.filter(batch=batch)
        .order_by("position")
        .values_list("outcome", "redecided")
    )
    assert done == [
        ("linked", False),
        ("no_match", False),
        ("skipped_patient_linked", False),
        ("not_an_id", False),
    ]
    one.refresh_from_db()
    assert one.hint_patient_id == "pat-1" and one.city == "Hint City"
    assert _patched(mocked_hint) == ["pat-1"]


def test_a_csv_row_whose_contact_changed_is_decided_again_and_flagged(
    practice_a, mocked_hint, hint_url
):
    contact = make_contact(practice_a, first_name="First1", last_name="Last1", dob=date(1990, 1, 1))
    Hint(mocked_hint, hint_url, [_patient(1)])
    batch = _csv_plan(practice_a, id_rows([contact.pk]))
    contact.last_name = "Other"
    contact.save()

    batch = _apply(batch)

    row = BatchRow.objects.get(batch=batch)
    assert row.outcome == "no_match" and row.redecided
    assert _patched(mocked_hint) == []


class WorkerKilled(BaseException):
    """Stands for a worker process dying mid-plan (nothing catches it)."""


def test_a_plan_whose_worker_died_resumes_from_its_checkpoint_linking_a_contact_once(
    practice_a, mocked_hint, hint_url, monkeypatch
):
    from sync import batch_patients

    make_contact(practice_a, first_name="First1", last_name="Last1", dob=date(1990, 1, 1))
    patients = [_patient(1)] + [_patient(i) for i in range(100, 199)]
    patients += [_patient(1, id="pat-x")] + [_patient(i) for i in range(200, 249)]
    Hint(mocked_hint, hint_url, patients)
    batch = batch_control.batch_start_patients(practice=practice_a, actor=ADMIN, plan=True)
    real_page = batch_patients.page_plan
    pages = {"n": 0}

    def dying_page(*args, **kwargs):
        pages["n"] += 1
        real_page(*args, **kwargs)
        if pages["n"] == 2:
            raise WorkerKilled  # the second page never commits

    monkeypatch.setattr(batch_patients, "page_plan", dying_page)
    with pytest.raises(WorkerKilled):
        batch_control.batch_run(batch_id=batch.pk)
    assert BatchRow.objects.filter(batch=batch).count() == 100

    monkeypatch.setattr(batch_patients, "page_plan", real_page)
    batch_control.batch_run(batch_id=batch.pk)

    batch.refresh_from_db()
    assert batch.status == Batch.Status.PLANNED
    rows = _rows(batch)
    assert len(rows) == 150
    # The contact taken on page one (before the worker died) is no candidate on page two.
    assert rows["pat-1"].outcome == "linked" and rows["pat-x"].outcome == "no_match"
    assert set(_methods(mocked_hint)) == {"GET"}


def test_aborting_a_plan_says_nothing_was_written(practice_a, mocked_hint, hint_url):
    Hint(mocked_hint, hint_url, [_patient(i) for i in range(1, 5)])
    batch = batch_control.batch_start_patients(practice=practice_a, actor=ADMIN, plan=True)
    batch_control.batch_abort(batch=batch, actor=ADMIN)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.ABORTED and "Nothing was written" in batch.message
