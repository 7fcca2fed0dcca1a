"""Signed bodies that can never succeed answer 400, never 500; seed-shaped events are stored.

Hint retries anything but a 2xx for days, so a 5xx is kept for failures that may pass (the
database unreachable). Every test runs on the Django view and on the lean WSGI route, with bodies
signed by the real signing function (`tests.conftest.signed`).
"""

import copy
import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import DataError, OperationalError, connection, transaction
from django.test import Client

from handshake.models import Practice
from sync.models import Patient
from tests.conftest import signed
from tests.webhooks.conftest import LeanClient, deliver_and_dispatch, load_event, nothing_stored
from webhooks import inbox
from webhooks.models import ReceivedWebhookEvent, UnroutedWebhookEvent, WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["view", "lean route"])
def client(request: pytest.FixtureRequest, client: Client) -> Client | LeanClient:
    return client if request.param == "view" else LeanClient()


def _post_bytes(client: Client | LeanClient, body: bytes, webhook_url: str) -> Any:
    body, signature = signed(body)
    return client.post(
        webhook_url, body, content_type="application/json", HTTP_X_HINT_SIGNATURE=signature
    )


def _event_text(value: str) -> bytes:
    """The created-patient event, its balance replaced by `value` as raw JSON text."""
    text = json.dumps({**load_event("patient_created"), "balance": "@@"})
    return text.replace('"@@"', value).encode()


def _seed_event(**object_fields: Any) -> dict[str, Any]:
    """The integration guide's example shape: type, object, timestamp; no id, no practice_id."""
    event = load_event("patient_created")
    obj = copy.deepcopy(event["object"])
    obj.update(object_fields)
    return {"type": "patient.created", "object": obj, "timestamp": "2026-05-26T14:23:00Z"}


# --- bodies that can never succeed: 400, nothing stored --------------------------------------


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_body_with_a_non_standard_number_answers_400_and_stores_nothing(
    client: Client, practice_a: Practice, webhook_url: str, number: str
) -> None:
    response = _post_bytes(client, _event_text(number), webhook_url)
    assert response.status_code == 400
    assert "JSON" in response.json()["message"]
    assert nothing_stored()


@pytest.mark.parametrize("depth", [65, 1000, 50_000])
def test_a_body_nested_absurdly_deep_answers_400_and_stores_nothing(
    client: Client, practice_a: Practice, webhook_url: str, depth: int
) -> None:
    response = _post_bytes(client, _event_text("[" * depth + "]" * depth), webhook_url)
    assert response.status_code == 400
    assert "64 levels" in response.json()["message"]
    assert nothing_stored()


def test_a_body_with_a_lone_surrogate_answers_400_and_stores_nothing(
    client: Client, practice_a: Practice, webhook_url: str
) -> None:
    response = _post_bytes(client, _event_text('"\\ud800"'), webhook_url)
    assert response.status_code == 400
    assert nothing_stored()


# --- NUL characters: stored without them, said so in the log --------------------------------


def test_nul_characters_are_removed_the_event_is_stored_and_applied(
    client: Client, practice_a: Practice, caplog: pytest.LogCaptureFixture
) -> None:
    event = load_event("patient_created")
    event["object"]["last_name"] = "O'Brien\u0000-Smith"
    event["object"]["notes\u0000"] = {"text": "\u0000private\u0000"}
    with caplog.at_level(logging.WARNING, logger="hintpartner.hint.decode"):
        response = deliver_and_dispatch(client, event)
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.PROCESSED
    assert stored.payload["object"]["notes"] == {"text": "private"}
    assert Patient.objects.for_practice(practice_a).get().last_name == "O'Brien-Smith"
    lines = [r.getMessage() for r in caplog.records if r.name == "hintpartner.hint.decode"]
    assert lines == ["webhook body held 4 NUL character(s); removed before storing"]
    assert "private" not in caplog.text


