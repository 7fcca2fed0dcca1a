"""Run the background worker for the configured task backend; its task loop writes the heartbeat.

One loop per process claims and runs tasks (the database queue by default, RQ when REDIS_URL is
set). The heartbeat `/readyz` reads is written by that loop, never by a thread of its own: a loop
that dies or hangs stops beating, and `/readyz` turns 503 once the beat is older than
WORKER_HEARTBEAT_STALE_SECONDS.

- A lost database (PostgreSQL restarted) is an `OperationalError` / `InterfaceError` in the loop:
  it closes its connections, waits (0.5 s doubling to 10 s) and goes on. Anything else that
  breaks the loop itself ends the process with a non-zero status for its supervisor to restart.
- The loop runs each task in a thread of its own and waits for it, beating meanwhile, so a long
  task (a batch) keeps its worker alive; a task running longer than WORKER_TASK_TIMEOUT_SECONDS
  ends the process (as RQ kills its work horse), and its row is taken over like a killed worker's.
- Task rows left RUNNING by a worker whose heartbeat went stale (`kill -9`, a lost host) are taken
  over by any live worker (`tasks_take_over`): queued again, or failed after MAX_CLAIMS claims.
- The dispatcher thread (WORKER_DISPATCHERS) sweeps only while the loop of its process is alive.
"""

import contextlib
import logging
import os
import socket
import threading
import time
from datetime import timedelta
from typing import Any

import rq
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, InterfaceError, OperationalError, connection, connections
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker as DatabaseWorker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from hintpartner.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

# How often the loop writes its heartbeat (and, while a task runs, how often it looks up from it).
HEARTBEAT_SECONDS = 10
# How often a live loop looks for task rows a dead worker left RUNNING.
TAKE_OVER_SECONDS = 15
# A task claimed this many times without finishing (its worker died each time) is failed rather
# than queued again: a task that kills its worker must not kill every worker in turn.
MAX_CLAIMS = 3
# The dispatcher sweeps only while its process's loop was seen this recently.
DISPATCH_LOOP_SECONDS = 30
# Waits after a lost database: 0.5 s, doubling, at most this.
RECONNECT_MAX_SECONDS = 10.0
# Heartbeat rows of workers gone for this long are deleted.
FORGET_AFTER = timedelta(days=1)

DATABASE_LOST = (OperationalError, InterfaceError)


class WorkerLost(Exception):
    """Recorded on a task row whose worker died while running it, MAX_CLAIMS times."""


class TaskTimedOut(Exception):
    """A task ran longer than WORKER_TASK_TIMEOUT_SECONDS: the process ends for a restart."""


def _stale_after() -> timedelta:
    return timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)


class LoopPulse:
    """When the task loop of this process last went round (monotonic), for its dispatcher."""

    def __init__(self) -> None:
        self.at = time.monotonic()

    def tick(self) -> None:
        self.at = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self.at < DISPATCH_LOOP_SECONDS


def heartbeat_write(name: str) -> None:
    """Record that worker `name`'s loop is going round (one UPDATE; an INSERT the first time)."""
    now = timezone.now()
    if not WorkerHeartbeat.objects.filter(worker=name).update(seen_at=now):
        WorkerHeartbeat.objects.update_or_create(worker=name, defaults={"seen_at": now})


def tasks_take_over(*, me: str) -> int:
    """Queue again the task rows a dead worker left RUNNING; returns how many rows changed.

    A row is orphaned when the worker that claimed it last (`worker_ids[-1]`) has no heartbeat
    newer than WORKER_HEARTBEAT_STALE_SECONDS, or is this worker (`me`: called between tasks, so
    a row of its own still RUNNING is one whose outcome was lost with the database). The reset
    is conditional on `started_at`, so two workers taking over the same row change it once.
    """
    stale_after = _stale_after()
    now = timezone.now()
    rows = list(
        DBTaskResult.objects.running()
        .filter(started_at__lt=now - timedelta(seconds=1))
        .values_list("id", "worker_ids", "started_at")
    )
    if not rows:
        return 0
    alive = set(
        WorkerHeartbeat.objects.filter(seen_at__gte=now - stale_after).values_list(
            "worker", flat=True
        )
    )
    changed = 0
    for pk, worker_ids, started_at in rows:
        owner = worker_ids[-1] if worker_ids else ""
        if owner != me and owner in alive:
            continue
        if owner != me and started_at > now - stale_after:
            continue  # claimed moments ago by a worker whose first beat is on its way
        row = DBTaskResult.objects.filter(
            pk=pk, status=TaskResultStatus.RUNNING, started_at=started_at
        )
        if len(worker_ids) >= MAX_CLAIMS:
            done = row.update(
                status=TaskResultStatus.FAILED,
                finished_at=now,
                return_value=None,
                exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
                traceback=(
                    f"WorkerLost: the worker running this task stopped {len(worker_ids)} times "
                    "(killed or lost); not queued again."
                ),
            )
            action = "failed"
        else:
            done = row.update(status=TaskResultStatus.READY)
            action = "queued again"
        if done:
            logger.warning("task %s left running by worker %s: %s", pk, owner or "?", action)
        changed += done
    return changed


