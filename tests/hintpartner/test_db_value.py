"""`hintpartner.db.db_value` gives the database what Django's own path would, for every field
the hot paths write and every kind of value they may carry."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from handshake.models import AuditEntry, HandshakeSeen, HintSession, Practice, PracticeUser
from hintpartner.crypto import EncryptedTextField, decrypt
from hintpartner.db import db_value
from webhooks.models import ReceivedWebhookEvent, UnroutedWebhookEvent, WebhookEvent

MODELS = [Practice, PracticeUser, HintSession, AuditEntry, HandshakeSeen, WebhookEvent]
MODELS += [UnroutedWebhookEvent, ReceivedWebhookEvent]
FIELDS = [
    pytest.param(field, id=f"{model.__name__}.{field.name}")
    for model in MODELS
    for field in model._meta.concrete_fields
    if not field.primary_key and not field.is_relation
]
VALUES = [
    "",
    "text",
    "  spaced ",
    "ünïcode ✓",
    True,
    False,
    0,
    7,
    None,
    datetime(2026, 5, 26, 14, 22, 59, tzinfo=UTC),
    datetime(2026, 5, 26, 14, 22, 59, tzinfo=timezone(timedelta(hours=-7))),
    ["admin", "staff"],
    {"a": 1},
]


def comparable(value: object) -> object:
    """Adapter wrappers (psycopg's Jsonb, Int4) compare by what they wrap."""
    return getattr(value, "obj", value)


@pytest.mark.parametrize("field", FIELDS)
def test_db_value_is_what_django_would_send(field: object) -> None:
    for value in VALUES:
        try:
            expected = field.get_db_prep_save(value, connection)
        except Exception as exc:  # a value the field refuses: refused the same way
            with pytest.raises(type(exc)):
                db_value(field, value, connection)
            continue
        got = db_value(field, value, connection)
        if isinstance(field, EncryptedTextField):  # each encryption has its own nonce
            assert (got, expected) in ((None, None), ("", "")) or decrypt(got) == decrypt(expected)
            continue
        assert comparable(got) == comparable(expected), (field, value)
        assert type(comparable(got)) is type(comparable(expected)), (field, value)
