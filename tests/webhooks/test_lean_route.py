"""The lean WSGI route for deliveries: taken only when it is safe, and it fails safe."""

import pytest
from django.test import override_settings
from django.urls import reverse

from handshake.models import Practice
from tests.conftest import signed
from tests.webhooks.conftest import LeanClient, load_event, nothing_stored
from webhooks import inbox
from webhooks.models import ReceivedWebhookEvent

pytestmark = pytest.mark.django_db


def _post(client: LeanClient, **extra: str) -> object:
    body, signature = signed(load_event("patient_created"))
    return client.post(reverse("webhooks:receive"), body, HTTP_X_HINT_SIGNATURE=signature, **extra)


def test_a_delivery_skips_the_pages_middleware(practice_a: Practice) -> None:
    response = _post(LeanClient())
    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers  # the pages' clickjacking header
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert ReceivedWebhookEvent.objects.count() == 1


def test_a_host_we_do_not_serve_gets_djangos_400(practice_a: Practice) -> None:
    response = _post(LeanClient(HTTP_HOST="evil.example"))
    assert response.status_code == 400
    assert nothing_stored()


@override_settings(
    SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")
)
def test_where_https_is_required_plain_http_is_redirected_and_stores_nothing(
    practice_a: Practice,
) -> None:
    assert _post(LeanClient()).status_code == 301
    assert nothing_stored()
    assert _post(LeanClient(), HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert ReceivedWebhookEvent.objects.count() == 1


def test_a_storage_failure_answers_500_without_detail_so_hint_retries(
    practice_a: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*, payload: object, body: bytes) -> bool:
        raise RuntimeError("connection to server at 10.0.0.5 failed: password=hunter2")

    monkeypatch.setattr(inbox, "event_receive", down)
    response = _post(LeanClient())
    assert response.status_code == 500
    assert b"hunter2" not in response.content and b"10.0.0.5" not in response.content
    assert "again" in response.json()["message"]
