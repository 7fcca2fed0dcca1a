"""POST /hint/webhooks: verify, store once, acknowledge; every refusal stores nothing.

Every test runs twice: through Django's test client (the view) and through the project's WSGI
application as gunicorn calls it (the lean route); both must answer alike.
"""

import json
from typing import Any

import pytest
from django.test import Client

from handshake.models import Practice
from sync.models import Patient
from tests.conftest import signed
from tests.webhooks.conftest import (
    LeanClient,
    deliver_and_dispatch,
    load_event,
    nothing_stored,
    patient_event,
)
from webhooks import inbox
from webhooks.models import ReceivedWebhookEvent, UnroutedWebhookEvent, WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["view", "lean route"])
def client(request: pytest.FixtureRequest, client: Client) -> Client | LeanClient:
    return client if request.param == "view" else LeanClient()


def test_it_stores_a_signed_event_and_applies_it(client: Client, practice_a: Practice) -> None:
    response = deliver_and_dispatch(client, load_event("patient_created"))
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.practice == practice_a
    assert event.status == WebhookEvent.Status.PROCESSED
    assert Patient.objects.for_practice(practice_a).get().last_name == "O'Brien-Smith"


def test_it_ignores_a_repeated_event(client: Client, practice_a: Practice) -> None:
    payload = load_event("patient_created")
    deliver_and_dispatch(client, payload)
    Patient.objects.all().delete()  # had the repeat done any work, the patient would come back
    response = deliver_and_dispatch(client, payload)
    assert response.json() == {"received": True}  # 200: Hint stops sending it
    assert WebhookEvent.objects.count() == 1
    assert not ReceivedWebhookEvent.objects.exists()  # the sort dropped the repeat
    assert not Patient.objects.exists()


def test_it_rejects_a_forged_signature(
    client: Client, practice_a: Practice, webhook_url: str
) -> None:
    body, _ = signed(load_event("patient_created"), secret="not-our-secret")
    response = client.post(
        webhook_url, body, content_type="application/json", HTTP_X_HINT_SIGNATURE=_
    )
    assert response.status_code == 401
    assert nothing_stored()


def test_it_rejects_a_zero_signature_and_a_missing_one(
    client: Client, practice_a: Practice, webhook_url: str
) -> None:
    body = json.dumps(load_event("patient_created")).encode()
    zeros = "sha256=" + "0" * 64
    forged = client.post(
        webhook_url, body, content_type="application/json", HTTP_X_HINT_SIGNATURE=zeros
    )
    missing = client.post(webhook_url, body, content_type="application/json")
    assert (forged.status_code, missing.status_code) == (401, 401)
    assert nothing_stored()


def test_it_rejects_a_signature_over_a_different_body(
    client: Client, practice_a: Practice, webhook_url: str
) -> None:
    _, signature = signed(load_event("patient_created"))
    tampered = json.dumps(patient_event(last_name="Mallory")).encode()
    response = client.post(
        webhook_url, tampered, content_type="application/json", HTTP_X_HINT_SIGNATURE=signature
    )
    assert response.status_code == 401
    assert nothing_stored()


def test_it_refuses_a_body_over_one_megabyte(
    client: Client, practice_a: Practice, webhook_url: str
) -> None:
    event = load_event("patient_created")
    event["object"]["notes"] = "x" * (1024 * 1024)
    body, signature = signed(event)
    response = client.post(
        webhook_url, body, content_type="application/json", HTTP_X_HINT_SIGNATURE=signature
    )
    assert response.status_code == 413
    assert nothing_stored()


