"""The hot paths' statements are prepared once per PostgreSQL connection, and still right when
prepared statements are turned off (DB_PREPARED_STATEMENTS=false, for a PgBouncer)."""

from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from handshake.models import AuditEntry, HintSession, Practice
from hintpartner.db import fetch_one
from tests.conftest import signed
from tests.webhooks.conftest import patient_event
from webhooks import inbox
from webhooks.models import WebhookEvent

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
    ),
]


STAMP = timezone.now().isoformat()


def prepared_names() -> list[str]:
    """The statements prepared on this connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def handshake(client: Client, nonce: int) -> int:
    """POST a handshake; the same nonce twice is the same signed body: a replay."""
    raw, signature = signed(
        {
            "timestamp": STAMP,
            "nonce": nonce,
            "practice": {"id": "pra-prep", "name": "Prepared"},
            "user": {"id": "usr-prep", "first_name": "Ana", "partner_roles": ["staff"]},
            "access_token": "session-token-prep",
        }
    )
    response = client.post(
        "/hint/handshake", raw, content_type="application/json", HTTP_X_HINT_SIGNATURE=signature
    )
    return response.status_code


@pytest.fixture
def unprepared() -> Iterator[None]:
    """The connection as DB_PREPARED_STATEMENTS=false leaves it (Django's default)."""
    connection.ensure_connection()
    raw = connection.connection
    before = raw.prepare_threshold
    raw.prepare_threshold = None
    yield
    raw.prepare_threshold = before


def test_the_settings_let_only_marked_statements_be_prepared() -> None:
    connection.ensure_connection()
    assert connection.connection.prepare_threshold == 2**31 - 1
    for _ in range(10):  # the ORM's queries are never prepared, however often they run
        list(Practice.objects.filter(hint_id="nobody"))
    assert prepared_names() == []


def test_the_handshake_statement_is_prepared_once_and_reused(client: Client) -> None:
    assert handshake(client, 1) == 200
    names = prepared_names()
    assert len([n for n in names if "handshake_handshakeseen" in n]) == 1
    with CaptureQueriesContext(connection) as queries:
        assert handshake(client, 2) == 200
        assert handshake(client, 2) == 401  # a replay is still refused, through the prepared one
    assert len(queries.captured_queries) == 2  # the query log still names the statement
    assert all("handshake_handshakeseen" in q["sql"] for q in queries.captured_queries)
    assert prepared_names() == names
    assert HintSession.objects.count() == 2
    assert AuditEntry.objects.filter(action="session.opened").count() == 2


def test_the_handshake_works_unprepared(client: Client, unprepared: None) -> None:
    assert handshake(client, 1) == 200
    assert handshake(client, 1) == 401
    assert prepared_names() == []
    assert HintSession.objects.count() == 1


def test_a_webhook_insert_is_prepared_once(practice_a: Practice) -> None:
    assert inbox.event_receive(payload=patient_event(event_id="evt-p1"))
    after_one = prepared_names()
    assert len(after_one) == 1 and "webhooks_receivedwebhookevent" in after_one[0]
    assert inbox.event_receive(payload=patient_event(event_id="evt-p2"))
    # A repeat, and an event for a practice not installed: the same statement.
    assert not inbox.event_receive(payload=patient_event(event_id="evt-p2"))
    assert inbox.event_receive(payload=patient_event(event_id="evt-p3", practice_id="pra-none"))
    assert prepared_names() == after_one
    assert inbox.received_sort() == 3
    assert WebhookEvent.objects.for_practice(practice_a).count() == 2


def test_a_webhook_insert_works_unprepared(practice_a: Practice, unprepared: None) -> None:
    assert inbox.event_receive(payload=patient_event(event_id="evt-u1"))
    assert not inbox.event_receive(payload=patient_event(event_id="evt-u1"))
    assert inbox.received_sort() == 1
    assert prepared_names() == []
    assert WebhookEvent.objects.for_practice(practice_a).count() == 1


def test_an_error_in_a_prepared_statement_is_mapped_and_the_connection_goes_on() -> None:
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        fetch_one("SELECT 1 / %s::int", [0])
    assert fetch_one("SELECT %s::int + 1", [1]) == (2,)
