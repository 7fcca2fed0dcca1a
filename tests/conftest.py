"""Shared fixtures: two practices, and signing with the real signing function."""

import json
from typing import Any

import pytest
import responses as responses_lib
from django.conf import settings

from handshake.models import Practice
from hintpartner.hint import signing


def signed(payload: Any, *, secret: str | None = None) -> tuple[bytes, str]:
    """The raw JSON body and its `X-Hint-Signature` header value."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, signing.sign(body, secret if secret is not None else settings.HINT_WEBHOOK_SECRET)


@pytest.fixture
def practice_a(db: None) -> Practice:
    return Practice.objects.create(
        hint_id="pra-aaaa",
        name="Practice A",
        installation_status=Practice.InstallationStatus.ACTIVE,
        installation_id="inst-a",
        token="practice-a-token",
    )


@pytest.fixture
def practice_b(db: None) -> Practice:
    return Practice.objects.create(
        hint_id="pra-bbbb",
        name="Practice B",
        installation_status=Practice.InstallationStatus.ACTIVE,
        installation_id="inst-b",
        token="practice-b-token",
    )


@pytest.fixture
def mocked_hint() -> Any:
    """`responses` at the one choke point: every outbound call must be registered."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def hint_url() -> str:
    return settings.HINT_API_URL