def _close_connections() -> None:
    for conn in connections.all(initialized_only=True):
        with contextlib.suppress(Exception):
            conn.close()


class TaskLoop(DatabaseWorker):
    """django-tasks-db's worker with the loop's heartbeat, reconnects and take-over."""

    def __init__(self, *, name: str, batch: bool, interval: float, pulse: LoopPulse) -> None:
        super().__init__(
            queue_names=["default"],
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=name,
            excluded_queue_names=[],
        )
        self.pulse = pulse
        self._beaten_at = float("-inf")
        self._taken_over_at = float("-inf")

    # -- the loop --------------------------------------------------------------------------------

    def run(self) -> None:
        logger.info("worker %s: task loop started", self.worker_id)
        failures = 0
        while self.running:
            try:
                ran, empty = self.tick()
                failures = 0
            except DATABASE_LOST as exc:
                failures += 1
                wait = min(RECONNECT_MAX_SECONDS, 0.5 * 2 ** (failures - 1))
                logger.warning(
                    "worker %s: database lost (%s); reconnecting in %.1f s",
                    self.worker_id,
                    type(exc).__name__,
                    wait,
                )
                _close_connections()
                time.sleep(wait)
                continue
            if self.batch and empty:
                logger.info("worker %s: queue empty, exiting", self.worker_id)
                return
            if self.running and not ran:
                time.sleep(self.interval)

    def tick(self) -> tuple[bool, bool]:
        """One round: beat, take over orphans, claim and run one task. (ran, queue was empty)."""
        self.pulse.tick()
        self.beat()
        self.take_over()
        tasks = DBTaskResult.objects.ready().filter(
            backend_name=self.backend_name, queue_name__in=self.queue_names
        )
        with exclusive_transaction(tasks.db):
            try:
                task_result = tasks.get_locked()
                if task_result is not None:
                    task_result.claim(self.worker_id)
            except OperationalError as exc:
                if not is_locked_database_exception(exc):
                    raise
                return False, False  # SQLite's write lock: try again on the next round
        if task_result is None:
            return False, True
        self.run_supervised(task_result)
        return True, False

    def beat(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._beaten_at >= HEARTBEAT_SECONDS:
            heartbeat_write(self.worker_id)
            self._beaten_at = now
            WorkerHeartbeat.objects.filter(seen_at__lt=timezone.now() - FORGET_AFTER).delete()

    def take_over(self) -> None:
        now = time.monotonic()
        if now - self._taken_over_at >= TAKE_OVER_SECONDS:
            tasks_take_over(me=self.worker_id)
            self._taken_over_at = now

    # -- one task --------------------------------------------------------------------------------

    def run_supervised(self, db_task_result: DBTaskResult) -> None:
        """Run the task in a thread and wait for it, beating while it runs."""
        failure: list[BaseException] = []

        def run() -> None:
            try:
                self.run_task(db_task_result)  # records success or failure on the row
            except BaseException as exc:  # the outcome could not be recorded (database lost)
                failure.append(exc)
            finally:
                connection.close()  # this thread's own connection

        self.running_task = True
        thread = threading.Thread(target=run, name=f"task-{db_task_result.id}", daemon=True)
        started = time.monotonic()
        thread.start()
        while True:
            thread.join(timeout=HEARTBEAT_SECONDS)
            if not thread.is_alive():
                break
            self.pulse.tick()
            if time.monotonic() - started > settings.WORKER_TASK_TIMEOUT_SECONDS:
                raise TaskTimedOut(
                    f"task {db_task_result.id} ({db_task_result.task_path}) ran longer than "
                    f"{settings.WORKER_TASK_TIMEOUT_SECONDS} s"
                )
            try:
                self.beat(force=True)
            except DatabaseError:  # the task meets the same outage and ends; the loop reconnects
                logger.warning("worker %s: heartbeat not written", self.worker_id)
                connection.close()
        self.running_task = False
        if failure:
            # The row stays RUNNING under this worker; the next take-over queues it again.
            logger.warning(
                "worker %s: outcome of task %s not recorded (%s); it will run again",
                self.worker_id,
                db_task_result.id,
                type(failure[0]).__name__,
            )
            self._taken_over_at = float("-inf")


# --- the dispatcher thread -------------------------------------------------------------------


def dispatch_once() -> int:
    """Run each of settings.WORKER_DISPATCHERS once; returns how much they queued."""
    queued = 0
    for path in settings.WORKER_DISPATCHERS:
        try:
            queued += import_string(path)() or 0
        except Exception:  # a failed sweep is retried on the next tick; the worker goes on
            logger.warning("dispatcher %s failed", path, exc_info=True)
            _close_connections_of_this_thread()
    return queued


def _close_connections_of_this_thread() -> None:
    with contextlib.suppress(Exception):
        connection.close()


def _dispatch(stop: threading.Event, pulse: LoopPulse) -> None:
    while not stop.is_set():
        if pulse.alive():
            dispatch_once()
        stop.wait(settings.WORKER_DISPATCH_SECONDS)
    connection.close()  # this thread's own connection


# --- RQ ----------------------------------------------------------------------------------------

_rq_pulse = LoopPulse()
_rq_stop_requested = threading.Event()


class RQHeartbeat:
    """For an RQ worker class: our heartbeat written from RQ's loop's own heartbeat (idle: every
    `worker_ttl - 15` s while it waits on Redis; busy: every `job_monitoring_interval` s while
    its work horse runs a job), and the registries of dead workers' jobs cleaned every minute
    (RQ fails a job whose worker stopped beating)."""

    name: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["job_monitoring_interval"] = HEARTBEAT_SECONDS
        kwargs["maintenance_interval"] = 60
        super().__init__(*args, **kwargs)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        super().heartbeat(timeout, pipeline)  # type: ignore[misc]
        _rq_pulse.tick()
        try:
            heartbeat_write(self.name)
        except DatabaseError:
            logger.warning("worker %s: heartbeat not written", self.name)
        finally:
            connection.close()  # never leave a connection for the next fork to inherit

    def request_stop(self, signum: Any, frame: Any) -> None:
        _rq_stop_requested.set()
        super().request_stop(signum, frame)  # type: ignore[misc]


class RQWorker(RQHeartbeat, rq.Worker):
    """The RQ worker `manage.py worker` runs (a work horse forked per job)."""


RQ_WORKER_CLASS = f"{__name__}.RQWorker"


# --- the command -------------------------------------------------------------------------------


class Command(BaseCommand):
    help = "Run the task worker (database queue by default, RQ when REDIS_URL is set)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch", action="store_true", help="Exit when the queue is empty.")

    def handle(self, *args: Any, **options: Any) -> None:
        name = f"{socket.gethostname()}:{os.getpid()}"[-64:]
        batch = options["batch"]
        pulse = _rq_pulse if settings.REDIS_URL else LoopPulse()
        stop = threading.Event()
        dispatcher = threading.Thread(target=_dispatch, args=(stop, pulse), daemon=True)
        if batch:
            dispatch_once()  # queue what is waiting, then drain the queue and exit
        else:
            dispatcher.start()
        try:
            if settings.REDIS_URL:
                self._run_rq(name, batch)
            else:
                loop = TaskLoop(name=name, batch=batch, interval=0.5, pulse=pulse)
                loop.configure_signals()
                loop.run()
        finally:
            stop.set()
            if dispatcher.is_alive():
                dispatcher.join(timeout=5)

    def _run_rq(self, name: str, batch: bool) -> None:
        extra = ["--burst"] if batch else []
        # worker_ttl 35: the idle loop waits on Redis 20 s at a time, then beats.
        # The scheduler moves deferred jobs (enqueue_later: retries) onto the queue.
        call_command(
            "rqworker",
            "default",
            "--name",
            name,
            "--worker-class",
            RQ_WORKER_CLASS,
            "--worker-ttl",
            "35",
            "--job-class",
            "django_tasks_rq.Job",
            "--with-scheduler",
            *extra,
        )
        if not batch and not _rq_stop_requested.is_set():
            # RQ's loop quits on an unhandled error: say so with a non-zero exit for a restart.
            raise CommandError("the RQ worker's loop ended; exiting for a restart")
