"""The worker's task loop: its heartbeat (read by /readyz), reconnecting after a lost database,
a task timeout, and taking over the task rows a dead worker left RUNNING."""

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client, override_settings
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from hintpartner.management.commands import worker
from hintpartner.models import WorkerHeartbeat
from tests.hintpartner import sample_tasks

pytestmark = pytest.mark.django_db(transaction=True)

DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@task()
def mark(name: str) -> str:
    """Like `sample_tasks.record`, but idempotent: a second run changes nothing."""
    WorkerHeartbeat.objects.get_or_create(
        worker=f"task:{name}", defaults={"seen_at": timezone.now()}
    )
    return name


@task()
def sleepy(seconds: float) -> None:
    """A task that takes a while (a batch, in small)."""
    time.sleep(seconds)


@pytest.fixture(autouse=True)
def database_backend() -> None:
    with override_settings(TASKS=DB_BACKEND):
        yield


def _loop(name: str = "host:1", *, batch: bool = True) -> worker.TaskLoop:
    return worker.TaskLoop(name=name, batch=batch, interval=0.01, pulse=worker.LoopPulse())


def _ran(name: str) -> bool:
    return WorkerHeartbeat.objects.filter(worker=f"task:{name}").exists()


def _orphan(name: str, *, owner: str, claims: int = 1, minutes_ago: int = 5) -> DBTaskResult:
    """A task row its worker claimed `minutes_ago` and never finished."""
    result = sample_tasks.record.enqueue(name)
    row = DBTaskResult.objects.get(pk=result.id)
    DBTaskResult.objects.filter(pk=row.pk).update(
        status="RUNNING",
        started_at=timezone.now() - timedelta(minutes=minutes_ago),
        worker_ids=[f"old:{n}" for n in range(claims - 1)] + [owner],
    )
    return row


def _beat(name: str, *, seconds_ago: float) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker=name, defaults={"seen_at": timezone.now() - timedelta(seconds=seconds_ago)}
    )


# --- the heartbeat comes from the loop ---------------------------------------------------------


def test_the_loop_writes_the_heartbeat_under_its_worker_id(client: Client) -> None:
    result = sample_tasks.record.enqueue("beat")
    _loop("host:42").run()
    assert WorkerHeartbeat.objects.filter(worker="host:42").exists()
    assert DBTaskResult.objects.get(pk=result.id).worker_ids == ["host:42"]
    assert client.get("/readyz").status_code == 200