@pytest.mark.parametrize(
    ("payload", "event_type"),
    [({"name": "x\u0000"}, "patient.created"), ({}, "patient\u0000created")],
    ids=["jsonb", "text"],
)
def test_postgresql_stores_no_nul_in_jsonb_or_text_which_is_why_the_decoder_removes_them(
    db: None, payload: dict[str, Any], event_type: str
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (CI runs the unit suite on it through DATABASE_URL)")
    with pytest.raises(DataError), transaction.atomic():
        UnroutedWebhookEvent.objects.create(
            event_id="evt-nul", type=event_type, hint_practice_id="", payload=payload
        )


# --- seed-shaped events: {type, object, timestamp} -------------------------------------------


@pytest.mark.parametrize(
    "practice_ref",
    [{"practice_id": "pra-aaaa"}, {"practice": {"id": "pra-aaaa", "name": "Practice A"}}],
    ids=["object.practice_id", "object.practice.id"],
)
def test_a_seed_shaped_event_takes_its_practice_from_the_object_and_is_applied(
    client: Client, practice_a: Practice, practice_ref: dict[str, Any]
) -> None:
    response = deliver_and_dispatch(client, _seed_event(**practice_ref))
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.practice == practice_a
    assert event.status == WebhookEvent.Status.PROCESSED
    assert Patient.objects.for_practice(practice_a).get().last_name == "O'Brien-Smith"


def test_an_event_without_id_takes_the_digest_of_its_signed_body_and_a_retry_is_a_repeat(
    client: Client, practice_a: Practice, webhook_url: str
) -> None:
    body = json.dumps(_seed_event(practice_id="pra-aaaa")).encode()
    first = _post_bytes(client, body, webhook_url)
    again = _post_bytes(client, body, webhook_url)
    assert (first.status_code, again.status_code) == (200, 200)
    assert ReceivedWebhookEvent.objects.count() == 1  # the same id: one row
    inbox.received_sort()
    assert _post_bytes(client, body, webhook_url).status_code == 200  # once more, after sorting
    inbox.received_sort()
    event = WebhookEvent.objects.get()
    assert event.event_id == "body-" + hashlib.sha256(body).hexdigest()


def test_an_event_without_created_at_is_dated_by_its_timestamp(
    client: Client, practice_a: Practice
) -> None:
    deliver_and_dispatch(client, _seed_event(practice_id="pra-aaaa"))
    assert WebhookEvent.objects.get().hint_created_at == datetime(2026, 5, 26, 14, 23, tzinfo=UTC)


def test_an_event_naming_no_practice_is_stored_apart_with_200_and_a_log_line_saying_why(
    client: Client, practice_a: Practice, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="webhooks.inbox"):
        response = deliver_and_dispatch(client, _seed_event())
    assert response.status_code == 200
    assert not WebhookEvent.objects.exists() and not Patient.objects.exists()
    unrouted = UnroutedWebhookEvent.objects.get()
    assert (unrouted.hint_practice_id, unrouted.type) == ("", "patient.created")
    assert "names no practice" in caplog.text


def test_a_seed_shaped_event_for_a_practice_not_installed_here_is_stored_apart_with_200(
    client: Client, practice_a: Practice, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="webhooks.inbox"):
        response = deliver_and_dispatch(client, _seed_event(practice={"id": "pra-elsewhere"}))
    assert response.status_code == 200
    assert UnroutedWebhookEvent.objects.get().hint_practice_id == "pra-elsewhere"
    assert "not installed here" in caplog.text


def test_the_events_own_practice_id_wins_over_the_objects(
    client: Client, practice_a: Practice, practice_b: Practice
) -> None:
    event = load_event("patient_created")
    event["object"]["practice_id"] = "pra-bbbb"
    deliver_and_dispatch(client, event)
    assert WebhookEvent.objects.get().practice == practice_a


# --- a failure that may pass: 503, nothing stored, the retry stores it ----------------------


def test_a_database_outage_answers_503_stores_nothing_and_hints_retry_is_stored(
    client: Client, practice_a: Practice, webhook_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*_args: object, **_kwargs: object) -> bool:
        raise OperationalError("connection to server at 10.0.0.5 failed: password=hunter2")

    body = json.dumps(load_event("patient_created")).encode()
    with monkeypatch.context() as patched:
        patched.setattr(inbox, "fetch_one", down)
        response = _post_bytes(client, body, webhook_url)
    assert response.status_code == 503
    assert "again" in response.json()["message"]
    assert b"hunter2" not in response.content and b"10.0.0.5" not in response.content
    assert nothing_stored()
    retry = _post_bytes(client, body, webhook_url)
    assert retry.status_code == 200
    assert ReceivedWebhookEvent.objects.count() == 1  # stored by the retry
    inbox.received_sort()
    assert WebhookEvent.objects.get().event_id == "evt-6Ty2Kq0Vd1"
