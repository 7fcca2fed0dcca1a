"""POST /hint/handshake: Hint's audit probes, every refusal, freshness, replay, upserts, CORS."""

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from handshake import services
from handshake.models import AuditEntry, HandshakeSeen, HintSession, Practice, PracticeUser
from handshake.services import key_hash
from hintpartner.tasks import Throttle
from tests.conftest import signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(both_routes: Client) -> Client:
    """Every case runs against the Django view and the lean route (`handshake.wsgi`)."""
    return both_routes


DATA = Path(__file__).resolve().parent.parent / "data" / "handshake"
URL = "/hint/handshake"


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())


def post(client: Client, payload: Any, *, signature: str | None = None, **extra: str) -> Any:
    body, good = signed(payload)
    headers = {"HTTP_X_HINT_SIGNATURE": good if signature is None else signature, **extra}
    if signature == "":
        headers.pop("HTTP_X_HINT_SIGNATURE")
    return client.post(URL, body, content_type="application/json", **headers)


def fresh(payload: dict[str, Any], *, age: timedelta = timedelta(0)) -> dict[str, Any]:
    return {**payload, "timestamp": (timezone.now() - age).isoformat()}


# --- Hint's audit probes ----------------------------------------------------------------------


def test_it_rejects_an_unsigned_empty_body(client: Client) -> None:
    response = client.post(URL, b"{}", content_type="application/json")
    assert response.status_code == 401
    assert "error" in response.json()
    assert not HintSession.objects.exists()


def test_it_rejects_an_all_zero_signature(client: Client) -> None:
    response = post(client, load("handshake_probe.json"), signature="sha256=" + "0" * 64)
    assert response.status_code == 401
    assert not Practice.objects.exists()


def test_it_rejects_a_signature_made_with_another_secret(client: Client) -> None:
    body, forged = signed(load("handshake_probe.json"), secret="not-the-secret")
    response = client.post(URL, body, content_type="application/json", HTTP_X_HINT_SIGNATURE=forged)
    assert response.status_code == 401


def test_it_accepts_the_minimal_signed_probe_and_answers_a_key(client: Client) -> None:
    response = post(client, load("handshake_probe.json"))
    assert response.status_code == 200
    key = response.json()["session_key"]
    assert len(key) >= 43  # 256 bits, url-safe base64
    assert Practice.objects.get().hint_id == "p-test"
    assert HintSession.objects.get().key_hash == key_hash(key)


def test_the_probe_key_opens_a_surface_or_the_denial_page(client: Client) -> None:
    key = post(client, load("handshake_probe.json")).json()["session_key"]
    # The probe's user has no partner role: a denial page, never an error.
    assert client.get("/hint/core_page", {"session_key": key}).status_code == 403


@pytest.mark.parametrize(
    "surface", ["core_page", "settings", "clinical_chart", "clinical_interaction"]
)
def test_every_surface_answers_401_without_a_session(client: Client, surface: str) -> None:
    assert client.get(f"/hint/{surface}").status_code == 401


# --- refusals ---------------------------------------------------------------------------------


def test_it_refuses_a_body_over_64_kb_with_413(client: Client) -> None:
    payload = {**load("handshake_probe.json"), "padding": "x" * 70_000}
    assert post(client, payload).status_code == 413
    assert not Practice.objects.exists()


def test_it_refuses_signed_malformed_json_with_400(client: Client) -> None:
    assert post(client, b'{"user": ').status_code == 400


def test_it_refuses_a_signed_json_array_with_400(client: Client) -> None:
    assert post(client, [1, 2]).status_code == 400


def _probe_text(value: str) -> bytes:
    """Hint's audit probe with one more field, `value` as raw JSON text."""
    return (
        json.dumps({**load("handshake_probe.json"), "extra": "@@"}).replace('"@@"', value).encode()
    )


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_it_refuses_a_non_standard_number_with_400(client: Client, number: str) -> None:
    response = post(client, _probe_text(number))
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]
    assert not Practice.objects.exists()


@pytest.mark.parametrize("depth", [65, 1000, 30_000])  # 30,000 deep still fits in 64 KB
def test_it_refuses_absurd_nesting_with_400(client: Client, depth: int) -> None:
    response = post(client, _probe_text("[" * depth + "]" * depth))
    assert response.status_code == 400
    assert "64 levels" in response.json()["error"]
    assert not Practice.objects.exists()


def test_it_refuses_a_lone_surrogate_with_400(client: Client) -> None:
    assert post(client, _probe_text('"\\udc00"')).status_code == 400
    assert not Practice.objects.exists()


