"""Batch: a CSV of contact ids -> Hint patients (contact wins), with abort and resume."""

import json
import re
from datetime import date
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from handshake.audit import Actor
from hintpartner.hint import api
from sync import batch_control, batch_csv
from sync.models import Batch, BatchRow, Contact
from tests.sync.helpers import id_rows, make_contact

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    pass


def _person(i: int, **extra):
    return {"first_name": f"First{i}", "last_name": f"Last{i}", "dob": date(1990, 1, 1), **extra}


def _hint_patient(i: int, pid: str | None = None, **extra):
    return {
        "id": pid or f"pat-{i}",
        "first_name": f"first{i}",
        "last_name": f"LAST{i}",
        "dob": "1990-01-01",
        "email": "",
        "address_city": "Hint City",
        "phones": [],
        **extra,
    }


def _serve(mocked, hint_url, by_last_name):
    def search(request):
        query = parse_qs(urlparse(request.url).query)
        return 200, {}, json.dumps(by_last_name.get(query["last_name"][0].lower(), []))

    mocked.add_callback(responses.GET, f"{hint_url}/api/provider/patients", callback=search)
    mocked.add_callback(
        responses.PATCH,
        re.compile(rf"{hint_url}/api/provider/patients/.+"),
        callback=lambda request: (200, {}, "{}"),
    )


def _start(practice, contacts):
    return batch_control.batch_start_csv(
        practice=practice, actor=Actor(label="Admin"), rows=id_rows([c.pk for c in contacts])
    )


def _calls(mocked, method):
    return [c for c in mocked.calls if c.request.method == method]


def test_an_unlinked_contact_with_one_match_is_linked_contact_winning(
    practice_a, mocked_hint, hint_url
):
    contact = make_contact(practice_a, **_person(1, email="c@x.test", city=""))
    _serve(mocked_hint, hint_url, {"last1": [_hint_patient(1, email="old@x.test")]})
    batch = _start(practice_a, [contact])

    batch_control.batch_run(batch_id=batch.pk)

    contact.refresh_from_db()
    assert contact.hint_patient_id == "pat-1"
    assert contact.city == "Hint City"  # blank here: filled from Hint
    assert contact.first_name == "First1"  # contact wins: unchanged here...
    body = json.loads(_calls(mocked_hint, "PATCH")[0].request.body)
    assert body["first_name"] == "First1"  # ...and written to Hint
    assert body["email"] == "c@x.test"
    assert body["integration_record_id"] == str(contact.pk)
    assert "address_city" not in body
    assert len(mocked_hint.calls) == 2  # at most two Hint requests per contact
    search = parse_qs(urlparse(mocked_hint.calls[0].request.url).query)
    assert search["first_name"] == ["First1"] and search["last_name"] == ["Last1"]
    assert Batch.objects.get(pk=batch.pk).counts == {"linked": 1, "hint_writes_sent": 1}


def test_linked_contacts_and_multiple_matches_are_skipped(practice_a, mocked_hint, hint_url):
    linked = make_contact(practice_a, **_person(1), hint_patient_id="pat-x")
    twice = make_contact(practice_a, **_person(2))
    nobody = make_contact(practice_a, **_person(3))
    _serve(
        mocked_hint,
        hint_url,
        {"last2": [_hint_patient(2, "pat-a"), _hint_patient(2, "pat-b")]},
    )
    batch = _start(practice_a, [linked, twice, nobody])

    batch_control.batch_run(batch_id=batch.pk)

    outcomes = dict(BatchRow.objects.filter(batch=batch).values_list("contact_id", "outcome"))
    assert outcomes == {
        linked.pk: "skipped_linked",
        twice.pk: "skipped_multiple",
        nobody.pk: "no_match",
    }
    assert _calls(mocked_hint, "PATCH") == []
    assert Contact.objects.linked().count() == 1


def test_a_patient_linked_to_another_contact_is_not_taken(practice_a, mocked_hint, hint_url):
    make_contact(practice_a, first_name="Someone", hint_patient_id="pat-1")
    contact = make_contact(practice_a, **_person(1))
    _serve(mocked_hint, hint_url, {"last1": [_hint_patient(1)]})
    batch = _start(practice_a, [contact])
    batch_control.batch_run(batch_id=batch.pk)
    assert BatchRow.objects.get(batch=batch).outcome == "skipped_patient_linked"


