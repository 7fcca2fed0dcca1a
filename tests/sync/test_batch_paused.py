"""Near the end of today's Hint budget a batch pauses, says so, and resumes when it renews."""

import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from django.test import override_settings
from django.utils import timezone

from handshake.audit import Actor
from hintpartner.hint import budget, errors
from hintpartner.models import HintBudget
from sync import batch_control
from sync.models import Batch, Contact
from sync.options import options_for

TOKEN = "paused-test-token"
PATIENTS = 1000  # ten pages of Hint's 100


def _serve(mocked, hint_url, count=PATIENTS):
    patients = [
        {"id": f"pat-{i}", "first_name": f"First{i}", "last_name": f"Last{i}", "phones": []}
        for i in range(count)
    ]

    def page(request):
        query = parse_qs(urlparse(request.url).query)
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        body = patients[offset : offset + limit]
        return 200, {"X-Total-Count": str(len(patients))}, json.dumps(body)

    mocked.add_callback(responses.GET, f"{hint_url}/api/provider/patients", callback=page)
    mocked.add_callback(
        responses.PATCH,
        re.compile(rf"{hint_url}/api/provider/patients/pat-\d+"),
        callback=lambda request: (200, {}, json.dumps({})),
    )


@pytest.fixture
def counted_budget(monkeypatch):
    """Today's count kept in memory for these tests: the batch reads in threads, and SQLite's
    shared in-memory test database refuses their writes to the budget table ("table is
    locked"); the database store itself is tested above and in tests/hintpartner/test_budget.py.
    The rules are the store's: `take` refuses at the budget, `batch_room` stops at the reserve.
    """
    import threading

    from django.conf import settings

    lock, count = threading.Lock(), {"used": 0}

    def take(token):
        with lock:
            if count["used"] >= settings.HINT_DAILY_BUDGET:
                raise errors.HintBudgetExhausted("spent", used=count["used"])
            count["used"] += 1
        return 0.0

    monkeypatch.setattr(budget, "take", take)
    monkeypatch.setattr(budget, "used_today", lambda token: count["used"])
    return count


def _pages_read(mocked) -> int:
    return sum(1 for c in mocked.calls if c.request.method == "GET")


@pytest.mark.django_db
@override_settings(HINT_BUDGET_STORE="database", HINT_DAILY_BUDGET=10, HINT_BATCH_BUDGET_RESERVE=3)
def test_batch_work_stops_at_the_reserve_kept_for_people_and_starts_again_the_next_day() -> None:
    for _ in range(6):
        budget.take(TOKEN)
    assert budget.batch_room(TOKEN)
    budget.take(TOKEN)  # 7 of 10: the last 3 are kept for people
    assert not budget.batch_room(TOKEN)
    budget.take(TOKEN)  # people's own calls still go through
    HintBudget.objects.update(day=timezone.now().date() - timedelta(days=1))
    assert budget.batch_room(TOKEN)


