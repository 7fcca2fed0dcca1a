"""The Content-Security-Policy on our pages: own code only, Hint's SDK, framed by Hint only."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.parametrize("surface", ["core_page", "settings", "clinical_chart"])
def test_a_surface_and_the_settings_page_send_a_strict_policy(
    client: Client, admin_key: str, surface: str, settings
) -> None:
    response = client.get(f"/hint/{surface}", {"session_key": admin_key})
    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])

    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'", settings.HINT_API_URL]  # the SDK's origin
    assert policy["style-src"] == ["'self'"]
    for name in ("script-src", "style-src", "default-src"):
        assert "'unsafe-inline'" not in policy[name]
        assert "'unsafe-eval'" not in policy[name]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == settings.HINT_FRAME_ANCESTORS
    assert "https://*.hint.com" in policy["frame-ancestors"]


def test_the_sdk_origin_follows_the_hint_api_url(client: Client, admin_key: str, settings) -> None:
    settings.HINT_API_URL = "http://127.0.0.1:9999"
    response = client.get("/hint/clinical_chart", {"session_key": admin_key})
    assert 'src="http://127.0.0.1:9999/hint-sdk.js"' in response.content.decode()
    script_src = directives(response["Content-Security-Policy"])["script-src"]
    assert script_src == ["'self'", "http://127.0.0.1:9999"]
