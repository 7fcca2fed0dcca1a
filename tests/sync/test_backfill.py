"""Backfill: the first run pulls every patient, later runs only those updated since."""

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.cache import cache
from django.test import TestCase
from django.utils import timezone

from handshake.audit import Actor
from handshake.models import Practice
from sync import backfill
from sync.models import BackfillRun, Patient
from tests.webhooks.conftest import load_event

pytestmark = pytest.mark.django_db


def _patients(
    n: int, start: int = 0, updated_at: str = "2026-05-26T14:00:00Z"
) -> list[dict[str, Any]]:
    base = load_event("patient_created")["object"]
    return [
        {**base, "id": f"pat-{i}", "last_name": f"Name{i}", "updated_at": updated_at}
        for i in range(start, start + n)
    ]


def _now() -> str:
    return timezone.now().isoformat()


def _serve(mocked_hint: Any, hint_url: str, pages: list[list[dict[str, Any]]]) -> None:
    for page in pages:
        mocked_hint.get(f"{hint_url}/api/provider/patients", json=page)


def _start(practice: Practice) -> BackfillRun:
    with TestCase.captureOnCommitCallbacks(execute=True):
        run = backfill.backfill_start(practice=practice, actor=Actor(label="test"))
    run.refresh_from_db()
    return run


def _query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(call.request.url).query)


def test_the_first_run_pulls_every_page_of_patients(
    practice_a: Practice, mocked_hint: Any, hint_url: str
) -> None:
    _serve(mocked_hint, hint_url, [_patients(100), _patients(30, start=100)])
    run = _start(practice_a)
    assert (run.status, run.fetched, run.changed, run.is_full) == ("done", 130, 130, True)
    assert Patient.objects.for_practice(practice_a).visible().count() == 130
    assert [_query(c)["offset"] for c in mocked_hint.calls] == [["0"], ["100"]]
    assert all("updated_at[gt]" not in _query(c) for c in mocked_hint.calls)
    auth = mocked_hint.calls[0].request.headers["Authorization"]
    assert auth == "Bearer practice-a-token"


def test_a_later_run_asks_only_for_patients_updated_since_the_last(
    practice_a: Practice, mocked_hint: Any, hint_url: str
) -> None:
    stamp = _now()
    _serve(mocked_hint, hint_url, [_patients(2, updated_at=stamp)])
    first = _start(practice_a)
    _serve(mocked_hint, hint_url, [_patients(1, updated_at=stamp)])
    second = _start(practice_a)
    assert second.pk != first.pk and not second.is_full
    since = _query(mocked_hint.calls[-1])["updated_at[gt]"][0]
    assert since < first.started_at.isoformat()
    assert (second.fetched, second.changed) == (1, 0)  # seen already: nothing changed


def test_an_ignored_updated_at_filter_is_noticed_and_the_pull_still_completes(
    practice_a: Practice, mocked_hint: Any, hint_url: str, caplog: Any
) -> None:
    cache.clear()
    _serve(mocked_hint, hint_url, [_patients(3)])
    _start(practice_a)
    # A Hint that ignores the filter answers every patient, the old ones included.
    _serve(mocked_hint, hint_url, [_patients(3), _patients(4)])
    with caplog.at_level("WARNING", logger="sync.backfill"):
        second = _start(practice_a)
        third_calls = len(mocked_hint.calls)
        _serve(mocked_hint, hint_url, [_patients(4)])
        third = _start(practice_a)
    assert "updated_at[gt]" in _query(mocked_hint.calls[3])  # it asked with the filter
    assert "updated_at[gt]" not in _query(mocked_hint.calls[4])  # then pulled everything
    assert (second.status, second.is_full, second.fetched, second.changed) == (
        "done",
        True,
        4,
        1,
    )
    assert third.status == "done" and third.is_full and len(mocked_hint.calls) > third_calls
    assert Patient.objects.for_practice(practice_a).visible().count() == 4
    ignored = [r for r in caplog.records if "ignored the updated_at filter" in r.getMessage()]
    assert len(ignored) == 1  # once per practice, not once per pull


def test_a_refused_token_fails_the_run_and_marks_the_practice_disconnected(
    practice_a: Practice, mocked_hint: Any, hint_url: str
) -> None:
    mocked_hint.get(f"{hint_url}/api/provider/patients", status=401, json={"message": "no"})
    run = _start(practice_a)
    assert run.status == "failed"
    assert "reconnect" in run.error
    assert "practice-a-token" not in run.error
    practice_a.refresh_from_db()
    assert not practice_a.is_connected


def test_hint_being_down_fails_the_run_with_plain_words(
    practice_a: Practice, mocked_hint: Any, hint_url: str
) -> None:
    mocked_hint.get(f"{hint_url}/api/provider/patients", status=503, json={"message": "down"})
    run = _start(practice_a)
    assert run.status == "failed"
    assert run.error.startswith("Hint did not answer")


def test_a_practice_that_is_not_connected_gets_a_failed_run(practice_a: Practice) -> None:
    Practice.objects.filter(pk=practice_a.pk).update(installation_status="deactivated")
    practice_a.refresh_from_db()
    run = _start(practice_a)
    assert (run.status, run.error) == ("failed", "The practice is not connected to Hint.")


def test_a_second_request_while_one_is_queued_returns_the_same_run(practice_a: Practice) -> None:
    first = backfill.backfill_start(
        practice=practice_a, actor=Actor(label="test")
    )  # queued: on_commit never fires here
    assert backfill.backfill_start(practice=practice_a, actor=Actor(label="test")).pk == first.pk


def test_the_first_backfill_is_queued_once_for_a_connected_practice(
    practice_a: Practice, practice_b: Practice
) -> None:
    assert backfill.backfill_ensure_first(practice=practice_a) is not None
    assert backfill.backfill_ensure_first(practice=practice_a) is None
    assert BackfillRun.objects.for_practice(practice_b).count() == 0


def test_one_malformed_patient_does_not_stop_the_run(
    practice_a: Practice, mocked_hint: Any, hint_url: str
) -> None:
    _serve(mocked_hint, hint_url, [[{"first_name": "No id"}, *_patients(2)]])
    run = _start(practice_a)
    assert (run.status, run.fetched, run.changed) == ("done", 3, 2)


def test_backfill_writes_only_the_practices_own_mirror(
    practice_a: Practice, practice_b: Practice, mocked_hint: Any, hint_url: str
) -> None:
    _serve(mocked_hint, hint_url, [_patients(3)])
    _start(practice_a)
    assert Patient.objects.for_practice(practice_b).count() == 0
