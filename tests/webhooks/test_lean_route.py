"""The lean WSGI route for deliveries: taken only when it is safe, and it fails safe."""

import io
import time

import pytest
from django.db import OperationalError, connection, connections
from django.test import override_settings
from django.urls import reverse

from handshake.models import Practice
from hintpartner import lean
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


def _closable() -> None:
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("an in-memory SQLite test database is never closed by Django")


def _wsgi_post(body: bytes, signature: str, host: str = "testserver") -> str:
    """One delivery through the project's WSGI application as gunicorn calls it, connection
    upkeep included; its status line."""
    from django.core.handlers.wsgi import WSGIHandler

    from hintpartner.lean import lean_routes

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": reverse("webhooks:receive"),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": host,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_HINT_SIGNATURE": signature,
    }
    status: list[str] = []
    b"".join(lean_routes(WSGIHandler())(environ, lambda line, _headers: status.append(line)))
    return status[0]


@pytest.mark.django_db(transaction=True)
def test_after_a_delivery_a_connection_past_its_max_age_is_closed(practice_a: Practice) -> None:
    _closable()
    body, signature = signed(load_event("patient_created"))
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1  # aged past CONN_MAX_AGE while idle
    assert _wsgi_post(body, signature).startswith("200")
    assert connection.connection is None  # closed after the request; the next one reconnects
    assert ReceivedWebhookEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_after_a_failed_delivery_an_unusable_connection_is_closed(
    practice_a: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    _closable()
    body, signature = signed(load_event("patient_created"))

    def broken(*_args: object, **_kwargs: object) -> None:
        connection.errors_occurred = True  # what Django's error mapping records
        raise OperationalError("server closed the connection unexpectedly")

    connection.ensure_connection()
    monkeypatch.setattr(inbox, "fetch_one", broken)
    monkeypatch.setattr(type(connections["default"]), "is_usable", lambda _self: False)
    assert _wsgi_post(body, signature).startswith("503")
    assert connection.connection is None


def test_the_host_check_follows_the_setting_and_answers_are_never_kept_with_text(
    practice_a: Practice,
) -> None:
    with override_settings(ALLOWED_HOSTS=["partner.example"]):
        assert _post(LeanClient(HTTP_HOST="partner.example")).status_code == 200
    with override_settings(ALLOWED_HOSTS=["other.example"]):
        assert _post(LeanClient(HTTP_HOST="partner.example")).status_code == 400
    # Only answers made of flags are encoded once; none holding text (a message, a key) is kept.
    assert all(not isinstance(value, str) for key in lean._ENCODED for _name, value in key[1:])
