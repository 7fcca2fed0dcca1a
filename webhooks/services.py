"""Store Hint's webhook events once, then process each through a table of handlers."""

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from django_tasks.backends.immediate import ImmediateBackend
from django_tasks_db.backend import DatabaseBackend

from handshake import services as handshake_services
from handshake.models import Practice
from hintpartner.tasks import enqueue_later, enqueue_on_commit
from sync import backfill, mirror
from sync import inbound as sync_services
from webhooks.models import UnroutedWebhookEvent, WebhookEvent

logger = logging.getLogger(__name__)

# Handler failures are retried this many times in all, with a growing delay, then wait for a
# replay (admin page or `manage.py replay_webhooks`).
MAX_ATTEMPTS = getattr(settings, "WEBHOOK_MAX_ATTEMPTS", 5)
RETRY_BASE_SECONDS = getattr(settings, "WEBHOOK_RETRY_BASE_SECONDS", 30)
ERROR_LIMIT = 2000


class EventInvalid(ValueError):
    """The delivery is not an event we can store (a field is missing or of the wrong type)."""


# --- handlers: one per event type we act on ------------------------------------------------


def _patient_object(event: WebhookEvent) -> dict[str, Any]:
    obj = event.payload.get("object")
    if not isinstance(obj, dict):
        raise mirror.MirrorError("The event carries no patient object.")
    return obj


def _patient_handler(kind: str) -> Callable[[WebhookEvent], None]:
    def handle(event: WebhookEvent) -> None:
        result = mirror.patient_apply(
            practice=event.practice,
            data=_patient_object(event),
            kind=kind,
            occurred_at=event.hint_created_at,
        )
        if result.changed:
            sync_services.patient_changed(patient=result.patient, created=result.created)

    handle.__name__ = f"patient_{kind}"
    return handle


def _installation_handler(status: str) -> Callable[[WebhookEvent], None]:
    def handle(event: WebhookEvent) -> None:
        practice = handshake_services.practice_installation_event(
            practice=event.practice, status=status
        )
        if practice.is_connected:
            # The handshake app cannot import sync; an activation is where a practice's
            # mirror gets its first full pull (a no-op if one ever ran).
            backfill.backfill_ensure_first(practice=practice)

    handle.__name__ = f"installation_{status}"
    return handle


HANDLERS: dict[str, Callable[[WebhookEvent], None]] = {
    "patient.created": _patient_handler(mirror.UPSERT),
    "patient.updated": _patient_handler(mirror.UPSERT),
    "patient.destroyed": _patient_handler(mirror.DESTROYED),
    "patient.inactive": _patient_handler(mirror.INACTIVE),
    "integration.activated": _installation_handler("active"),
    "integration.deactivated": _installation_handler("deactivated"),
}
# Events about the installation itself count even while the practice is not connected (an
# activation is what connects it); patient events only while it is.
INSTALLATION_TYPES = frozenset({"integration.activated", "integration.deactivated"})


# --- receiving --------------------------------------------------------------------------------


def _required_text(payload: dict[str, Any], field: str) -> str:
    value = payload.get(field)
    if not isinstance(value, str | int) or not str(value).strip():
        raise EventInvalid(f"The event has no {field}.")
    text = str(value).strip()
    if len(text) > (200 if field == "id" else 100):
        raise EventInvalid(f"The event's {field} is too long.")
    return text


def _insert_once(model: type[models.Model], values: dict[str, Any]) -> int | None:
    """INSERT … ON CONFLICT (event_id) DO NOTHING RETURNING id: the new row's id, or None for a
    repeat. The receiver's hot path: one statement, no exception and no savepoint on a repeat.
    """
    meta = model._meta
    qn = connection.ops.quote_name
    fields = [meta.get_field(name) for name in values]
    columns = ", ".join(qn(f.column) for f in fields)
    params = [f.get_db_prep_save(values[f.name], connection) for f in fields]
    # Identifiers come from the model's metadata; every value is a parameter.
    placeholders = ", ".join(["%s"] * len(fields))
    table, key, pk = qn(meta.db_table), qn("event_id"), qn(meta.pk.column)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "  # noqa: S608
    sql += f"ON CONFLICT ({key}) DO NOTHING RETURNING {pk}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def _practice_lookup(hint_id: str) -> tuple[int, bool] | None:
    """(pk, connected) of the practice Hint names.

    Plain SQL on the hot path: the ORM's query building cost more CPU than the query, and
    reading the token through the model would decrypt it just to see that it is not empty.
    """
    meta = Practice._meta
    qn = connection.ops.quote_name

    def col(name: str) -> str:
        return qn(meta.get_field(name).column)

    sql = f"SELECT {col('id')}, {col('installation_status')}, {col('token')} <> ''"
    sql += f" FROM {qn(meta.db_table)} WHERE {col('hint_id')} = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [hint_id])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, status, has_token = row
    return pk, status == Practice.InstallationStatus.ACTIVE and bool(has_token)


