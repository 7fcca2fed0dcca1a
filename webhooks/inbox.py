"""Receiving: store each verified delivery once, in one statement; then, in the worker, sort it.

The hot path of the webhook route (`webhooks.receiver`) writes one narrow row per delivery
(`ReceivedWebhookEvent`) and queues nothing. The worker sorts those rows into the practice's
events, waiting or ignored (`received_sort`), and its dispatcher (`services.events_dispatch`)
queues what waits.
"""

import functools
import hashlib
import logging
import re
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models import BooleanField, ExpressionWrapper, QuerySet
from django.utils import timezone

from handshake.doctor import PROBE_EVENT_TYPE
from handshake.models import CONNECTED, Practice
from hintpartner.db import db_value, fetch_one
from hintpartner.hint import decode
from webhooks.handlers import HANDLERS, INSTALLATION_TYPES
from webhooks.models import ReceivedWebhookEvent, UnroutedWebhookEvent, WebhookEvent

logger = logging.getLogger(__name__)

# The id of an event Hint sent without one: this prefix and the sha256 of the signed body.
BODY_ID_PREFIX = "body-"


class EventInvalid(ValueError):
    """The delivery is not an event we can store (a field is missing or of the wrong type)."""


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


def _columns(conn: Any, model: type[models.Model], names: tuple[str, ...]) -> list[str]:
    return [conn.ops.quote_name(model._meta.get_field(name).column) for name in names]


@functools.cache
def _received_statement(alias: str, names: tuple[str, ...]) -> tuple[str, list[models.Field]]:
    """The receiver's one statement and the fields of `names`, built once: store the delivery
    unless the same id waits in the received table already. A repeat of an event sorted before
    is stored again and dropped by the sort (`received_sort`): checking the sorted tables here
    cost every delivery two more index lookups for what the sort does anyway."""
    conn = connections[alias]
    qn = conn.ops.quote_name
    event_id = qn("event_id")
    columns = _columns(conn, ReceivedWebhookEvent, names)
    # Identifiers come from the models' metadata; every value is a parameter.
    sql = f"INSERT INTO {qn(ReceivedWebhookEvent._meta.db_table)} ({', '.join(columns)}) "
    sql += f"VALUES ({', '.join(['%s'] * len(columns))}) "
    sql += f"ON CONFLICT ({event_id}) DO NOTHING RETURNING {event_id}"
    return sql, [ReceivedWebhookEvent._meta.get_field(name) for name in names]


def _prepared(conn: Any, fields: list[models.Field], values: dict[str, Any]) -> list[Any]:
    """`values` (of `fields`, in order) as the database takes them. A `RawJson` payload is sent
    as the text Hint signed rather than encoded again."""
    return [
        value.param() if isinstance(value, RawJson) else db_value(field, value, conn)
        for field, value in zip(fields, values.values(), strict=True)
    ]


_ESCAPES_CLEANED = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class RawJson:
    """A decoded body and the signed text it came from, when that text is exactly what the
    database would store (`as_stored`): PostgreSQL parses it into jsonb, and the receiver skips
    encoding the payload again (a JSON dump per delivery on the hot path)."""

    def __init__(self, value: Any, text: str) -> None:
        self.value, self.text = value, text

    @staticmethod
    def as_stored(value: Any, body: bytes | None, vendor: str) -> Any:
        """`value` itself, or a RawJson of `body`: only on PostgreSQL, and only for a body with
        no `\\u0000` or surrogate escape (what the decoder cleans, `decode.json_body`, and what
        jsonb refuses): without one, the text and the value are the same JSON."""
        if body is None or vendor != "postgresql" or _ESCAPES_CLEANED.search(body):
            return value
        return RawJson(value, body.decode())

    def param(self) -> Any:
        from psycopg.types.json import Jsonb

        text = self.text
        return Jsonb(self.value, dumps=lambda _value: text)


def event_receive(*, payload: Any, body: bytes | None = None) -> bool:
    """Store a verified delivery; True when stored now, False when the same event id waits to be
    sorted already. Each event id is handled once: the sort drops a repeat of a sorted event.

    `body` is the signed bytes, the id of an event without one (see `_event_id`). One statement
    into the received table, which the worker sorts (`received_sort`) and whose events its
    dispatcher then queues (`services.events_dispatch`): the acknowledgement waits for nothing
    else.
    """
    if not isinstance(payload, dict):
        raise EventInvalid("The event is not a JSON object.")
    event_type = _text(payload.get("type"), "type", None)[:100]
    if not event_type:
        raise EventInvalid("The event has no type.")
    conn = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: one lookup, not one per use
    values = {
        "event_id": _event_id(payload, body),
        "type": event_type,
        "hint_practice_id": _practice_ref(payload),
        "payload": RawJson.as_stored(payload, body, conn.vendor),
        "received_at": timezone.now(),
    }
    sql, fields = _received_statement(conn.alias, tuple(values))
    params = _prepared(conn, fields, values)
    return fetch_one(sql, params, conn.alias) is not None


