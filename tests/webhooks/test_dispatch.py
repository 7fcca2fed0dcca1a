"""On a real backend the receiver stores one row per delivery; the worker sorts it into the
practice's events, its dispatcher queues pending events in batches, once each, and the worker
processes them."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from handshake.models import Practice
from hintpartner.management.commands import worker
from sync.models import Patient
from tests.webhooks.conftest import deliver, patient_event
from webhooks import handlers, inbox, services
from webhooks.models import ReceivedWebhookEvent, WebhookEvent
from webhooks.tasks import webhook_events_process

pytestmark = pytest.mark.django_db(transaction=True)

DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture(autouse=True)
def database_backend() -> None:
    with override_settings(TASKS=DB_BACKEND):
        yield


def test_the_receiver_writes_one_received_row_and_no_task(
    client: Client, practice_a: Practice
) -> None:
    assert deliver(client, patient_event(event_id="evt-1")).status_code == 200
    assert list(ReceivedWebhookEvent.objects.values_list("event_id", flat=True)) == ["evt-1"]
    assert not WebhookEvent.objects.exists()
    assert not DBTaskResult.objects.exists()
    assert inbox.received_sort() == 1  # the worker sorts it: the practice's, waiting, not queued
    event = WebhookEvent.objects.get()
    assert (event.event_id, event.practice, event.status) == ("evt-1", practice_a, "pending")
    assert event.queued_at is None
    assert not ReceivedWebhookEvent.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_the_worker_queues_and_processes_what_arrived(client: Client, practice_a: Practice) -> None:
    deliver(client, patient_event(patient_id="pat-1", last_name="First"))
    deliver(client, patient_event(patient_id="pat-2", last_name="Second"))
    call_command("worker", "--batch", verbosity=0)
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    names = Patient.objects.for_practice(practice_a).values_list("last_name", flat=True)
    assert sorted(names) == ["First", "Second"]


def test_events_are_queued_once_in_batches(client: Client, practice_a: Practice) -> None:
    for n in range(services.DISPATCH_BATCH + 5):
        deliver(client, patient_event(patient_id=f"pat-{n}"))
    assert services.events_dispatch() == services.DISPATCH_BATCH + 5
    assert services.events_dispatch() == 0  # a second sweep finds nothing new
    assert DBTaskResult.objects.count() == 2  # 100 + 5: one task per batch
    assert not WebhookEvent.objects.filter(queued_at__isnull=True).exists()


def test_an_event_whose_task_was_lost_is_queued_again(client: Client, practice_a: Practice) -> None:
    deliver(client, patient_event())
    services.events_dispatch()
    DBTaskResult.objects.all().delete()  # the queue lost it (a flush, a hand-deleted row)
    _lease_age(services.EVENT_LEASE.total_seconds() + 1)
    assert services.events_dispatch() == 1
    call_command("worker", "--batch", verbosity=0)
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_ignored_and_failed_events_are_not_dispatched(client: Client, practice_a: Practice) -> None:
    deliver(client, {**patient_event(), "type": "appointment.created"})
    deliver(client, patient_event())
    inbox.received_sort()
    WebhookEvent.objects.filter(type="patient.updated").update(status="failed")
    assert services.events_dispatch() == 0  # a failed event waits for its own retry or a replay


def test_one_failing_event_does_not_stop_its_batch(
    client: Client, practice_a: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = handlers.HANDLERS["patient.updated"]

    def picky(event: WebhookEvent) -> None:
        if event.payload["object"]["id"] == "pat-bad":
            raise RuntimeError("cannot apply")
        real(event)

    monkeypatch.setitem(handlers.HANDLERS, "patient.updated", picky)
    for patient_id in ("pat-1", "pat-bad", "pat-3"):
        deliver(client, patient_event(patient_id=patient_id))
    call_command("worker", "--batch", verbosity=0)
    statuses = dict(WebhookEvent.objects.values_list("payload__object__id", "status"))
    assert statuses == {"pat-1": "processed", "pat-bad": "failed", "pat-3": "processed"}
    bad = WebhookEvent.objects.get(status="failed")
    assert "cannot apply" in bad.error
    assert bad.next_attempt_at is not None  # its own retry is scheduled


def test_on_a_real_backend_the_receiver_still_tells_every_case_apart(
    client: Client, practice_a: Practice
) -> None:
    from webhooks.models import UnroutedWebhookEvent

    deliver(client, patient_event(event_id="evt-1"))
    deliver(client, patient_event(event_id="evt-1"))  # a repeat waiting with its original
    assert ReceivedWebhookEvent.objects.count() == 1
    deliver(client, patient_event(event_id="evt-stranger", practice_id="pra-nobody"))
    deliver(client, {**patient_event(event_id="evt-other"), "type": "appointment.created"})
    assert inbox.received_sort() == 3
    assert UnroutedWebhookEvent.objects.get().event_id == "evt-stranger"
    # Repeats of sorted events, kept apart or not, are dropped by the next sort.
    for event_id, practice_id in (("evt-1", "pra-aaaa"), ("evt-stranger", "pra-nobody")):
        assert (
            deliver(client, patient_event(event_id=event_id, practice_id=practice_id)).status_code
            == 200
        )
    assert inbox.received_sort() == 2
    assert WebhookEvent.objects.filter(event_id="evt-1").count() == 1
    assert UnroutedWebhookEvent.objects.count() == 1
    practice_a.installation_status = Practice.InstallationStatus.DEACTIVATED
    practice_a.save()
    deliver(client, patient_event(event_id="evt-late"))
    assert inbox.received_sort() == 1
    rows = {e.event_id: e for e in WebhookEvent.objects.all()}
    assert sorted(rows) == ["evt-1", "evt-late", "evt-other"]
    assert rows["evt-1"].status == WebhookEvent.Status.PENDING
    assert rows["evt-1"].practice == practice_a and rows["evt-1"].processed_at is None
    late = rows["evt-late"]
    assert (late.status, late.note) == (WebhookEvent.Status.IGNORED, inbox.NOT_CONNECTED)
    assert late.processed_at is not None and late.practice == practice_a
    assert rows["evt-other"].status == WebhookEvent.Status.IGNORED
    assert services.events_dispatch() == 1  # only the connected practice's patient event


def test_a_connected_practice_without_a_token_is_not_connected(
    client: Client, practice_a: Practice
) -> None:
    Practice.objects.filter(pk=practice_a.pk).update(token="")
    deliver(client, patient_event())
    inbox.received_sort()
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED


# --- leases -------------------------------------------------------------------------------------


def _lease_age(seconds: float) -> None:
    WebhookEvent.objects.update(queued_at=timezone.now() - timedelta(seconds=seconds))


def test_a_leased_event_is_not_queued_again_before_its_lease_ends(
    client: Client, practice_a: Practice
) -> None:
    deliver(client, patient_event())
    assert services.events_dispatch() == 1
    _lease_age(services.EVENT_LEASE.total_seconds() - 10)
    assert services.events_dispatch() == 0
    assert DBTaskResult.objects.count() == 1


def test_an_event_whose_lease_ran_out_is_taken_over_within_two_minutes(
    client: Client, practice_a: Practice
) -> None:
    assert timedelta(minutes=2) >= services.EVENT_LEASE
    deliver(client, patient_event())
    services.events_dispatch()
    _lease_age(services.EVENT_LEASE.total_seconds() + 1)  # its worker was killed mid-task
    assert services.events_dispatch() == 1
    assert DBTaskResult.objects.count() == 2


def test_the_task_renews_the_lease_while_it_works(
    client: Client, practice_a: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        deliver(client, patient_event(patient_id=f"pat-{n}"))
    services.events_dispatch()
    _lease_age(80)  # the task waited in the queue: its lease is nearly out
    monkeypatch.setattr(services, "LEASE_RENEW", timedelta(0))  # renew before every event
    seen: list[float] = []
    real = handlers.HANDLERS["patient.updated"]

    def timed(event: WebhookEvent) -> None:
        pending = WebhookEvent.objects.filter(status="pending")
        oldest = min(pending.values_list("queued_at", flat=True))
        seen.append((timezone.now() - oldest).total_seconds())
        real(event)

    monkeypatch.setitem(handlers.HANDLERS, "patient.updated", timed)
    pks = list(WebhookEvent.objects.values_list("pk", flat=True))
    assert services.events_process_leased(event_pks=pks) == {"processed": 3}
    assert max(seen) < 5  # renewed as the task started and went on


def test_the_dispatcher_keeps_the_queue_within_what_a_lease_covers(
    client: Client, practice_a: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "DISPATCH_IN_FLIGHT", 3)
    for n in range(5):
        deliver(client, patient_event(patient_id=f"pat-{n}"))
    assert services.events_dispatch() == 3
    assert services.events_dispatch() == 0  # three leased and pending: no room
    call_command("worker", "--batch", verbosity=0)  # they are processed: room again
    call_command("worker", "--batch", verbosity=0)
    assert WebhookEvent.objects.filter(queued_at__isnull=True).count() == 0
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_taking_over_twice_applies_the_event_once(
    client: Client, practice_a: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    applied: list[str] = []
    real = handlers.HANDLERS["patient.updated"]

    def counted(event: WebhookEvent) -> None:
        applied.append(event.event_id)
        real(event)

    monkeypatch.setitem(handlers.HANDLERS, "patient.updated", counted)
    deliver(client, patient_event(patient_id="pat-1", last_name="Once"))
    services.events_dispatch()
    # `kill -9` of the worker running the task: its row stays RUNNING, the event pending.
    DBTaskResult.objects.update(
        status="RUNNING", started_at=timezone.now() - timedelta(minutes=3), worker_ids=["host:dead"]
    )
    _lease_age(services.EVENT_LEASE.total_seconds() + 1)
    assert worker.tasks_take_over(me="host:live") == 1  # the task row is queued again ...
    assert services.events_dispatch() == 1  # ... and the event's lease ran out: a second task
    assert DBTaskResult.objects.filter(status="READY").count() == 2
    call_command("worker", "--batch", verbosity=0)
    assert applied == [WebhookEvent.objects.get().event_id]  # one of the two applied it
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert Patient.objects.for_practice(practice_a).get().last_name == "Once"
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


def test_a_second_task_for_a_processed_event_changes_nothing(
    client: Client, practice_a: Practice
) -> None:
    deliver(client, patient_event(patient_id="pat-1", last_name="Kept"))
    call_command("worker", "--batch", verbosity=0)
    event = WebhookEvent.objects.get()
    before = Patient.objects.for_practice(practice_a).values().get()
    webhook_events_process.enqueue([event.pk])
    call_command("worker", "--batch", verbosity=0)
    assert Patient.objects.for_practice(practice_a).values().get() == before
    assert WebhookEvent.objects.get().processed_at == event.processed_at
