"""Store Hint's webhook events once, then process each through a table of handlers."""

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from handshake import services as handshake_services
from handshake.audit import Actor, audit_record
from handshake.models import CONNECTED, Practice
from hintpartner.hint import decode, policy
from hintpartner.tasks import enqueue_later, enqueue_on_commit
from sync import inbound, mirror
from webhooks.models import UnroutedWebhookEvent, WebhookEvent

logger = logging.getLogger(__name__)

# Handler failures are retried this many times in all, waiting by `policy.WEBHOOK_SCHEDULE`, then
# wait for a replay (admin page or `manage.py replay_webhooks`).
MAX_ATTEMPTS = getattr(settings, "WEBHOOK_MAX_ATTEMPTS", 5)
ERROR_LIMIT = 2000
# The id of an event Hint sent without one: this prefix and the sha256 of the signed body.
BODY_ID_PREFIX = "body-"


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
            inbound.patient_changed(patient=result.patient, created=result.created)

    handle.__name__ = f"patient_{kind}"
    return handle


def _installation_handler(status: str) -> Callable[[WebhookEvent], None]:
    def handle(event: WebhookEvent) -> None:
        # A practice that becomes connected gets its first patient pull from the connected hook
        # (settings.HINT_PRACTICE_CONNECTED_HOOKS), the one place that starts it.
        handshake_services.practice_installation_event(practice=event.practice, status=status)

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


def _text(value: Any, field: str, limit: int | None) -> str:
    """`value` as an identifier ("" when missing or blank); EventInvalid when it is of the wrong
    type or too long to store."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EventInvalid(f"The event's {field} is not text.")
    text = str(value).strip()
    if limit is not None and len(text) > limit:
        raise EventInvalid(f"The event's {field} is too long.")
    return text


def _event_id(payload: dict[str, Any], body: bytes | None) -> str:
    """Hint's event id; for an event without one (the integration guide's example shape), a
    digest of the signed body, so Hint's retries of the same bytes are stored once."""
    event_id = _text(payload.get("id"), "id", 200)
    if event_id:
        return event_id
    if body is None:
        raise EventInvalid("The event has no id.")
    return BODY_ID_PREFIX + hashlib.sha256(body).hexdigest()


def _practice_ref(payload: dict[str, Any]) -> str:
    """The Hint id of the event's practice: `practice_id`, else the object's `practice_id` or
    `practice.id`; "" when none of them names one."""
    found = _text(payload.get("practice_id"), "practice_id", 100)
    obj = payload.get("object")
    if not found and isinstance(obj, dict):
        found = _text(obj.get("practice_id"), "object.practice_id", 100)
        practice = obj.get("practice")
        if not found and isinstance(practice, dict):
            found = _text(practice.get("id"), "object.practice.id", 100)
    return found


NOT_CONNECTED = "The practice was not connected."
NOT_ACTED_ON = "Not an event this app acts on."

Outcome = tuple[str, str]  # (status, note) of a new event
_PENDING: Outcome = (WebhookEvent.Status.PENDING, "")


def _outcomes(event_type: str) -> tuple[Outcome, Outcome]:
    """A new event's outcome when its practice is connected, and when it is not.

    Events about the installation itself count even while the practice is not connected (an
    activation is what connects it); patient events only while it is; other types never.
    """
    if event_type not in HANDLERS:
        ignored = (WebhookEvent.Status.IGNORED, NOT_ACTED_ON)
        return ignored, ignored
    if event_type in INSTALLATION_TYPES:
        return _PENDING, _PENDING
    return _PENDING, (WebhookEvent.Status.IGNORED, NOT_CONNECTED)


_connected_sql: dict[str, tuple[str, list[Any]]] = {}


def _connected_condition() -> tuple[str, list[Any]]:
    """`handshake.models.CONNECTED` as SQL on the practice table, compiled once per database."""
    if connection.alias not in _connected_sql:
        query = Practice.objects.filter(CONNECTED).query
        sql, params = query.where.as_sql(query.get_compiler(connection=connection), connection)
        _connected_sql[connection.alias] = sql, list(params)
    return _connected_sql[connection.alias]


def _case_connected(when: Any, otherwise: Any) -> tuple[str, list[Any]]:
    """CASE WHEN <the practice is connected> THEN `when` ELSE `otherwise` END (None: NULL)."""
    if when == otherwise:  # also keeps PostgreSQL from typing a CASE of two NULLs as text
        return ("NULL", []) if when is None else ("%s", [when])
    condition, params = _connected_condition()
    params = list(params)
    branches = []
    for value in (when, otherwise):
        branches.append("NULL" if value is None else "%s")
        params += [] if value is None else [value]
    return f"CASE WHEN {condition} THEN {branches[0]} ELSE {branches[1]} END", params


