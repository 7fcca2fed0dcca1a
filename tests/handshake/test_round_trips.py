"""The handshake's database round trips: one statement on PostgreSQL, nothing deleted inline."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from handshake.models import AuditEntry, HandshakeSeen, HintSession, PracticeUser
from tests.conftest import signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(both_routes: Client) -> Client:
    """Every case runs against the Django view and the lean route (`handshake.wsgi`)."""
    return both_routes


URL = "/hint/handshake"


def payload(**extra: object) -> dict:
    return {
        "timestamp": timezone.now().isoformat(),
        "practice": {"id": "pra-rt", "name": "Round Trips"},
        "user": {"id": "usr-rt", "first_name": "Ana", "partner_roles": ["staff"]},
        "access_token": "session-token-rt",
        **extra,
    }


def post(client: Client, body: dict) -> tuple[int, list[str]]:
    raw, signature = signed(body)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            URL, raw, content_type="application/json", HTTP_X_HINT_SIGNATURE=signature
        )
    return response.status_code, [q["sql"] for q in queries.captured_queries]


def test_a_repeat_handshake_of_a_known_user_takes_at_most_four_round_trips(client: Client) -> None:
    assert post(client, payload(nonce=1))[0] == 200
    status, statements = post(client, payload(nonce=2))
    assert status == 200
    assert statements  # captured through either route
    if connection.vendor == "postgresql":
        # One autocommitted statement: no BEGIN/COMMIT, no savepoints, nothing else.
        assert len(statements) == 1, statements
        assert statements[0].lstrip().startswith("WITH")
    else:  # SQLite: the ORM path in one local transaction (no network round trips)
        assert len(statements) <= 12, statements
    assert len(statements) <= 4 or connection.vendor != "postgresql"
    assert not any(s.lstrip().upper().startswith("DELETE") for s in statements)
    assert HintSession.objects.count() == 2
    assert PracticeUser.objects.count() == 1
    assert AuditEntry.objects.filter(action="session.opened").count() == 2


def test_a_replay_writes_nothing_and_is_refused(client: Client) -> None:
    body = payload(nonce=3)
    assert post(client, body)[0] == 200
    rows = (HintSession.objects, AuditEntry.objects, HandshakeSeen.objects)
    before = [m.count() for m in rows]
    status, _ = post(client, body)
    assert status == 401
    assert [m.count() for m in rows] == before


def test_the_one_statement_keeps_the_token_encrypted_and_the_user_refreshed(
    client: Client,
) -> None:
    assert post(client, payload(nonce=4))[0] == 200
    renamed = payload(nonce=5, user={"id": "usr-rt", "name": "Ana B", "partner_roles": ["admin"]})
    assert post(client, renamed)[0] == 200
    user = PracticeUser.objects.get()
    assert (user.name, user.roles) == ("Ana B", ["admin"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM handshake_hintsession")
        stored = [row[0] for row in cursor.fetchall()]
    assert stored and all(s and "session-token-rt" not in s for s in stored)
    assert {s.access_token for s in HintSession.objects.all()} == {"session-token-rt"}
    entry = AuditEntry.objects.filter(action="session.opened").first()
    assert entry.actor_label == "Ana B" and entry.user == user and not entry.is_support


def test_a_support_handshake_in_one_statement_has_no_user(client: Client) -> None:
    body = payload(nonce=6, access_context="support", user={"id": "sup-1", "name": "Sam"})
    assert post(client, body)[0] == 200
    session = HintSession.objects.get()
    assert session.user is None and session.support_label == "Hint support (Sam)"
    assert AuditEntry.objects.get().is_support
