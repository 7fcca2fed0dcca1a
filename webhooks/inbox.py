"""Receiving: store each verified delivery once, in one statement, as waiting or ignored.

The hot path of the webhook route (`webhooks.receiver`); nothing is queued here: the worker's
dispatcher (`webhooks.services.events_dispatch`) queues what waits.
"""

import functools
import hashlib
import logging
import re
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.utils import timezone

from handshake.models import CONNECTED, Practice
from hintpartner.db import db_value, fetch_one
from hintpartner.hint import decode
from webhooks.handlers import HANDLERS, INSTALLATION_TYPES
from webhooks.models import UnroutedWebhookEvent, WebhookEvent

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


def _connected_condition(conn: Any) -> tuple[str, list[Any]]:
    """`handshake.models.CONNECTED` as SQL on the practice table."""
    query = Practice.objects.filter(CONNECTED).query
    sql, params = query.where.as_sql(query.get_compiler(connection=conn), conn)
    return sql, list(params)


# In a CASE's parameters: the event's own arrival time (an ignored event is done on arrival).
_RECEIVED_AT = object()


def _case_connected(conn: Any, when: Any, otherwise: Any) -> tuple[str, list[Any]]:
    """CASE WHEN <the practice is connected> THEN `when` ELSE `otherwise` END (None: NULL)."""
    if when == otherwise:  # also keeps PostgreSQL from typing a CASE of two NULLs as text
        return ("NULL", []) if when is None else ("%s", [when])
    condition, params = _connected_condition(conn)
    branches = []
    for value in (when, otherwise):
        branches.append("NULL" if value is None else "%s")
        params += [] if value is None else [value]
    return f"CASE WHEN {condition} THEN {branches[0]} ELSE {branches[1]} END", params


def _columns(conn: Any, model: type[models.Model], names: tuple[str, ...]) -> list[str]:
    return [conn.ops.quote_name(model._meta.get_field(name).column) for name in names]


@functools.cache
def _routed_statement(
    alias: str, names: tuple[str, ...], when: Outcome, otherwise: Outcome
) -> tuple[str, tuple[Any, ...]]:
    """The routed INSERT for events with these value names and outcomes, and the parameters
    of its CASEs (`_RECEIVED_AT` where the event's arrival time goes): built once per shape, so
    a delivery only prepares its values (and PostgreSQL reuses the prepared statement)."""
    conn = connections[alias]
    qn = conn.ops.quote_name
    columns = _columns(conn, WebhookEvent, names)
    select = ["%s"] * len(names)
    case_params: list[Any] = []

    def done_at(outcome: Outcome) -> Any:
        return _RECEIVED_AT if outcome[0] == WebhookEvent.Status.IGNORED else None

    for column, branches in (
        ("status", (when[0], otherwise[0])),
        ("note", (when[1], otherwise[1])),
        ("processed_at", (done_at(when), done_at(otherwise))),
    ):
        case_sql, params = _case_connected(conn, *branches)
        columns.append(qn(column))
        select.append(case_sql)
        case_params += params
    practices = qn(Practice._meta.db_table)
    columns.append(qn(WebhookEvent._meta.get_field("practice").column))
    select.append(f"{practices}.{qn(Practice._meta.pk.column)}")
    # Identifiers come from the models' metadata; every value is a parameter.
    sql = f"INSERT INTO {qn(WebhookEvent._meta.db_table)} ({', '.join(columns)}) "
    sql += f"SELECT {', '.join(select)} FROM {practices} "  # noqa: S608
    sql += f"WHERE {practices}.{qn(Practice._meta.get_field('hint_id').column)} = %s "
    sql += f"ON CONFLICT ({qn('event_id')}) DO NOTHING RETURNING {qn(WebhookEvent._meta.pk.column)}"
    return sql, tuple(case_params)


def _prepared(conn: Any, model: type[models.Model], values: dict[str, Any]) -> list[Any]:
    """`values` as the database takes them. A `RawJson` payload is sent as the text Hint signed
    rather than encoded again."""
    params = []
    for name, value in values.items():
        if isinstance(value, RawJson):
            params.append(value.param())
        else:
            params.append(db_value(model._meta.get_field(name), value, conn))
    return params


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


def _insert(conn: Any, sql: str, params: list[Any]) -> bool:
    """Run an INSERT … ON CONFLICT DO NOTHING RETURNING, prepared on PostgreSQL (one text per
    event type's outcomes, so a handful per connection); whether it stored a row."""
    return fetch_one(sql, params, conn.alias) is not None


def _insert_routed(conn: Any, hint_practice_id: str, values: dict[str, Any]) -> bool:
    """Store the event for the practice Hint names, in one statement: INSERT … SELECT FROM
    practice … ON CONFLICT DO NOTHING, whose CASEs set the status by whether the practice is
    connected. False when the practice is unknown or the event is a repeat (both rare).

    Plain SQL on the hot path: the ORM's query building cost more CPU than the query, and
    reading the token through the model would decrypt it just to see that it is not empty.
    """
    sql, case_params = _routed_statement(conn.alias, tuple(values), *_outcomes(values["type"]))
    params = _prepared(conn, WebhookEvent, values)
    if _RECEIVED_AT in case_params:
        received_at = params[list(values).index("received_at")]
        case_params = tuple(received_at if p is _RECEIVED_AT else p for p in case_params)
    return _insert(conn, sql, [*params, *case_params, hint_practice_id])


def _insert_unrouted(conn: Any, hint_practice_id: str, values: dict[str, Any]) -> bool:
    """Keep an event naming a practice we do not know (INSERT … WHERE NOT EXISTS practice), or
    naming none (""); False when the practice exists after all or the event is a repeat."""
    qn = conn.ops.quote_name
    unrouted = {name: values[name] for name in ("event_id", "type", "payload", "received_at")}
    unrouted["hint_practice_id"] = hint_practice_id
    columns = _columns(conn, UnroutedWebhookEvent, tuple(unrouted))
    params = _prepared(conn, UnroutedWebhookEvent, unrouted)
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
    return _insert(conn, sql, params)


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
    conn = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: one lookup, not one per use
    event_id = _event_id(payload, body)
    hint_practice_id = _practice_ref(payload)
    created_at = decode.parse_time(payload.get("created_at"))
    if created_at is None and payload.get("created_at") is None:
        created_at = decode.parse_time(payload.get("timestamp"))
    values = {
        "event_id": event_id,
        "type": event_type,
        "payload": RawJson.as_stored(payload, body, conn.vendor),
        "hint_created_at": created_at,
        "attempts": 0,
        "error": "",
        "received_at": timezone.now(),
        "next_attempt_at": None,
    }
    if not hint_practice_id:
        stored = _insert_unrouted(conn, "", values)
        if stored:
            logger.warning(
                "webhook %s names no practice (practice_id, object.practice_id or "
                "object.practice.id): stored apart and ignored",
                event_type,
            )
        return stored
    if _insert_routed(conn, hint_practice_id, values):
        return True
    if _insert_unrouted(conn, hint_practice_id, values):
        logger.info(
            "webhook %s for practice %s, which is not installed here: stored apart and ignored",
            event_type,
            hint_practice_id,
        )
        return True
    return False
