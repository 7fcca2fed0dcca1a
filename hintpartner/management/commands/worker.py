"""Run the background worker for the configured task backend, with a heartbeat for /readyz."""

import logging
import os
import socket
import threading
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.module_loading import import_string

from hintpartner.models import WorkerHeartbeat

HEARTBEAT_SECONDS = 15
logger = logging.getLogger(__name__)


def _beat(name: str, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            WorkerHeartbeat.objects.update_or_create(
                worker=name, defaults={"seen_at": timezone.now()}
            )
        except Exception:  # a missed beat must never stop the worker
            logger.warning("worker heartbeat not written", exc_info=True)
        finally:
            close_old_connections()
        stop.wait(HEARTBEAT_SECONDS)
    connection.close()  # this thread's own connection


def dispatch_once() -> int:
    """Run each of settings.WORKER_DISPATCHERS once; returns how much they queued."""
    queued = 0
    for path in settings.WORKER_DISPATCHERS:
        try:
            queued += import_string(path)() or 0
        except Exception:  # a failed sweep is retried on the next tick; the worker goes on
            logger.warning("dispatcher %s failed", path, exc_info=True)
        finally:
            close_old_connections()
    return queued


def _dispatch(stop: threading.Event) -> None:
    while not stop.is_set():
        dispatch_once()
        stop.wait(settings.WORKER_DISPATCH_SECONDS)
    connection.close()  # this thread's own connection


class Command(BaseCommand):
    help = "Run the task worker (database queue by default, RQ when REDIS_URL is set)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch", action="store_true", help="Exit when the queue is empty.")

    def handle(self, *args: Any, **options: Any) -> None:
        name = f"{socket.gethostname()}:{os.getpid()}"
        stop = threading.Event()
        threads = [threading.Thread(target=_beat, args=(name, stop), daemon=True)]
        if options["batch"]:
            dispatch_once()  # queue what is waiting, then drain the queue and exit
        else:
            threads.append(threading.Thread(target=_dispatch, args=(stop,), daemon=True))
        for thread in threads:
            thread.start()
        try:
            if settings.REDIS_URL:
                extra = ["--burst"] if options["batch"] else []
                # The scheduler moves deferred jobs (enqueue_later: retries) onto the queue.
                call_command(
                    "rqworker",
                    "default",
                    "--job-class",
                    "django_tasks_rq.Job",
                    "--with-scheduler",
                    *extra,
                )
            else:
                extra = ["--batch"] if options["batch"] else []
                call_command("db_worker", "--interval", "0.5", *extra)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=5)
