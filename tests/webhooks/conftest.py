"""Helpers for webhook tests: Hint-shaped events from tests/data, delivered signed."""

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, TestCase
from django.urls import reverse

from tests.conftest import signed

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


def deliver(client: Client, payload: Any, **extra: Any) -> Any:
    """POST a signed event; tasks queued on commit run (the test's transaction never commits)."""
    body, signature = signed(payload)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            reverse("webhooks:receive"),
            data=body,
            content_type="application/json",
            HTTP_X_HINT_SIGNATURE=signature,
            **extra,
        )


@pytest.fixture
def webhook_url() -> str:
    return reverse("webhooks:receive")
