"""One statement on a hot path (a handshake, a webhook delivery), sent prepared on PostgreSQL.

Parsing and planning the handshake's statement cost PostgreSQL two thirds of its CPU per
handshake (0.50 of 0.75 ms, measured in-process); a statement prepared once per connection skips
both afterwards. Django turns psycopg's prepared statements off (`prepare_threshold` None, for
connection poolers), so the settings give the connection a threshold no query reaches by itself
(`DB_PREPARED_STATEMENTS`, on by default): only the statements sent through `fetch_one` are
prepared, each once per connection, and the ORM's queries are untouched. Turned off (a PgBouncer
in transaction mode), `fetch_one` sends the same statement unprepared.

The values travel as parameters (server-side binding), not quoted into the text in Python as
Django's cursor does; Django's wrapper around the cursor still keeps the query log, the execute
wrappers and the error mapping.
"""

from datetime import datetime
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections, models


class _PreparedCursor(psycopg.Cursor):
    """A psycopg cursor whose statements are prepared when the connection allows it."""

    def execute(self, query: Any, params: Any = None, *, prepare: Any = None, **kwargs: Any) -> Any:
        if prepare is None:
            prepare = self.connection.prepare_threshold is not None
        return super().execute(query, params, prepare=prepare, **kwargs)

    def _send_query_prepared(self, name: bytes, pgq: Any, **kwargs: Any) -> None:
        # psycopg keeps the statement's text for a query sent unprepared only; Django's query log
        # (DEBUG, tests) reads it from there.
        self._query = pgq
        super()._send_query_prepared(name, pgq, **kwargs)


def fetch_one(sql: str, params: list[Any], alias: str = DEFAULT_DB_ALIAS) -> tuple[Any, ...] | None:
    """Run `sql` (one statement, `%s` placeholders) and answer its first row, or None."""
    conn = connections[alias]
    if conn.vendor != "postgresql":
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    if conn.connection is None:  # what ensure_connection checks first, without its wrappers
        conn.ensure_connection()
    if conn.queries_logged or conn.execute_wrappers:
        # Someone is watching (DEBUG's query log, a test, an execute wrapper): Django's cursor.
        with conn._prepare_cursor(_PreparedCursor(conn.connection)) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    # What Django's cursor does around one statement, without its layers of calls: the thread
    # check, the broken-transaction check and the error mapping (a psycopg OperationalError
    # reaches the caller as Django's).
    conn.validate_thread_sharing()
    conn.validate_no_broken_transaction()
    with conn.wrap_database_errors, _PreparedCursor(conn.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


_TEXT_FIELDS = (models.CharField, models.TextField)


def db_value(field: models.Field, value: Any, conn: Any) -> Any:
    """`field.get_db_prep_save(value, conn)`, without its layers of calls where they give the
    value back unchanged: text for a plain CharField or TextField, a bool for a BooleanField,
    an aware datetime for a DateTimeField on PostgreSQL. Any other field (a subclass too: an
    encrypted field) or value takes Django's path. A hot path prepares 20-40 values a request."""
    kind = type(field)
    if kind in _TEXT_FIELDS and type(value) is str:
        return value
    if kind is models.BooleanField and type(value) is bool:
        return value
    if (
        kind is models.DateTimeField
        and type(value) is datetime
        and value.tzinfo is not None
        and conn.vendor == "postgresql"
    ):
        return value
    return field.get_db_prep_save(value, conn)
