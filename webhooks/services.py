"""Process stored webhook events: dispatch them to tasks under a lease, run each through its
handler (`webhooks.handlers`), retry failures, replay on request. Receiving is `webhooks.inbox`."""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from handshake.audit import Actor, audit_record
from hintpartner.hint import policy
from hintpartner.tasks import enqueue_later, enqueue_on_commit
from webhooks import inbox
from webhooks.handlers import HANDLERS
from webhooks.inbox import NOT_ACTED_ON
from webhooks.models import WebhookEvent

logger = logging.getLogger(__name__)

# Handler failures are retried this many times in all, waiting by `policy.WEBHOOK_SCHEDULE`, then
# wait for a replay (admin page or `manage.py replay_webhooks`).
MAX_ATTEMPTS = getattr(settings, "WEBHOOK_MAX_ATTEMPTS", 5)
ERROR_LIMIT = 2000


def _queue(event_pks: list[int], *, delay: timedelta | None = None) -> bool:
    """Queue processing of stored events: after the current transaction commits, so a task never
    names a row its worker cannot see yet (on every backend); with `delay`, a deferred retry.

    A task lost between the commit and the queue (a crash) is queued again by `events_dispatch`
    once its lease (EVENT_LEASE) runs out. `webhooks.tasks` imports this module (its tasks call
    `event_process`), so this is the one place that imports it back, at call time. False when
    the backend cannot defer a retry (unit tests).
    """
    from webhooks import tasks

    if delay is not None:
        return enqueue_later(tasks.webhook_events_process, delay=delay, args=(event_pks,))
    enqueue_on_commit(tasks.webhook_events_process, event_pks)
    return True


# --- dispatching ------------------------------------------------------------------------------

DISPATCH_BATCH = 100
# Queueing an event takes a lease on it: `queued_at` is when the lease was taken or last renewed.
# The task carrying the event renews it when it starts and every LEASE_RENEW while it works, so
# a pending event whose lease ran out lost its task (its worker was killed, the queue was
# flushed, a crash between claiming and queueing): the dispatcher queues it again. Processing is
# idempotent (`event_process` locks the row and skips a done event), so a second task that finds
# the first one alive after all changes nothing.
EVENT_LEASE = timedelta(seconds=90)
LEASE_RENEW = timedelta(seconds=20)
# Leased events still pending, at most: the queue never holds more than the workers run within a
# lease, so waiting in the queue does not run out a lease that its task would renew.
DISPATCH_IN_FLIGHT = 2000
# The name the lease had before it was one (an hour): kept for callers that read it.
REQUEUE_AFTER = EVENT_LEASE