def test_readyz_turns_503_when_the_loop_stops_while_the_process_and_dispatcher_live(
    client: Client,
) -> None:
    pulse = worker.LoopPulse()
    loop = worker.TaskLoop(name="host:7", batch=False, interval=0.05, pulse=pulse)
    stop = threading.Event()
    dispatcher = threading.Thread(target=worker._dispatch, args=(stop, pulse), daemon=True)
    looping = threading.Thread(target=loop.run, daemon=True)
    dispatcher.start()
    looping.start()
    try:
        deadline = time.monotonic() + 10
        while not _unlocked(lambda: WorkerHeartbeat.objects.filter(worker="host:7").exists()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert _unlocked(lambda: client.get("/readyz").status_code) == 200
        loop.running = False  # the task loop ends; the process and its dispatcher go on
        looping.join(timeout=5)
        assert not looping.is_alive() and dispatcher.is_alive()
        with override_settings(WORKER_HEARTBEAT_STALE_SECONDS=1):
            time.sleep(1.3)
            response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["worker"] == "stale"
    finally:
        loop.running = False
        stop.set()
        looping.join(timeout=5)
        dispatcher.join(timeout=5)


def _unlocked(read: Any) -> Any:
    """`read()`, again while the test database (SQLite, shared between threads) is locked."""
    for _ in range(50):
        try:
            value = read()
        except OperationalError:
            time.sleep(0.02)
            continue
        if value != 503:  # the readyz view answers 503 for a locked read too
            return value
        time.sleep(0.02)
    return read()


def test_a_long_task_keeps_its_worker_beating(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "HEARTBEAT_SECONDS", 0.05)
    beats: list[tuple[str, bool]] = []
    real_write = worker.heartbeat_write

    def watched(name: str) -> None:
        running = any(t.is_alive() for t in threading.enumerate() if t.name.startswith("task-"))
        beats.append((threading.current_thread().name, running))
        real_write(name)

    monkeypatch.setattr(worker, "heartbeat_write", watched)
    sleepy.enqueue(0.4)
    _loop().run()
    main = threading.current_thread().name
    assert sum(1 for thread, running in beats if running) >= 3  # beats while the task ran
    assert {thread for thread, _ in beats} == {main}  # all from the loop's own thread


def test_the_dispatcher_sweeps_only_while_its_loop_goes_round(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sweeps: list[int] = []
    monkeypatch.setattr(worker, "dispatch_once", lambda: sweeps.append(1) or 0)
    pulse = worker.LoopPulse()
    pulse.at -= worker.DISPATCH_LOOP_SECONDS + 1  # the loop was last seen long ago
    stop = threading.Event()
    thread = threading.Thread(target=worker._dispatch, args=(stop, pulse))
    with override_settings(WORKER_DISPATCH_SECONDS=0.01):
        thread.start()
        time.sleep(0.1)
        assert not sweeps
        pulse.tick()
        time.sleep(0.1)
        stop.set()
        thread.join()
    assert sweeps


# --- a lost database ---------------------------------------------------------------------------


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_the_loop_reconnects_after_a_lost_database(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    sample_tasks.record.enqueue("after-outage")
    real_write = worker.heartbeat_write
    failures = iter([error("server closed the connection unexpectedly")] * 3)
    closed: list[int] = []
    slept: list[float] = []

    def flaky(name: str) -> None:
        exc = next(failures, None)
        if exc is not None:
            raise exc
        real_write(name)

    real_close = worker._close_connections
    monkeypatch.setattr(worker, "heartbeat_write", flaky)
    monkeypatch.setattr(worker, "_close_connections", lambda: (closed.append(1), real_close()))
    monkeypatch.setattr(worker.time, "sleep", slept.append)
    _loop().run()
    assert _ran("after-outage")
    assert len(closed) == 3
    assert slept[:3] == [0.5, 1.0, 2.0]  # waits double between attempts


def test_a_closed_connection_under_the_loop_is_reopened() -> None:
    from django.db import connection

    loop = _loop()
    loop.tick()
    connection.close()  # as when PostgreSQL restarts: the next query opens a new connection
    sample_tasks.record.enqueue("reopened")
    loop.run()
    assert _ran("reopened")


def test_any_other_loop_error_ends_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(name: str) -> None:
        raise RuntimeError("a bug in the loop")

    monkeypatch.setattr(worker, "heartbeat_write", broken)
    with pytest.raises(RuntimeError):  # manage.py exits non-zero; the supervisor restarts it
        _loop().run()


def test_a_task_whose_outcome_was_lost_with_the_database_runs_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = mark.enqueue("lost-outcome")
    down = {"set_successful": 1, "set_failed": 1}  # both writes meet the outage once

    def lost_once(name: str) -> Any:
        real = getattr(DBTaskResult, name)

        def write(self: DBTaskResult, value: Any) -> None:
            if down[name]:
                down[name] -= 1
                raise OperationalError("the database went away")
            real(self, value)

        return write

    for name in down:
        monkeypatch.setattr(DBTaskResult, name, lost_once(name))
    loop = _loop()
    loop.tick()  # runs it; the outcome is not recorded: the row stays RUNNING under us
    assert DBTaskResult.objects.get(pk=result.id).status == "RUNNING"
    time.sleep(1.1)  # take-over leaves rows claimed within the last second alone
    loop.run()  # its next round takes the row over (at once: a write was lost) and runs it
    assert DBTaskResult.objects.get(pk=result.id).status == "SUCCESSFUL"


def test_a_task_running_past_its_timeout_ends_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "HEARTBEAT_SECONDS", 0.05)
    sleepy.enqueue(0.5)
    with override_settings(WORKER_TASK_TIMEOUT_SECONDS=0), pytest.raises(worker.TaskTimedOut):
        _loop().run()


# --- taking over task rows of dead workers ----------------------------------------------------


def test_a_row_left_running_by_a_dead_worker_is_queued_again_and_runs() -> None:
    row = _orphan("orphan", owner="host:dead")
    _beat("host:dead", seconds_ago=120)
    assert worker.tasks_take_over(me="host:live") == 1
    assert DBTaskResult.objects.get(pk=row.pk).status == "READY"
    assert worker.tasks_take_over(me="host:other") == 0  # a second taker changes nothing
    _loop("host:live").run()
    row = DBTaskResult.objects.get(pk=row.pk)
    assert row.status == "SUCCESSFUL"
    assert row.worker_ids == ["host:dead", "host:live"]


def test_a_row_of_a_worker_never_seen_is_taken_over() -> None:
    row = _orphan("unseen", owner="host:gone")
    assert worker.tasks_take_over(me="host:live") == 1
    assert DBTaskResult.objects.get(pk=row.pk).status == "READY"


def test_the_loop_takes_over_within_its_own_round() -> None:
    row = _orphan("round", owner="host:dead")
    _beat("host:dead", seconds_ago=300)
    _loop("host:live").run()
    assert DBTaskResult.objects.get(pk=row.pk).status == "SUCCESSFUL"
    assert _ran("round")


def test_a_row_of_a_live_worker_is_left_alone() -> None:
    row = _orphan("busy", owner="host:busy")
    _beat("host:busy", seconds_ago=5)
    assert worker.tasks_take_over(me="host:live") == 0
    assert DBTaskResult.objects.get(pk=row.pk).status == "RUNNING"


def test_a_row_claimed_moments_ago_is_left_alone() -> None:
    row = _orphan("fresh", owner="host:new", minutes_ago=0)
    DBTaskResult.objects.filter(pk=row.pk).update(started_at=timezone.now() - timedelta(seconds=5))
    assert worker.tasks_take_over(me="host:live") == 0


def test_a_task_that_killed_its_worker_too_often_is_failed() -> None:
    row = _orphan("killer", owner="host:dead", claims=worker.MAX_CLAIMS)
    assert worker.tasks_take_over(me="host:live") == 1
    row = DBTaskResult.objects.get(pk=row.pk)
    assert row.status == "FAILED"
    assert row.exception_class_path.endswith("WorkerLost")
    assert "stopped 3 times" in row.traceback