NOT_CONNECTED = "The practice was not connected."


def _insert_for_practice(hint_practice_id: str, values: dict[str, Any]) -> tuple[int, str] | None:
    """Store a patient event for the practice Hint names in one statement (the hot path):
    pending when the practice is connected, else ignored. INSERT … SELECT FROM practice … ON
    CONFLICT DO NOTHING RETURNING (id, status); None when the practice is unknown or the event
    is a repeat (the caller tells them apart: both are rare).
    """
    meta, practices = WebhookEvent._meta, Practice._meta
    qn = connection.ops.quote_name

    def col(model_meta: Any, name: str) -> str:
        return qn(model_meta.get_field(name).column)

    fields = [meta.get_field(name) for name in values]
    params = [f.get_db_prep_save(values[f.name], connection) for f in fields]
    connected = (
        f"p.{col(practices, 'installation_status')} = %s AND p.{col(practices, 'token')} <> ''"
    )
    ignored_at = meta.get_field("processed_at").get_db_prep_save(values["received_at"], connection)
    # Identifiers come from the models' metadata; every value is a parameter.
    columns = ", ".join(qn(f.column) for f in fields)
    columns += ", " + ", ".join(
        col(meta, n) for n in ("practice", "status", "note", "processed_at")
    )
    sql = f"INSERT INTO {qn(meta.db_table)} ({columns}) "
    sql += f"SELECT {', '.join(['%s'] * len(fields))}, p.{col(practices, 'id')}, "
    sql += f"CASE WHEN {connected} THEN %s ELSE %s END, "
    sql += f"CASE WHEN {connected} THEN '' ELSE %s END, "
    sql += f"CASE WHEN {connected} THEN NULL ELSE %s END "
    sql += f"FROM {qn(practices.db_table)} p WHERE p.{col(practices, 'hint_id')} = %s "
    sql += f"ON CONFLICT ({qn('event_id')}) DO NOTHING "
    sql += f"RETURNING {qn(meta.pk.column)}, {col(meta, 'status')}"
    active = Practice.InstallationStatus.ACTIVE
    params += [active, WebhookEvent.Status.PENDING, WebhookEvent.Status.IGNORED]
    params += [active, NOT_CONNECTED, active, ignored_at, hint_practice_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def event_receive(*, payload: Any) -> bool:
    """Store a verified delivery once per Hint event id and queue its processing.

    True when stored now, False for a repeat of a stored event (no new work).
    """
    if not isinstance(payload, dict):
        raise EventInvalid("The event is not a JSON object.")
    event_id = _required_text(payload, "id")
    event_type = _required_text(payload, "type")[:100]
    hint_practice_id = _required_text(payload, "practice_id")
    now = timezone.now()
    values = {
        "event_id": event_id,
        "type": event_type,
        "payload": payload,
        "hint_created_at": mirror.parse_hint_time(payload.get("created_at")),
        "attempts": 0,
        "error": "",
        "received_at": now,
        "next_attempt_at": None,
    }
    immediate = not _dispatcher_queues()
    # The common case, in one autocommitted statement: the worker's dispatcher queues pending
    # events in batches (`events_dispatch`), so the acknowledgement writes nothing more.
    patient_event = event_type in HANDLERS and event_type not in INSTALLATION_TYPES
    if patient_event and not immediate and _insert_for_practice(hint_practice_id, values):
        return True
    return _event_receive_slowly(hint_practice_id, values, immediate=immediate)


def _event_receive_slowly(
    hint_practice_id: str, values: dict[str, Any], *, immediate: bool
) -> bool:
    """The other cases: an unknown practice, a repeat, an installation or unknown event type, and
    the immediate backend of unit tests (which has no worker, so each event is queued here)."""
    event_type = values["type"]
    practice = _practice_lookup(hint_practice_id)
    if practice is None:
        created = _insert_once(
            UnroutedWebhookEvent,
            {
                "event_id": values["event_id"],
                "type": event_type,
                "hint_practice_id": hint_practice_id,
                "payload": values["payload"],
                "received_at": values["received_at"],
            },
        )
        if created:
            logger.info("webhook %s for an unknown practice stored and ignored", event_type)
        return created is not None

    practice_pk, connected = practice
    status, note = WebhookEvent.Status.PENDING, ""
    if event_type not in HANDLERS:
        status, note = WebhookEvent.Status.IGNORED, "Not an event this app acts on."
    elif event_type not in INSTALLATION_TYPES and not connected:
        status, note = WebhookEvent.Status.IGNORED, NOT_CONNECTED
    values = {
        **values,
        "practice": practice_pk,
        "status": status,
        "note": note,
        "processed_at": values["received_at"] if status == WebhookEvent.Status.IGNORED else None,
    }
    if status != WebhookEvent.Status.PENDING or not immediate:
        return _insert_once(WebhookEvent, values) is not None
    with transaction.atomic():
        event_pk = _insert_once(WebhookEvent, {**values, "queued_at": values["received_at"]})
        if event_pk is not None:
            _queue(event_pk)
    return event_pk is not None


def _dispatcher_queues() -> bool:
    """Whether a worker runs (and so `events_dispatch` queues new events): every real backend."""
    from webhooks.tasks import webhook_event_process

    return not isinstance(webhook_event_process.get_backend(), ImmediateBackend)


def _queue(event_pk: int) -> None:
    """Queue one event's processing; called inside the transaction that marked it pending."""
    from webhooks.tasks import webhook_event_process

    if isinstance(webhook_event_process.get_backend(), DatabaseBackend):
        # The task row lives in the same database: writing it in the event's transaction makes
        # the pair atomic (no event without its task) and costs one commit instead of two.
        webhook_event_process.enqueue(event_pk)
    else:
        # Redis (or the immediate backend in tests) must not see the task before the row.
        enqueue_on_commit(webhook_event_process, event_pk)


# --- dispatching ------------------------------------------------------------------------------

DISPATCH_BATCH = 100
# A pending event queued this long ago and still not processed lost its task (a Redis flush, a
# task row deleted by hand): queue it again. Processing is idempotent, so a slow queue that
# still holds the task only costs a second, no-op run.
REQUEUE_AFTER = timedelta(hours=1)


def events_dispatch(*, limit: int = 5000) -> int:
    """Queue tasks for pending events nobody queued yet, in batches; returns how many.

    Runs in the worker (`manage.py worker`, every half second). Claims rows with SKIP LOCKED, so
    any number of workers can run it side by side without queueing an event twice.
    """
    from webhooks.tasks import webhook_events_process

    dispatched = 0
    while dispatched < limit:
        now = timezone.now()
        waiting = WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING).filter(
            models.Q(queued_at__isnull=True) | models.Q(queued_at__lt=now - REQUEUE_AFTER)
        )
        if not waiting.exists():
            # A plain read first: on SQLite a write transaction takes the database's one write
            # lock, and an idle worker would take it twice a second for nothing.
            break
        with transaction.atomic():
            pks = list(
                waiting.order_by("queued_at", "pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:DISPATCH_BATCH]
            )
            if not pks:
                break
            WebhookEvent.objects.filter(pk__in=pks).update(queued_at=now)
            if isinstance(webhook_events_process.get_backend(), DatabaseBackend):
                webhook_events_process.enqueue(pks)  # same database: atomic with the claim
            else:
                enqueue_on_commit(webhook_events_process, pks)
        dispatched += len(pks)
    if dispatched:
        logger.info("dispatched %s webhook events", dispatched)
    return dispatched


# --- processing -------------------------------------------------------------------------------


def _error_text(exc: Exception) -> str:
    message = str(exc).strip() or "no message"
    return f"{type(exc).__name__}: {message}"[:ERROR_LIMIT]


def retry_delay(attempts: int) -> timedelta:
    """30 s, 2 min, 8 min, 32 min…: Hint's own retries are hourly, ours settle sooner."""
    return timedelta(seconds=RETRY_BASE_SECONDS * 4 ** max(attempts - 1, 0))


def event_process(*, event: WebhookEvent) -> str:
    """Run the event's handler once; idempotent. Returns the event's status afterwards."""
    done = (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED)
    if event.status in done:
        return event.status
    handler = HANDLERS.get(event.type)
    if handler is None:
        WebhookEvent.objects.filter(pk=event.pk).update(
            status=WebhookEvent.Status.IGNORED,
            note="Not an event this app acts on.",
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
    from webhooks.tasks import webhook_event_process

    event = WebhookEvent.objects.get(pk=event_pk)
    event.attempts += 1
    event.status = WebhookEvent.Status.FAILED
    event.error = _error_text(exc)
    event.next_attempt_at = None
    if event.attempts < MAX_ATTEMPTS:
        delay = retry_delay(event.attempts)
        if enqueue_later(webhook_event_process, delay=delay, args=(event.pk,)):
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


def event_replay(*, event: WebhookEvent) -> bool:
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
            _queue(event.pk)
    return bool(count)


def events_replay(*, practice: Any = None, status: str = WebhookEvent.Status.FAILED) -> int:
    """Replay every event in `status` (one practice's, or all); returns how many were queued."""
    rows = WebhookEvent.objects.filter(status=status)
    if practice is not None:
        rows = WebhookEvent.objects.for_practice(practice).filter(status=status)
    replayed = 0
    for event in rows.only("pk", "status").iterator():
        replayed += event_replay(event=event)
    return replayed
