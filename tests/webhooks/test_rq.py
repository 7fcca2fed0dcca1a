"""The webhook task through RQ on a real Redis (run by .ci/run's `-m rq` step)."""

import os

import pytest
from django.test import Client

from handshake.models import Practice
from sync.models import Patient
from tests.webhooks.conftest import deliver, patient_event
from webhooks import handlers, services
from webhooks.models import ReceivedWebhookEvent, WebhookEvent

pytestmark = [
    pytest.mark.rq,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (run by .ci/run)"),
]


def _work() -> None:
    import django_rq
    from django_tasks_rq import Job
    from rq import SimpleWorker

    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection, job_class=Job).work(burst=True)


def test_a_delivered_event_is_processed_by_an_rq_worker(
    client: Client, practice_a: Practice
) -> None:
    response = deliver(client, patient_event("patient.created", last_name="Through Redis"))
    assert response.status_code == 200
    assert ReceivedWebhookEvent.objects.count() == 1  # stored, not run
    assert services.events_dispatch() == 1  # the worker sorts it and queues it on Redis
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PENDING
    _work()
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert Patient.objects.for_practice(practice_a).get().last_name == "Through Redis"


def test_a_failing_event_is_deferred_for_a_retry_on_rq(
    client: Client, practice_a: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(event: WebhookEvent) -> None:
        raise RuntimeError("not yet")

    monkeypatch.setitem(handlers.HANDLERS, "patient.updated", broken)
    deliver(client, patient_event())
    services.events_dispatch()
    _work()
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED
    assert event.next_attempt_at is not None  # RQ can defer: the retry is scheduled