@pytest.mark.django_db(transaction=True)
@override_settings(
    HINT_BUDGET_STORE="database", HINT_DAILY_BUDGET=1000, HINT_BATCH_BUDGET_RESERVE=995
)
def test_a_batch_pauses_near_the_budget_keeps_its_rows_and_resumes_when_it_renews(
    practice_a, mocked_hint, hint_url, counted_budget
) -> None:
    options = options_for(practice_a)
    options.create_contacts_when_batch_unmatched = True
    options.save()
    _serve(mocked_hint, hint_url)
    # Queued and run at once (the immediate task backend): it reads a few pages, then the count
    # reaches the reserve (5 calls left for batches) and it pauses.
    batch = batch_control.batch_start_patients(practice=practice_a, actor=Actor(label="Admin"))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.PAUSED, batch.message
    assert batch.finished_at is None and batch.is_active
    assert batch.message.startswith("Paused: today's budget of calls to Hint")
    assert "resumes by itself after 00:00 UTC" in batch.message
    done = Contact.objects.for_practice(practice_a).count()
    assert 0 < done < PATIENTS  # the rows done are kept
    assert batch.processed == done
    reads = _pages_read(mocked_hint)
    assert reads < PATIENTS // 100

    # Still paused: no other batch starts, and the sweep leaves it while the budget is low.
    with pytest.raises(batch_control.BatchError):
        batch_control.batch_start_patients(practice=practice_a, actor=Actor(label="Admin"))
    assert batch_control.batches_paused_sweep(force=True) == 0
    assert Batch.objects.get(pk=batch.pk).status == Batch.Status.PAUSED
    assert _pages_read(mocked_hint) == reads  # nothing sent while paused

    # A new UTC day (and, for this test, room for the rest): the sweep queues it, and it runs
    # on from its checkpoint to the end.
    counted_budget["used"] = 0
    with override_settings(HINT_DAILY_BUDGET=100_000, HINT_BATCH_BUDGET_RESERVE=5_000):
        assert batch_control.batches_paused_sweep(force=True) == 1
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DONE, batch.message
    assert Contact.objects.for_practice(practice_a).count() == PATIENTS
    assert batch.counts.get("created") == PATIENTS
    offsets = [
        int(parse_qs(urlparse(c.request.url).query)["offset"][0])
        for c in mocked_hint.calls
        if c.request.method == "GET"
    ]
    assert set(range(0, PATIENTS, 100)) <= set(offsets)  # every page read, none skipped


@pytest.mark.django_db(transaction=True)
@override_settings(HINT_BUDGET_STORE="database", HINT_DAILY_BUDGET=2, HINT_BATCH_BUDGET_RESERVE=0)
def test_a_budget_spent_mid_batch_pauses_it_rather_than_failing(
    practice_a, mocked_hint, hint_url, counted_budget, monkeypatch
) -> None:
    # People's own calls spent the rest between two of the batch's checks: Hint's refusal
    # (`HintBudgetExhausted`, raised without sending) pauses the batch too.
    monkeypatch.setattr(budget, "batch_room", lambda token: True)
    options = options_for(practice_a)
    options.create_contacts_when_batch_unmatched = True
    options.save()
    _serve(mocked_hint, hint_url)
    batch = batch_control.batch_start_patients(practice=practice_a, actor=Actor(label="Admin"))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.PAUSED, batch.message
    assert "is used up" in batch.message


@pytest.mark.django_db(transaction=True)
@override_settings(
    HINT_BUDGET_STORE="database", HINT_DAILY_BUDGET=1000, HINT_BATCH_BUDGET_RESERVE=998
)
def test_a_paused_batch_aborts_at_once_and_an_admin_may_try_it_now(
    practice_a, mocked_hint, hint_url, client, admin_key, counted_budget
) -> None:
    _serve(mocked_hint, hint_url)
    batch = batch_control.batch_start_patients(practice=practice_a, actor=Actor(label="Admin"))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.PAUSED
    page = client.get(f"/hint/sync/batches/{batch.pk}?session_key={admin_key}")
    text = page.content.decode()
    assert "paused until Hint&#x27;s daily budget renews" in text
    assert "Try now" in text
    # "Try now" with the budget still low: it pauses again at once, nothing lost.
    batch_control.batch_resume(batch=batch, actor=Actor(label="Admin"))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.PAUSED
    batch_control.batch_abort(batch=batch, actor=Actor(label="Admin"))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.ABORTED and batch.finished_at is not None


def test_the_budget_error_is_a_pause_with_words() -> None:
    from sync.batch_progress import BatchPaused, stop_if_token_refused

    with pytest.raises(BatchPaused) as paused:
        stop_if_token_refused(errors.HintBudgetExhausted("spent", used=5))
    assert str(paused.value).startswith("Paused: today's budget of calls to Hint")
    assert "The rows done so far are kept" in str(paused.value)