def test_nul_characters_are_removed_and_the_handshake_opens(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    payload = fresh(load("handshake_full.json"))
    payload["practice"]["name"] = "Practice\u0000 A"
    payload["user"]["last_name"] = "Rey\u0000es"
    response = post(client, payload)
    assert response.status_code == 200
    assert Practice.objects.get().name == "Practice A"
    assert PracticeUser.objects.get().last_name == "Reyes"
    assert "handshake body held 2 NUL character(s); removed before storing" in caplog.text


@pytest.mark.parametrize(
    "payload",
    [
        {"user": {"id": "u-1"}},
        {"user": {"id": "u-1"}, "practice": {"name": "no id"}},
        {"user": {"id": "u-1"}, "practice": "pra-1"},
        {"practice": {"id": "pra-1"}},
        {"practice": {"id": "pra-1"}, "user": {"id": ""}},
        {"practice": {"id": "pra-1"}, "user": {"id": "u" * 101}},
    ],
)
def test_it_refuses_a_payload_without_practice_or_user_id(
    client: Client, payload: dict[str, Any]
) -> None:
    assert post(client, payload).status_code == 400
    assert not HintSession.objects.exists()


def test_it_refuses_another_method(client: Client) -> None:
    assert client.get(URL).status_code == 405


# --- freshness and replay ---------------------------------------------------------------------


def test_it_accepts_a_fresh_timestamp(client: Client) -> None:
    assert post(client, fresh(load("handshake_probe.json"))).status_code == 200


def test_it_rejects_a_stale_handshake(client: Client) -> None:
    stale = fresh(load("handshake_probe.json"), age=timedelta(minutes=5, seconds=5))
    assert post(client, stale).status_code == 401
    assert not HintSession.objects.exists()


def test_it_rejects_a_handshake_dated_in_the_future(client: Client) -> None:
    ahead = fresh(load("handshake_probe.json"), age=-timedelta(minutes=6))
    assert post(client, ahead).status_code == 401


def test_the_freshness_window_is_a_setting(client: Client, settings) -> None:
    settings.HINT_HANDSHAKE_MAX_AGE_SECONDS = 30
    assert (
        post(client, fresh(load("handshake_probe.json"), age=timedelta(seconds=40))).status_code
        == 401
    )


def test_it_rejects_an_unreadable_timestamp_with_400(client: Client) -> None:
    payload = {**load("handshake_probe.json"), "timestamp": "yesterday-ish"}
    assert post(client, payload).status_code == 400


def test_it_rejects_a_replay_of_the_same_signed_body(client: Client) -> None:
    payload = fresh(load("handshake_probe.json"))
    assert post(client, payload).status_code == 200
    replay = post(client, payload)
    assert replay.status_code == 401
    assert HintSession.objects.count() == 1
    # The replay store is a table, so every web process sees it.
    assert HandshakeSeen.objects.count() == 1


def test_two_different_fresh_handshakes_both_open(client: Client) -> None:
    first = fresh(load("handshake_probe.json"))
    second = {**first, "timestamp": (timezone.now() - timedelta(seconds=1)).isoformat()}
    assert post(client, first).status_code == 200
    assert post(client, second).status_code == 200


def test_expired_replay_records_are_purged_by_the_sweep_not_the_handshake(
    client: Client, practice_a: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    HandshakeSeen.objects.create(
        practice=practice_a, digest="0" * 64, expires_at=timezone.now() - timedelta(seconds=1)
    )
    post(client, fresh(load("handshake_probe.json")))
    assert HandshakeSeen.objects.filter(digest="0" * 64).exists()  # off the request path
    monkeypatch.setattr(services, "_expired_due", Throttle(0))
    services.expired_sweep()
    assert not HandshakeSeen.objects.filter(digest="0" * 64).exists()
    assert HandshakeSeen.objects.count() == 1  # the live one stays


# --- what a handshake stores ------------------------------------------------------------------


def test_the_stored_sample_timestamp_is_refused_as_stale(client: Client) -> None:
    assert post(client, load("handshake_full.json")).status_code == 401


def test_a_full_handshake_upserts_practice_and_user_and_keeps_the_context(
    client: Client, practice_a: Practice
) -> None:
    payload = fresh(load("handshake_full.json"))
    key = post(client, payload).json()["session_key"]
    practice_a.refresh_from_db()
    assert practice_a.name == "Practice A (renamed)"
    user = PracticeUser.objects.for_practice(practice_a).get()
    assert (user.hint_id, user.email, user.roles) == (
        "user-8f2c",
        "dana.clinician@example.test",
        ["clinician"],
    )
    assert user.last_visit_at is not None
    session = HintSession.objects.get(key_hash=key_hash(key))
    assert session.user == user
    assert (session.patient_id, session.interaction_id) == ("pat-123", "inter-456")
    assert session.access_token == "sbx-session-token-dana"


def test_the_session_token_is_encrypted_at_rest(client: Client) -> None:
    post(client, fresh(load("handshake_full.json")))
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM handshake_hintsession")
        (raw,) = cursor.fetchone()
    assert "sbx-session-token-dana" not in raw
    assert raw.startswith("fernet:")


def test_roles_are_refreshed_at_every_handshake(client: Client) -> None:
    payload = load("handshake_full.json")
    del payload["timestamp"]
    post(client, payload)
    payload["user"]["partner_roles"] = ["staff", "admin"]
    post(client, payload)
    assert PracticeUser.objects.get().roles == ["admin", "staff"]
    payload["user"]["partner_roles"] = []
    post(client, payload)
    assert PracticeUser.objects.get().roles == []


def test_a_support_session_creates_no_user_and_is_audited_as_support(client: Client) -> None:
    payload = {
        **fresh(load("handshake_full.json")),
        "access_context": "platform_support",
        "user": {"id": "hint-emp-1", "email": "helper@hint.test", "name": "Sam Helper"},
    }
    key = post(client, payload).json()["session_key"]
    assert not PracticeUser.objects.exists()
    session = HintSession.objects.get(key_hash=key_hash(key))
    assert session.user is None and session.is_support
    entry = AuditEntry.objects.get(action="session.opened")
    assert entry.is_support and entry.user is None
    assert entry.actor_label == "Hint support (Sam Helper)"


def test_any_access_context_but_standard_is_a_support_session(client: Client) -> None:
    payload = {**load("handshake_probe.json"), "access_context": "something_new"}
    post(client, payload)
    assert HintSession.objects.get().is_support
    assert not PracticeUser.objects.exists()


def test_ids_are_opaque_whatever_their_prefix(client: Client) -> None:
    payload = {"user": {"id": 42}, "practice": {"id": "sbx-prc-zz"}}
    assert post(client, payload).status_code == 200
    assert PracticeUser.objects.get().hint_id == "42"


# --- CORS (localhost mode) --------------------------------------------------------------------


def preflight(client: Client, origin: str, **extra: str) -> Any:
    return client.options(
        URL,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-hint-signature",
        **extra,
    )


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.staging.hint.com",
        "https://app.hint.com",
        "https://clinical.hint.com",
        "https://clinical.staging.hint.com",
    ],
)
def test_the_preflight_of_a_hint_portal_is_answered(client: Client, origin: str) -> None:
    response = preflight(client, origin)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == origin
    assert "Origin" in response["Vary"]
    allowed = response["Access-Control-Allow-Headers"].lower()
    assert "content-type" in allowed and "x-hint-signature" in allowed
    assert "POST" in response["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://evilhint.com",
        "https://app.hint.com.evil.example",
        "http://app.hint.com",
        "https://app.hint.com:8443",
        "null",
    ],
)
def test_the_preflight_of_another_origin_is_refused(client: Client, origin: str) -> None:
    response = preflight(client, origin)
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response
    assert "Origin" in response["Vary"]


