"""The README's curl walk-through, over real HTTP against Django's live server."""

import json

import pytest
import requests
from django.conf import settings

from hintpartner.hint.signing import sign

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {
    "user": {
        "id": "user-1",
        "email": "ana@example.com",
        "first_name": "Ana",
        "partner_roles": ["admin"],
    },
    "practice": {"id": "pra-demo", "name": "Demo Practice"},
}


def test_a_signed_handshake_returns_a_key_that_opens_the_core_page(live_server) -> None:
    body = json.dumps(BODY).encode()
    answer = requests.post(
        live_server.url + "/hint/handshake",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Hint-Signature": sign(body, settings.HINT_WEBHOOK_SECRET),
        },
        timeout=10,
    )
    assert answer.status_code == 200
    key = answer.json()["session_key"]
    page = requests.get(
        live_server.url + "/hint/core_page", params={"session_key": key}, timeout=10
    )
    assert page.status_code == 200
    assert "Hello, Ana" in page.text and "Demo Practice" in page.text
    assert "Set-Cookie" not in page.headers
    assert "X-Frame-Options" not in page.headers


def test_a_portal_browser_gets_through_the_preflight_over_http(live_server) -> None:
    answer = requests.options(
        live_server.url + "/hint/handshake",
        headers={
            "Origin": "https://app.staging.hint.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-hint-signature",
        },
        timeout=10,
    )
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.staging.hint.com"
