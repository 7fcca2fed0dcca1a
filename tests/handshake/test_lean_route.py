"""The handshake's lean WSGI route answers what the Django view answers, byte for byte."""

from typing import Any

import pytest
from django.test import Client

from handshake import services
from handshake.models import AuditEntry, HintSession
from tests.conftest import signed
from tests.handshake.lean import URL, LeanRouteClient
from tests.webhooks.conftest import LeanClient

pytestmark = pytest.mark.django_db

PROBE = {"user": {"id": "usr-1"}, "practice": {"id": "pra-1"}}
PORTAL = "https://app.staging.hint.com"


def _cases() -> list[tuple[bytes, dict[str, str]]]:
    body, good = signed(PROBE)
    big, big_signature = signed({**PROBE, "pad": "x" * 70_000})
    return [
        (b"{}", {}),
        (body, {"HTTP_X_HINT_SIGNATURE": "sha256=" + "0" * 64}),
        (signed(b'{"user": ')[0], {"HTTP_X_HINT_SIGNATURE": signed(b'{"user": ')[1]}),
        (signed([1, 2])[0], {"HTTP_X_HINT_SIGNATURE": signed([1, 2])[1]}),
        (
            signed({"user": {"id": "u"}})[0],
            {"HTTP_X_HINT_SIGNATURE": signed({"user": {"id": "u"}})[1]},
        ),
        (big, {"HTTP_X_HINT_SIGNATURE": big_signature}),
        (body, {"HTTP_X_HINT_SIGNATURE": good, "HTTP_ORIGIN": "https://evil.example"}),
        (body, {"HTTP_X_HINT_SIGNATURE": good, "HTTP_ORIGIN": PORTAL}),
    ]


HEADERS = ("Content-Type", "Cache-Control", "Vary", "Access-Control-Allow-Origin")


def _shape(response: Any) -> tuple[int, Any, dict[str, str | None]]:
    answer = response.json()
    if "session_key" in answer:  # a new key each time: compare its shape
        answer = {"session_key": len(answer["session_key"])}
    return response.status_code, answer, {h: response.get(h) for h in HEADERS}


@pytest.mark.parametrize("case", range(8))
def test_the_lean_route_and_the_view_answer_the_same(case: int) -> None:
    body, headers = _cases()[case]
    view = Client().post(URL, body, content_type="application/json", **headers)
    lean = LeanRouteClient().post(URL, body, content_type="application/json", **headers)
    assert _shape(lean) == _shape(view)


def test_a_host_we_do_not_serve_gets_djangos_400_and_opens_nothing() -> None:
    body, signature = signed(PROBE)
    response = LeanClient(HTTP_HOST="evil.example").post(URL, body, HTTP_X_HINT_SIGNATURE=signature)
    assert response.status_code == 400
    assert not HintSession.objects.exists() and not AuditEntry.objects.exists()


def test_the_preflight_still_goes_to_the_view() -> None:
    response = LeanClient().request(
        "OPTIONS", URL, HTTP_ORIGIN=PORTAL, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL


def test_a_failure_answers_500_without_detail(monkeypatch: pytest.MonkeyPatch) -> None:
    def down(**_: object) -> None:
        raise RuntimeError("connection to server at 10.0.0.5 failed: password=hunter2")

    monkeypatch.setattr(services, "session_open", down)
    body, signature = signed(PROBE)
    response = LeanClient().post(URL, body, HTTP_X_HINT_SIGNATURE=signature)
    assert response.status_code == 500
    assert b"hunter2" not in response.content and b"10.0.0.5" not in response.content
    assert response.headers["Cache-Control"] == "no-store"
