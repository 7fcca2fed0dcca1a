"""Helpers for webhook tests: Hint-shaped events from tests/data, delivered signed."""

import copy
import io
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, TestCase
from django.urls import reverse

from tests.conftest import signed
from webhooks import services

DATA = Path(__file__).resolve().parent.parent / "data" / "webhooks"
_ids = itertools.count(1)


def load_event(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def patient_event(
    event_type: str = "patient.updated",
    *,
    patient_id: str = "pat-8Hs2LwQ4",
    updated_at: str = "2026-05-26T14:22:59.000Z",
    practice_id: str = "pra-aaaa",
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """The created-patient event from tests/data, changed as asked (a fresh event id)."""
    event = copy.deepcopy(load_event("patient_created"))
    event["id"] = event_id or f"evt-test-{next(_ids)}"
    event["type"] = event_type
    event["practice_id"] = practice_id
    event["object"].update(id=patient_id, updated_at=updated_at, **fields)
    return event


def nothing_stored() -> bool:
    """No delivery kept anywhere: received, sorted into a practice's events, or kept apart."""
    from webhooks.models import ReceivedWebhookEvent, UnroutedWebhookEvent, WebhookEvent

    return not any(
        model.objects.exists()
        for model in (ReceivedWebhookEvent, WebhookEvent, UnroutedWebhookEvent)
    )


def deliver(client: Client, payload: Any, **extra: Any) -> Any:
    """POST a signed event: the receiver stores it (received, not sorted) and queues nothing."""
    body, signature = signed(payload)
    return client.post(
        reverse("webhooks:receive"),
        data=body,
        content_type="application/json",
        HTTP_X_HINT_SIGNATURE=signature,
        **extra,
    )


def deliver_and_dispatch(client: Client, payload: Any, **extra: Any) -> Any:
    """`deliver`, then one sweep of the worker's dispatcher (which sorts first). The tasks it
    queues on commit run (the test's transaction never commits); with the immediate backend they
    run at once."""
    response = deliver(client, payload, **extra)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.events_dispatch()
    return response


@pytest.fixture
def webhook_url() -> str:
    return reverse("webhooks:receive")


class LeanResponse:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_code = int(status.split()[0])
        self.headers = dict(headers)
        self.content = body

    def json(self) -> Any:
        return json.loads(self.content)


class LeanClient:
    """Calls the project's WSGI application (lean routes included) the way gunicorn does, with
    Django's test-client care: the test's open transaction keeps its connection."""

    def __init__(self, **defaults: Any) -> None:
        self.defaults = {"HTTP_HOST": "testserver", "wsgi.url_scheme": "http", **defaults}

    def request(self, method: str, path: str, body: bytes = b"", **extra: Any) -> LeanResponse:
        from django.core import signals
        from django.core.handlers.wsgi import WSGIHandler
        from django.db import close_old_connections

        from hintpartner import lean
        from hintpartner.lean import lean_routes

        # Built per request, as hintpartner/wsgi.py builds it once: middleware reads its
        # settings when it is created, and tests override settings.
        application = lean_routes(WSGIHandler())

        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            **self.defaults,
            **extra,
        }
        captured: list[Any] = []
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        # The lean routes' own connection upkeep (`hintpartner.lean.django_request`) too.
        upkeep = lean.close_old_connections
        lean.close_old_connections = lambda: None
        try:
            chunks = application(
                environ, lambda status, headers: captured.extend([status, headers])
            )
            content = b"".join(chunks)
            if hasattr(chunks, "close"):
                chunks.close()
        finally:
            lean.close_old_connections = upkeep
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
        return LeanResponse(captured[0], captured[1], content)

    def post(
        self, path: str, data: Any = b"", content_type: str = "application/json", **extra: Any
    ) -> LeanResponse:
        body = data if isinstance(data, bytes) else str(data).encode()
        return self.request("POST", path, body, CONTENT_TYPE=content_type, **extra)

    def get(self, path: str, **extra: Any) -> LeanResponse:
        return self.request("GET", path, **extra)