def _prepared(model: type[models.Model], values: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """The quoted columns of `values`, and their values as the database takes them."""
    fields = [model._meta.get_field(name) for name in values]
    columns = [connection.ops.quote_name(f.column) for f in fields]
    return columns, [f.get_db_prep_save(values[f.name], connection) for f in fields]


def _insert(sql: str, params: list[Any]) -> bool:
    """Run an INSERT … ON CONFLICT DO NOTHING RETURNING; whether it stored a row."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def _insert_routed(hint_practice_id: str, values: dict[str, Any]) -> bool:
    """Store the event for the practice Hint names, in one statement: INSERT … SELECT FROM
    practice … ON CONFLICT DO NOTHING, whose CASEs set the status by whether the practice is
    connected. False when the practice is unknown or the event is a repeat (both rare).

    Plain SQL on the hot path: the ORM's query building cost more CPU than the query, and
    reading the token through the model would decrypt it just to see that it is not empty.
    """
    qn = connection.ops.quote_name
    columns, params = _prepared(WebhookEvent, values)
    select = ["%s"] * len(params)
    when, otherwise = _outcomes(values["type"])
    received_at = _prepared(WebhookEvent, {"processed_at": values["received_at"]})[1][0]

    def done_at(outcome: Outcome) -> Any:  # an ignored event is done on arrival
        return received_at if outcome[0] == WebhookEvent.Status.IGNORED else None

    for column, branches in (
        ("status", (when[0], otherwise[0])),
        ("note", (when[1], otherwise[1])),
        ("processed_at", (done_at(when), done_at(otherwise))),
    ):
        case_sql, case_params = _case_connected(*branches)
        columns.append(qn(column))
        select.append(case_sql)
        params += case_params
    practices = qn(Practice._meta.db_table)
    columns.append(qn(WebhookEvent._meta.get_field("practice").column))
    select.append(f"{practices}.{qn(Practice._meta.pk.column)}")
    # Identifiers come from the models' metadata; every value is a parameter.
    sql = f"INSERT INTO {qn(WebhookEvent._meta.db_table)} ({', '.join(columns)}) "
    sql += f"SELECT {', '.join(select)} FROM {practices} "  # noqa: S608
    sql += f"WHERE {practices}.{qn(Practice._meta.get_field('hint_id').column)} = %s "
    sql += f"ON CONFLICT ({qn('event_id')}) DO NOTHING RETURNING {qn(WebhookEvent._meta.pk.column)}"
    return _insert(sql, [*params, hint_practice_id])


def _insert_unrouted(hint_practice_id: str, values: dict[str, Any]) -> bool:
    """Keep an event naming a practice we do not know (INSERT … WHERE NOT EXISTS practice), or
    naming none (""); False when the practice exists after all or the event is a repeat."""
    qn = connection.ops.quote_name
    unrouted = {name: values[name] for name in ("event_id", "type", "payload", "received_at")}
    columns, params = _prepared(
        UnroutedWebhookEvent, {**unrouted, "hint_practice_id": hint_practice_id}
    )
    practices = qn(Practice._meta.db_table)
    hint_id = qn(Practice._meta.get_field("hint_id").column)
    # Identifiers come from the models' metadata; every value is a parameter.
    sql = f"INSERT INTO {qn(UnroutedWebhookEvent._meta.db_table)} ({', '.join(columns)}) "
    sql += f"SELECT {', '.join(['%s'] * len(params))} "
    if hint_practice_id:  # "" names no practice: there is none to look for
        sql += f"WHERE NOT EXISTS (SELECT 1 FROM {practices} WHERE {hint_id} = %s) "  # noqa: S608
        params.append(hint_practice_id)
    sql += f"ON CONFLICT ({qn('event_id')}) DO NOTHING "
    sql += f"RETURNING {qn(UnroutedWebhookEvent._meta.pk.column)}"
    return _insert(sql, params)


def event_receive(*, payload: Any, body: bytes | None = None) -> bool:
    """Store a verified delivery once per Hint event id; True when stored now, False for a repeat.

    `body` is the signed bytes, the id of an event without one (see `_event_id`). Queues nothing:
    the worker's dispatcher (`events_dispatch`) queues pending events in batches, so the
    acknowledgement costs one statement in the common case.
    """
    if not isinstance(payload, dict):
        raise EventInvalid("The event is not a JSON object.")
    event_type = _text(payload.get("type"), "type", None)[:100]
    if not event_type:
        raise EventInvalid("The event has no type.")
    event_id = _event_id(payload, body)
    hint_practice_id = _practice_ref(payload)
    created_at = decode.parse_time(payload.get("created_at"))
    if created_at is None and payload.get("created_at") is None:
        created_at = decode.parse_time(payload.get("timestamp"))
    values = {
        "event_id": event_id,
        "type": event_type,
        "payload": payload,
        "hint_created_at": created_at,
        "attempts": 0,
        "error": "",
        "received_at": timezone.now(),
        "next_attempt_at": None,
    }
    if not hint_practice_id:
        stored = _insert_unrouted("", values)
        if stored:
            logger.warning(
                "webhook %s names no practice (practice_id, object.practice_id or "
                "object.practice.id): stored apart and ignored",
                event_type,
            )
        return stored
    if _insert_routed(hint_practice_id, values):
        return True
    if _insert_unrouted(hint_practice_id, values):
        logger.info(
            "webhook %s for practice %s, which is not installed here: stored apart and ignored",
            event_type,
            hint_practice_id,
        )
        return True
    return False


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

    Runs in the worker (`manage.py worker`, every half second). Claims rows with SKIP LOCKED, so
    any number of workers can run it side by side without queueing an event twice.
    """
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
    for event in WebhookEvent.objects.filter(pk__in=event_pks).order_by("pk").iterator():
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
    for event in rows.only("pk", "status", "practice_id", "type").iterator():
        replayed += event_replay(event=event, actor=actor)
    return replayed
