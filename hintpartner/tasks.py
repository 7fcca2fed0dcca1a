"""Helpers for queueing background work the same way everywhere."""

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tasks.base import Task

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    """Queue `task` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: task.enqueue(*args, **kwargs))


def enqueue_later(
    task: Task, *, delay: timedelta, args: tuple = (), kwargs: dict | None = None
) -> bool:
    """Queue `task` to run after `delay`; False when the backend cannot defer (unit tests).

    The immediate backend used by unit tests would run a retry on the spot and recurse, so a
    deferred retry is skipped there; tests drive retries by calling the task again.
    """
    backend = task.get_backend()
    if not backend.supports_defer:
        logger.debug("backend %s cannot defer; %s not queued", backend.alias, task.name)
        return False
    task.using(run_after=timezone.now() + delay).enqueue(*args, **(kwargs or {}))
    return True


class Throttle:
    """Lets a worker sweep do its work at most once every `seconds` in this process.

    The worker calls its dispatchers (WORKER_DISPATCHERS) every half second; retention and
    clean-up sweeps need far less. Per process: several workers each sweep on their own clock,
    which is harmless for work that only removes what is already due.
    """

    def __init__(
        self, seconds: float | Callable[[], float], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seconds = seconds
        self.clock = clock
        self.last: float | None = None

    def due(self) -> bool:
        """True (and the interval starts again) when the work is due now."""
        now = self.clock()
        interval = self._seconds() if callable(self._seconds) else self._seconds
        if self.last is not None and now - self.last < interval:
            return False
        self.last = now
        return True
