"""The worker sorts what the receiver stored: each delivery once, in arrival order, to the
practice it names as it stands when sorted; a failed sort moves nothing and loses nothing."""

import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from handshake.models import Practice
from tests.webhooks.conftest import deliver, patient_event
from webhooks import inbox
from webhooks.models import ReceivedWebhookEvent, UnroutedWebhookEvent, WebhookEvent

pytestmark = pytest.mark.django_db


def test_events_are_sorted_in_arrival_order_whatever_their_ids(
    client: Client, practice_a: Practice
) -> None:
    for event_id in ("evt-c", "evt-a", "evt-b"):
        deliver(client, patient_event(event_id=event_id))
    start = timezone.now()
    for offset, event_id in enumerate(("evt-c", "evt-a", "evt-b")):  # arrivals a second apart
        received = ReceivedWebhookEvent.objects.filter(event_id=event_id)
        received.update(received_at=start + timedelta(seconds=offset))
    assert inbox.received_sort() == 3
    in_pk_order = WebhookEvent.objects.order_by("pk").values_list("event_id", "received_at")
    assert list(in_pk_order) == [
        ("evt-c", start),
        ("evt-a", start + timedelta(seconds=1)),
        ("evt-b", start + timedelta(seconds=2)),
    ]


def test_a_backlog_larger_than_a_batch_is_sorted_in_one_sweep_up_to_its_limit(
    client: Client, practice_a: Practice
) -> None:
    total = inbox.SORT_BATCH * 2 + 7
    now = timezone.now()
    ReceivedWebhookEvent.objects.bulk_create(
        ReceivedWebhookEvent(
            event_id=f"evt-{n}",
            type="patient.updated",
            hint_practice_id="pra-aaaa",
            payload=patient_event(event_id=f"evt-{n}"),
            received_at=now,
        )
        for n in range(total)
    )
    assert inbox.received_sort(limit=inbox.SORT_BATCH) == inbox.SORT_BATCH
    assert inbox.received_sort() == total - inbox.SORT_BATCH
    assert WebhookEvent.objects.for_practice(practice_a).count() == total
    assert not ReceivedWebhookEvent.objects.exists()


def test_a_practice_installed_before_the_sort_gets_its_event(client: Client) -> None:
    deliver(client, patient_event(event_id="evt-early", practice_id="pra-new"))
    practice = Practice.objects.create(
        hint_id="pra-new", name="New", installation_status="active", token="tok"
    )
    inbox.received_sort()
    event = WebhookEvent.objects.for_practice(practice).get()
    assert (event.event_id, event.status) == ("evt-early", WebhookEvent.Status.PENDING)
    assert not UnroutedWebhookEvent.objects.exists()


def test_a_sort_that_fails_midway_moves_nothing_and_the_next_one_moves_everything(
    client: Client, practice_a: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(client, patient_event(event_id="evt-1"))
    deliver(client, patient_event(event_id="evt-stranger", practice_id="pra-nobody"))

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the worker died here")

    with monkeypatch.context() as patched:  # after the practice's events, before the rest
        patched.setattr(UnroutedWebhookEvent.objects, "bulk_create", crash)
        with pytest.raises(RuntimeError):
            inbox.received_sort()
    assert not WebhookEvent.objects.exists()
    assert ReceivedWebhookEvent.objects.count() == 2
    assert inbox.received_sort() == 2
    assert list(WebhookEvent.objects.values_list("event_id", flat=True)) == ["evt-1"]
    assert list(UnroutedWebhookEvent.objects.values_list("event_id", flat=True)) == ["evt-stranger"]
    assert not ReceivedWebhookEvent.objects.exists()


def test_a_repeat_received_while_its_original_is_being_sorted_is_dropped_by_the_sort(
    client: Client, practice_a: Practice
) -> None:
    # The receiver's check and the sort can cross: the repeat lands in the received table after
    # the original was sorted. The sort keeps one.
    deliver(client, patient_event(event_id="evt-1"))
    inbox.received_sort()
    ReceivedWebhookEvent.objects.create(
        event_id="evt-1",
        type="patient.updated",
        hint_practice_id="pra-aaaa",
        payload=patient_event(event_id="evt-1"),
    )
    assert inbox.received_sort() == 1
    assert WebhookEvent.objects.filter(event_id="evt-1").count() == 1
    assert not ReceivedWebhookEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_workers_sorting_at_once_skip_each_others_rows(
    client: Client, practice_a: Practice
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite has one writer at a time")
    for n in range(3):
        deliver(client, patient_event(event_id=f"evt-{n}"))
    locked, release = threading.Event(), threading.Event()

    def other_worker() -> None:  # holds evt-0 as a sort in progress would
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute(
                    "SELECT 1 FROM webhooks_receivedwebhookevent WHERE event_id = 'evt-0' "
                    "FOR UPDATE"
                )
                locked.set()
                release.wait(10)
                cursor.execute("ROLLBACK")
        finally:
            connections["default"].close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    assert locked.wait(10)
    try:
        assert inbox.received_sort() == 2  # does not wait for the locked row, nor take it
        assert sorted(WebhookEvent.objects.values_list("event_id", flat=True)) == ["evt-1", "evt-2"]
    finally:
        release.set()
        thread.join(10)
    assert inbox.received_sort() == 1
    assert WebhookEvent.objects.count() == 3 and not ReceivedWebhookEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_received_table_has_one_index_its_primary_key() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the LIKE index is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s",
            [ReceivedWebhookEvent._meta.db_table],
        )
        indexes = [row[0] for row in cursor.fetchall()]
    assert len(indexes) == 1 and indexes[0].endswith("_pkey")


def test_hint_doctors_probe_is_answered_and_then_kept_nowhere(
    client: Client, practice_a: Practice
) -> None:
    from handshake.doctor import PROBE_EVENT_TYPE

    probe = {"id": "evt-doctor-1", "type": PROBE_EVENT_TYPE, "object": {}}
    assert deliver(client, probe).status_code == 200
    assert inbox.received_sort() == 1
    assert not WebhookEvent.objects.exists() and not UnroutedWebhookEvent.objects.exists()
    assert not ReceivedWebhookEvent.objects.exists()


def test_a_repeat_of_an_event_kept_apart_is_dropped_without_saying_it_was_stored(
    client: Client, db: None, caplog: pytest.LogCaptureFixture
) -> None:
    stranger = patient_event(event_id="evt-stranger", practice_id="pra-nobody")
    with caplog.at_level(logging.INFO, logger="webhooks.inbox"):
        deliver(client, stranger)
        inbox.received_sort()
        deliver(client, stranger)
        assert inbox.received_sort() == 1
    assert [r.getMessage() for r in caplog.records if "stored apart" in r.getMessage()] == [
        "webhook patient.updated for practice pra-nobody, which is not installed here: "
        "stored apart and ignored"
    ]
    assert UnroutedWebhookEvent.objects.count() == 1 and not ReceivedWebhookEvent.objects.exists()
