"""Shared fixtures: two practices, and signing with the real signing function."""

import json
from typing import Any

import pytest
import responses as responses_lib
from django.conf import settings

from handshake.models import Practice
from hintpartner.hint import signing
from tests.e2e.browser import CSP_VIOLATIONS, frame_page  # noqa: F401 - frame_page: a fixture


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


@pytest.fixture(autouse=True)
def no_csp_violations() -> Any:
    """Fail a test during which a browser page reported a Content-Security-Policy violation
    (tests/e2e/browser.py records them)."""
    CSP_VIOLATIONS.clear()
    yield
    found, CSP_VIOLATIONS[:] = list(CSP_VIOLATIONS), []
    assert not found, "Content-Security-Policy violations:\n" + "\n".join(found)


# --- Hint sessions (handshake app) ------------------------------------------------------------


def handshake_payload(
    practice: Practice,
    roles: list[str] | None = None,
    *,
    user_id: str | None = None,
    access_context: str = "standard",
    patient_id: str = "",
    interaction_id: str = "",
    access_token: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """A handshake payload shaped like Hint's, for `practice` and a user holding `roles`."""
    roles = ["admin"] if roles is None else roles
    user_id = user_id or f"user-{practice.hint_id}-{'-'.join(roles) or 'none'}"
    payload: dict[str, Any] = {
        "user": {
            "id": user_id,
            "email": f"{user_id}@example.test",
            "first_name": (roles[0] if roles else "nobody").title(),
            "last_name": "Tester",
            "partner_roles": roles,
        },
        "practice": {"id": practice.hint_id, "name": practice.name},
        "access_context": access_context,
        "access_token": access_token or f"session-token-{user_id}",
    }
    if patient_id:
        payload["patient"] = {"id": patient_id}
    if interaction_id:
        payload["interaction"] = {"id": interaction_id}
    payload.update(extra)
    return payload


def open_session(
    practice: Practice,
    roles: list[str] | None = None,
    *,
    user_id: str | None = None,
    access_context: str = "standard",
    patient_id: str = "",
    interaction_id: str = "",
    **extra: Any,
) -> str:
    """A live session key, opened through the real handshake service."""
    from handshake.services import session_open

    payload = handshake_payload(
        practice,
        roles,
        user_id=user_id,
        access_context=access_context,
        patient_id=patient_id,
        interaction_id=interaction_id,
        **extra,
    )
    return session_open(payload=payload).key


@pytest.fixture
def admin_key(practice_a: Practice) -> str:
    return open_session(practice_a, ["admin"])


@pytest.fixture
def clinician_key(practice_a: Practice) -> str:
    return open_session(practice_a, ["clinician"])


@pytest.fixture
def staff_key(practice_a: Practice) -> str:
    return open_session(practice_a, ["staff"])


@pytest.fixture
def outsider_key(practice_b: Practice) -> str:
    return open_session(practice_b, ["admin"])