def test_a_browser_handshake_from_a_portal_can_read_its_key(client: Client) -> None:
    response = post(
        client, load("handshake_probe.json"), HTTP_ORIGIN="https://app.staging.hint.com"
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://app.staging.hint.com"
    assert "Origin" in response["Vary"]


def test_a_handshake_from_another_origin_gets_no_cors_header(client: Client) -> None:
    response = post(client, load("handshake_probe.json"), HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in response


def test_extra_origins_come_from_a_setting(client: Client, settings) -> None:
    settings.HINT_CORS_EXTRA_ORIGINS = ["https://portal.partner-lab.example"]
    origin = "https://portal.partner-lab.example"
    assert preflight(client, origin)["Access-Control-Allow-Origin"] == origin


def test_the_sandbox_origin_is_allowed_in_development(client: Client) -> None:
    origin = "http://127.0.0.1:8001"
    assert preflight(client, origin)["Access-Control-Allow-Origin"] == origin


def test_the_preflight_allows_a_private_network_request(client: Client) -> None:
    response = preflight(
        client,
        "https://app.staging.hint.com",
        HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK="true",
    )
    assert response["Access-Control-Allow-Private-Network"] == "true"


def test_the_app_never_proxies_hints_credential_routes(client: Client, admin_key: str) -> None:
    url = "/hint/api/provider/installations/other-partner/credential"
    assert client.get(url, {"session_key": admin_key}).status_code == 404
    assert client.post(url, {"session_key": admin_key}).status_code == 404