def test_it_refuses_a_declared_length_over_one_megabyte_before_reading(
    client: Client, practice_a: Practice, webhook_url: str
) -> None:
    body, signature = signed(load_event("patient_created"))
    response = client.post(
        webhook_url,
        body,
        content_type="application/json",
        HTTP_X_HINT_SIGNATURE=signature,
        CONTENT_LENGTH=str(2 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert nothing_stored()


def test_it_answers_400_to_a_signed_body_that_is_not_json(
    client: Client, practice_a: Practice, webhook_url: str
) -> None:
    body, signature = signed(b'{"id": "evt-1", "type": ')
    response = client.post(
        webhook_url, body, content_type="application/json", HTTP_X_HINT_SIGNATURE=signature
    )
    assert response.status_code == 400
    assert nothing_stored()


def test_it_answers_400_to_an_event_without_a_type(client: Client, practice_a: Practice) -> None:
    event = load_event("patient_created")
    del event["type"]
    response = deliver_and_dispatch(client, event)
    assert response.status_code == 400
    assert "type" in response.json()["message"]
    assert nothing_stored()


@pytest.mark.parametrize(
    "body",
    [[1, 2], "text", {"id": "e", "type": " ", "practice_id": "p"}, {"id": ["e"], "type": "x"}],
)
def test_it_answers_400_to_signed_json_that_is_not_an_event(
    client: Client, practice_a: Practice, body: object
) -> None:
    assert deliver_and_dispatch(client, body).status_code == 400
    assert nothing_stored()


def test_it_stores_an_unknown_type_as_ignored_and_answers_200(
    client: Client, practice_a: Practice
) -> None:
    response = deliver_and_dispatch(client, load_event("membership_updated"))
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.IGNORED
    assert event.type == "membership.updated"


def test_it_stores_an_event_for_an_unknown_practice_apart(client: Client, db: None) -> None:
    response = deliver_and_dispatch(client, patient_event(practice_id="pra-nobody"))
    assert response.status_code == 200
    assert not WebhookEvent.objects.exists()
    assert UnroutedWebhookEvent.objects.get().hint_practice_id == "pra-nobody"
    assert not Patient.objects.exists()
    for _ in range(2):  # a repeat is kept apart once
        again = deliver_and_dispatch(client, patient_event(practice_id="pra-nobody", event_id="x"))
        assert again.status_code == 200
    assert UnroutedWebhookEvent.objects.filter(event_id="x").count() == 1


def test_a_patient_event_for_a_disconnected_practice_is_ignored(
    client: Client, practice_a: Practice
) -> None:
    practice_a.installation_status = Practice.InstallationStatus.DEACTIVATED
    practice_a.save()
    assert deliver_and_dispatch(client, patient_event()).status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED
    assert not Patient.objects.exists()


def test_an_event_for_practice_b_never_touches_practice_a(
    client: Client, practice_a: Practice, practice_b: Practice
) -> None:
    deliver_and_dispatch(client, patient_event(first_name="Alice"))
    deliver_and_dispatch(
        client, patient_event(practice_id="pra-bbbb", first_name="Bob", updated_at="2027-01-01")
    )
    a = Patient.objects.for_practice(practice_a).get()
    b = Patient.objects.for_practice(practice_b).get()
    assert (a.first_name, b.first_name) == ("Alice", "Bob")
    assert WebhookEvent.objects.for_practice(practice_a).count() == 1


def test_it_answers_405_to_a_get(client: Client, webhook_url: str) -> None:
    assert client.get(webhook_url).status_code == 405


def test_storing_a_new_event_for_a_known_practice_is_one_statement(
    practice_a: Practice, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        assert inbox.event_receive(payload=patient_event())


def test_storing_a_seed_shaped_event_for_a_known_practice_is_also_one_statement(
    practice_a: Practice, django_assert_num_queries: Any
) -> None:
    event = patient_event()
    del event["id"], event["practice_id"]
    event["object"]["practice"] = {"id": "pra-aaaa"}
    with django_assert_num_queries(1):
        assert inbox.event_receive(payload=event, body=json.dumps(event).encode())


@pytest.mark.parametrize(
    ("body", "as_text"),
    [
        (b'{"type": "patient.created", "name": "Zo\\u00eb"}', True),
        ('{"type": "patient.created", "name": "Zoë"}'.encode(), True),
        (b'{"type": "patient.created", "name": "a\\u0000b"}', False),  # the decoder removes it
        (b'{"type": "patient.created", "name": "\\ud83d\\ude00"}', False),
    ],
)
def test_the_signed_text_is_stored_as_is_only_when_the_decoder_changed_nothing(
    body: bytes, as_text: bool
) -> None:
    from hintpartner.hint import decode
    from webhooks.inbox import RawJson

    value = decode.json_body(body)
    stored = RawJson.as_stored(value, body, "postgresql")
    assert isinstance(stored, RawJson) is as_text
    assert not as_text or json.loads(stored.text) == value
    assert RawJson.as_stored(value, body, "sqlite") is value
