"""On RQ the heartbeat /readyz reads comes from RQ's own worker loop (run by .ci/run's `-m rq`)."""

import os
import time

import pytest
from django.test import Client, override_settings

from hintpartner.management.commands import worker
from hintpartner.models import WorkerHeartbeat
from tests.hintpartner.sample_tasks import record

pytestmark = [
    pytest.mark.rq,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (run by .ci/run)"),
]


def _worker(name: str) -> object:
    import django_rq
    from django_tasks_rq import Job
    from rq import SimpleWorker

    class Beating(worker.RQHeartbeat, SimpleWorker):  # in-process, as the tests' database is
        pass

    queue = django_rq.get_queue("default")
    return Beating([queue], connection=queue.connection, job_class=Job, name=name)


def test_the_rq_loop_writes_the_heartbeat_and_readyz_follows_it(client: Client) -> None:
    record.enqueue("rq-beat")
    rq_worker = _worker("host:rq-1")
    assert rq_worker.job_monitoring_interval == worker.HEARTBEAT_SECONDS
    assert rq_worker.maintenance_interval == 60  # a dead worker's jobs are failed within minutes
    rq_worker.work(burst=True)
    assert WorkerHeartbeat.objects.filter(worker="task:rq-beat").exists()  # the job ran
    assert WorkerHeartbeat.objects.filter(worker="host:rq-1").exists()  # its loop beat
    assert client.get("/readyz").status_code == 200
    with override_settings(WORKER_HEARTBEAT_STALE_SECONDS=1):
        time.sleep(1.2)  # the loop has ended (burst): nothing beats any more
        assert client.get("/readyz").status_code == 503


def test_the_command_runs_rq_with_the_beating_worker_class() -> None:
    from rq import Worker

    assert issubclass(worker.RQWorker, worker.RQHeartbeat)
    assert issubclass(worker.RQWorker, Worker)
