import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_every_page_is_frameable_only_by_hint(client: Client, settings) -> None:
    response = client.get("/healthz")
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors https://*.hint.com" in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_the_admin_keeps_x_frame_options_deny(client: Client) -> None:
    response = client.get("/admin/login/")
    assert response["X-Frame-Options"] == "DENY"