# --- sorting (the worker) ---------------------------------------------------------------------


def received_for(*, practice: Practice) -> QuerySet[ReceivedWebhookEvent]:
    """Deliveries naming `practice` that the worker has not sorted yet."""
    return ReceivedWebhookEvent.objects.filter(hint_practice_id=practice.hint_id)


SORT_BATCH = 500


def _created_at(payload: Any) -> Any:
    """When Hint says the event happened: `created_at`, or `timestamp` in the integration
    guide's shape; None when neither reads as a time."""
    if not isinstance(payload, dict):
        return None
    created_at = decode.parse_time(payload.get("created_at"))
    if created_at is None and payload.get("created_at") is None:
        created_at = decode.parse_time(payload.get("timestamp"))
    return created_at


def _sorted(received: ReceivedWebhookEvent, practice_pk: int, connected: bool) -> WebhookEvent:
    when, otherwise = _outcomes(received.type)
    status, note = when if connected else otherwise
    return WebhookEvent(
        practice_id=practice_pk,
        event_id=received.event_id,
        type=received.type,
        status=status,
        note=note,
        payload=received.payload,
        hint_created_at=_created_at(received.payload),
        received_at=received.received_at,
        # An ignored event is done on arrival.
        processed_at=received.received_at if status == WebhookEvent.Status.IGNORED else None,
    )


def _unrouted(received: ReceivedWebhookEvent) -> UnroutedWebhookEvent:
    if received.hint_practice_id:
        logger.info(
            "webhook %s for practice %s, which is not installed here: stored apart and ignored",
            received.type,
            received.hint_practice_id,
        )
    else:
        logger.warning(
            "webhook %s names no practice (practice_id, object.practice_id or "
            "object.practice.id): stored apart and ignored",
            received.type,
        )
    return UnroutedWebhookEvent(
        event_id=received.event_id,
        type=received.type,
        hint_practice_id=received.hint_practice_id,
        payload=received.payload,
        received_at=received.received_at,
    )


def received_sort(*, limit: int = 20_000) -> int:
    """Sort received deliveries, oldest first, in batches; returns how many.

    Each goes to its practice's events: waiting, or ignored (a type this app does not act on, a
    patient event while the practice is not connected: judged now, a moment after arrival); or
    to the unrouted table when it names no practice we know; `hint_doctor`'s probe goes nowhere.
    A repeat of a sorted event is dropped. Moving and deleting happen in one transaction,
    claimed with SKIP LOCKED, so a crash or a second worker neither loses nor doubles an event.
    Runs in the worker before the dispatcher (`services.events_dispatch`), every half second.
    """
    done = 0
    while done < limit:
        # A plain read first: on SQLite a write transaction takes the database's one write lock,
        # and an idle worker would take it twice a second for nothing.
        if not ReceivedWebhookEvent.objects.exists():
            break
        with transaction.atomic():
            batch = list(
                ReceivedWebhookEvent.objects.select_for_update(skip_locked=True).order_by(
                    "received_at", "event_id"
                )[:SORT_BATCH]
            )
            if not batch:
                break
            refs = {received.hint_practice_id for received in batch} - {""}
            # Each named practice's pk and whether it is connected, in one query.
            practices = {
                hint_id: (pk, connected)
                for hint_id, pk, connected in Practice.objects.filter(hint_id__in=refs)
                .annotate(connected=ExpressionWrapper(CONNECTED, output_field=BooleanField()))
                .values_list("hint_id", "pk", "connected")
            }
            ids = [received.event_id for received in batch]
            seen = {  # repeats of events sorted before (the inserts' ON CONFLICT covers a race)
                *WebhookEvent.objects.filter(event_id__in=ids).values_list("event_id", flat=True),
                *UnroutedWebhookEvent.objects.filter(event_id__in=ids).values_list(
                    "event_id", flat=True
                ),
            }
            events, unrouted = [], []
            for received in batch:
                if received.type == PROBE_EVENT_TYPE or received.event_id in seen:
                    continue  # `hint_doctor`'s probe (answered 200, kept nowhere), or a repeat
                practice = practices.get(received.hint_practice_id)
                if practice is None:
                    unrouted.append(_unrouted(received))
                else:
                    events.append(_sorted(received, *practice))
            WebhookEvent.objects.bulk_create(events, ignore_conflicts=True)
            UnroutedWebhookEvent.objects.bulk_create(unrouted, ignore_conflicts=True)
            ReceivedWebhookEvent.objects.filter(pk__in=[r.pk for r in batch]).delete()
        done += len(batch)
    return done