def test_two_contacts_of_one_patient_in_a_row_link_it_once(practice_a, mocked_hint, hint_url):
    """The second row is decided while the first one's write is still in flight."""
    twins = [make_contact(practice_a, **_person(1)), make_contact(practice_a, **_person(1))]
    _serve(mocked_hint, hint_url, {"last1": [_hint_patient(1)]})
    batch = _start(practice_a, twins)
    batch_control.batch_run(batch_id=batch.pk)
    outcomes = list(
        BatchRow.objects.filter(batch=batch).order_by("position").values_list("outcome", flat=True)
    )
    assert outcomes == ["linked", "skipped_patient_linked"]
    assert len(_calls(mocked_hint, "PATCH")) == 1
    assert Contact.objects.linked().count() == 1


def test_a_hint_error_mid_batch_marks_that_row_and_the_batch_goes_on(
    practice_a, mocked_hint, hint_url
):
    first = make_contact(practice_a, **_person(1))
    second = make_contact(practice_a, **_person(2))
    _serve(mocked_hint, hint_url, {"last1": [_hint_patient(1)], "last2": [_hint_patient(2)]})
    mocked_hint.replace(
        responses.PATCH,
        re.compile(rf"{hint_url}/api/provider/patients/.+"),
        status=422,
        json={"message": "Validation failed: Email is invalid"},
    )
    batch = _start(practice_a, [first, second])

    batch_control.batch_run(batch_id=batch.pk)

    rows = list(BatchRow.objects.filter(batch=batch).order_by("position"))
    assert [r.outcome for r in rows] == ["error", "error"]
    assert "Email is invalid" in rows[0].message
    assert not Contact.objects.linked().exists()  # nothing half-changed
    assert Batch.objects.get(pk=batch.pk).status == Batch.Status.DONE


def test_a_killed_worker_resumes_with_the_rows_not_yet_done(
    practice_a, mocked_hint, hint_url, monkeypatch
):
    contacts = [make_contact(practice_a, **_person(i)) for i in range(1, 6)]
    _serve(mocked_hint, hint_url, {f"last{i}": [_hint_patient(i)] for i in range(1, 6)})
    batch = _start(practice_a, contacts)
    real_update = api.patient_update
    writes = {"n": 0}

    def dying_update(**kwargs):
        writes["n"] += 1
        if writes["n"] >= 3:  # dead from the third write on (the next one is already queued)
            raise WorkerKilled
        return real_update(**kwargs)

    monkeypatch.setattr(api, "patient_update", dying_update)
    with pytest.raises(WorkerKilled):
        batch_control.batch_run(batch_id=batch.pk)
    assert Contact.objects.linked().count() == 2

    monkeypatch.setattr(api, "patient_update", real_update)
    batch_control.batch_run(batch_id=batch.pk)

    batch.refresh_from_db()
    assert batch.status == Batch.Status.DONE
    assert batch.counts == {"linked": 5, "hint_writes_sent": 5}
    searches = [
        parse_qs(urlparse(c.request.url).query)["last_name"][0] for c in _calls(mocked_hint, "GET")
    ]
    # Rows done before the kill are not searched again; the rest are (searches run ahead).
    assert searches.count("Last1") == 1 and searches.count("Last2") == 1
    assert sorted(searches[-3:]) == ["Last3", "Last4", "Last5"]
    patched = [c.request.url.rsplit("/", 1)[1] for c in _calls(mocked_hint, "PATCH")]
    assert sorted(patched) == ["pat-1", "pat-2", "pat-3", "pat-4", "pat-5"]  # each written once
    assert Contact.objects.linked().count() == 5


def test_pending_rows_are_read_a_chunk_at_a_time_in_order_without_an_open_cursor(practice_a):
    contacts = [make_contact(practice_a, **_person(i)) for i in range(5)]
    batch = _start(practice_a, contacts)
    seen = []
    for row in batch_csv._pending_rows(batch, chunk=2):
        seen.append(row.position)
        # The row's own write lands between reads, as in a run: the next chunk still follows.
        BatchRow.objects.filter(pk=row.pk).update(outcome=BatchRow.Outcome.LINKED)
    assert seen == [1, 2, 3, 4, 5]