def events_dispatch(*, limit: int = 5000) -> int:
    """Queue tasks for pending events with no live lease, in batches; returns how many.

    Runs in the worker (`manage.py worker`, every half second), after sorting what the receiver
    stored since the last sweep (`inbox.received_sort`). Claims rows with SKIP LOCKED, so any
    number of workers can run it side by side without queueing an event twice.
    """
    inbox.received_sort()
    dispatched = 0
    while dispatched < limit:
        now = timezone.now()
        pending = WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING)
        waiting = pending.filter(
            models.Q(queued_at__isnull=True) | models.Q(queued_at__lt=now - EVENT_LEASE)
        )
        if not waiting.exists():
            # A plain read first: on SQLite a write transaction takes the database's one write
            # lock, and an idle worker would take it twice a second for nothing.
            break
        room = DISPATCH_IN_FLIGHT - pending.filter(queued_at__gte=now - EVENT_LEASE).count()
        if room <= 0:
            break  # the queue is full enough; the next sweep queues more
        with transaction.atomic():
            pks = list(
                waiting.order_by("queued_at", "pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[: min(DISPATCH_BATCH, room)]
            )
            if not pks:
                break
            taken_over = WebhookEvent.objects.filter(pk__in=pks, queued_at__isnull=False).count()
            WebhookEvent.objects.filter(pk__in=pks).update(queued_at=now)
            _queue(pks)
        if taken_over:
            logger.warning("%s webhook events outlived their lease: queued again", taken_over)
        dispatched += len(pks)
    if dispatched:
        logger.info("dispatched %s webhook events", dispatched)
    return dispatched


def events_lease_renew(event_pks: list[int]) -> int:
    """Renew the lease of the events a running task carries (those still pending)."""
    return WebhookEvent.objects.filter(pk__in=event_pks, status=WebhookEvent.Status.PENDING).update(
        queued_at=timezone.now()
    )


def events_process_leased(*, event_pks: list[int]) -> dict[str, int]:
    """The dispatcher's task body: process a batch in arrival order, renewing its lease; one
    failure never stops the rest (it is recorded on its event and retried on its own)."""
    events_lease_renew(event_pks)
    renewed_at = timezone.now()
    outcome: dict[str, int] = {}
    # A list, not a cursor: each event commits on its own, and on SQLite an open read would pin
    # a snapshot that those commits cannot write from.
    for event in list(WebhookEvent.objects.filter(pk__in=event_pks).order_by("pk")):
        if timezone.now() - renewed_at >= LEASE_RENEW:
            events_lease_renew(event_pks)
            renewed_at = timezone.now()
        status = event_process(event=event)
        outcome[status] = outcome.get(status, 0) + 1
    return outcome


# --- processing -------------------------------------------------------------------------------


def _error_text(exc: Exception) -> str:
    message = str(exc).strip() or "no message"
    return f"{type(exc).__name__}: {message}"[:ERROR_LIMIT]


def event_process(*, event: WebhookEvent) -> str:
    """Run the event's handler once; idempotent. Returns the event's status afterwards."""
    done = (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED)
    if event.status in done:
        return event.status
    handler = HANDLERS.get(event.type)
    if handler is None:
        WebhookEvent.objects.filter(pk=event.pk).update(
            status=WebhookEvent.Status.IGNORED,
            note=NOT_ACTED_ON,
            processed_at=timezone.now(),
        )
        return WebhookEvent.Status.IGNORED
    try:
        with transaction.atomic():
            # Two workers may hold the same event (a retry and a replay): one applies it.
            locked = WebhookEvent.objects.select_for_update().select_related("practice")
            current = locked.get(pk=event.pk)
            if current.status in done:
                return current.status
            handler(current)
            WebhookEvent.objects.filter(pk=event.pk).update(
                status=WebhookEvent.Status.PROCESSED,
                attempts=current.attempts + 1,
                error="",
                next_attempt_at=None,
                processed_at=timezone.now(),
            )
        return WebhookEvent.Status.PROCESSED
    except Exception as exc:  # any handler failure: record it, retry later, never block others
        logger.debug("webhook handler failed", exc_info=True)
        return _event_failed(event_pk=event.pk, exc=exc)


def _event_failed(*, event_pk: int, exc: Exception) -> str:
    event = WebhookEvent.objects.get(pk=event_pk)
    event.attempts += 1
    event.status = WebhookEvent.Status.FAILED
    event.error = _error_text(exc)
    event.next_attempt_at = None
    if event.attempts < MAX_ATTEMPTS:
        delay = policy.backoff(event.attempts, policy.WEBHOOK_SCHEDULE)
        if _queue([event.pk], delay=delay):
            event.next_attempt_at = timezone.now() + delay
    event.save(update_fields=["attempts", "status", "error", "next_attempt_at"])
    logger.warning(
        "webhook %s (%s) failed, attempt %s: %s",
        event.event_id,
        event.type,
        event.attempts,
        type(exc).__name__,
    )
    return event.status


def event_replay(*, event: WebhookEvent, actor: Actor) -> bool:
    """Queue a failed (or stuck) event again with a fresh retry budget; False if done already."""
    with transaction.atomic():
        count = (
            WebhookEvent.objects.filter(pk=event.pk)
            .exclude(status__in=[WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED])
            .update(
                status=WebhookEvent.Status.PENDING,
                attempts=0,
                next_attempt_at=None,
                queued_at=timezone.now(),
            )
        )
        if count:
            _queue([event.pk])
            audit_record(
                practice=event.practice_id,
                actor=actor,
                action="webhook.replayed",
                target_type="webhook_event",
                target_id=event.pk,
                detail=event.type,
            )
    return bool(count)


def events_replay(
    *, actor: Actor, practice: Any = None, status: str = WebhookEvent.Status.FAILED
) -> int:
    """Replay every event in `status` (one practice's, or all); returns how many were queued.

    Each replayed event gets its own audit entry (`event_replay`)."""
    rows = WebhookEvent.objects.filter(status=status)
    if practice is not None:
        rows = WebhookEvent.objects.for_practice(practice).filter(status=status)
    replayed = 0
    for event in list(rows.only("pk", "status", "practice_id", "type")):
        replayed += event_replay(event=event, actor=actor)
    return replayed
