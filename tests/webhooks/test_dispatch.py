"""On a real backend the receiver stores one row per delivery; the worker's dispatcher queues
pending events in batches, once each, and the worker processes them."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from handshake.models import Practice
from sync.models import Patient
from tests.webhooks.conftest import deliver, patient_event
from webhooks import services
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)

DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture(autouse=True)
def database_backend() -> None:
    with override_settings(TASKS=DB_BACKEND):
        yield


def test_the_receiver_writes_the_event_and_no_task(client: Client, practice_a: Practice) -> None:
    assert deliver(client, patient_event()).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.PENDING
    assert event.queued_at is None
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
    WebhookEvent.objects.update(queued_at=timezone.now() - timedelta(hours=2))
    assert services.events_dispatch() == 1
    call_command("worker", "--batch", verbosity=0)
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_ignored_and_failed_events_are_not_dispatched(client: Client, practice_a: Practice) -> None:
    deliver(client, {**patient_event(), "type": "appointment.created"})
    deliver(client, patient_event())
    WebhookEvent.objects.filter(type="patient.updated").update(status="failed")
    assert services.events_dispatch() == 0  # a failed event waits for its own retry or a replay


def test_one_failing_event_does_not_stop_its_batch(
    client: Client, practice_a: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = services.HANDLERS["patient.updated"]

    def picky(event: WebhookEvent) -> None:
        if event.payload["object"]["id"] == "pat-bad":
            raise RuntimeError("cannot apply")
        real(event)

    monkeypatch.setitem(services.HANDLERS, "patient.updated", picky)
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

    first = deliver(client, patient_event(event_id="evt-1"))
    repeat = deliver(client, patient_event(event_id="evt-1"))
    assert (first.json()["duplicate"], repeat.json()["duplicate"]) == (False, True)
    deliver(client, patient_event(event_id="evt-stranger", practice_id="pra-nobody"))
    assert UnroutedWebhookEvent.objects.get().event_id == "evt-stranger"
    deliver(client, {**patient_event(event_id="evt-other"), "type": "appointment.created"})
    practice_a.installation_status = Practice.InstallationStatus.DEACTIVATED
    practice_a.save()
    deliver(client, patient_event(event_id="evt-late"))
    rows = {e.event_id: e for e in WebhookEvent.objects.all()}
    assert sorted(rows) == ["evt-1", "evt-late", "evt-other"]
    assert rows["evt-1"].status == WebhookEvent.Status.PENDING
    assert rows["evt-1"].practice == practice_a and rows["evt-1"].processed_at is None
    late = rows["evt-late"]
    assert (late.status, late.note) == (WebhookEvent.Status.IGNORED, services.NOT_CONNECTED)
    assert late.processed_at is not None and late.practice == practice_a
    assert rows["evt-other"].status == WebhookEvent.Status.IGNORED
    assert services.events_dispatch() == 1  # only the connected practice's patient event


def test_a_connected_practice_without_a_token_is_not_connected(
    client: Client, practice_a: Practice
) -> None:
    Practice.objects.filter(pk=practice_a.pk).update(token="")
    deliver(client, patient_event())
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED
