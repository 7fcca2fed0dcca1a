"""Background tasks run through the configured backends."""

import os
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings

from hintpartner.models import WorkerHeartbeat
from hintpartner.tasks import enqueue_later
from tests.hintpartner.sample_tasks import record

DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.mark.django_db(transaction=True)
def test_the_database_worker_runs_a_queued_task() -> None:
    with override_settings(TASKS=DB_BACKEND):
        result = record.enqueue("db-1")
        assert not WorkerHeartbeat.objects.filter(worker="task:db-1").exists()
        call_command("db_worker", "--batch", "--interval", "0", verbosity=0)
        result.refresh()
        assert result.status == "SUCCESSFUL"
        assert result.return_value == "db-1"
    assert WorkerHeartbeat.objects.filter(worker="task:db-1").exists()


@pytest.mark.django_db(transaction=True)
def test_a_deferred_task_waits_for_its_time() -> None:
    with override_settings(TASKS=DB_BACKEND):
        assert enqueue_later(record, delay=timedelta(hours=1), args=("later",))
        call_command("db_worker", "--batch", "--interval", "0", verbosity=0)
    assert not WorkerHeartbeat.objects.filter(worker="task:later").exists()


@pytest.mark.django_db
def test_the_immediate_backend_does_not_defer() -> None:
    assert enqueue_later(record, delay=timedelta(seconds=1), args=("x",)) is False


@pytest.mark.rq
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (run by .ci/run)")
def test_the_rq_worker_runs_a_queued_task() -> None:
    import django_rq
    from django_tasks_rq import Job
    from rq import SimpleWorker

    result = record.enqueue("rq-1")
    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection, job_class=Job).work(burst=True)
    result.refresh()
    assert result.status == "SUCCESSFUL"
    assert WorkerHeartbeat.objects.filter(worker="task:rq-1").exists()
