"""Our 404, 403 and 500 pages: plain words in the frame, the session's links when there is one,
and never the path, the session key, an id or an exception's text."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory

from handshake import error_pages as views
from handshake.models import Practice
from tests.conftest import open_session
from tests.sync.helpers import make_contact

pytestmark = pytest.mark.django_db

FORGED_KEY = "k" * 43
UNKNOWN = "/hint/no-such-route/pra-aaaa"


def _body(response) -> str:
    return response.content.decode()


def _assert_nothing_echoed(body: str, *secrets: str) -> None:
    for secret in ("no-such-route", "pra-aaaa", "Traceback", "secret-detail", *secrets):
        assert secret not in body


def test_an_unknown_route_without_a_session_is_our_page_without_links(client: Client) -> None:
    response = client.get(UNKNOWN)
    assert response.status_code == 404
    body = _body(response)
    assert "This page is not here" in body
    assert "open the app again" in body
    assert "<nav" not in body
    _assert_nothing_echoed(body)


def test_an_unknown_route_never_shows_a_key_that_opens_no_session(client: Client) -> None:
    response = client.get(UNKNOWN, {"session_key": FORGED_KEY})
    assert response.status_code == 404
    _assert_nothing_echoed(_body(response), FORGED_KEY)
    assert "<nav" not in _body(response)


def test_an_unknown_route_with_a_session_carries_the_apps_links(
    client: Client, admin_key: str
) -> None:
    response = client.get(UNKNOWN, {"session_key": admin_key})
    assert response.status_code == 404
    body = _body(response)
    assert f'href="/hint/core_page?session_key={admin_key}"' in body
    assert f'href="/hint/settings?session_key={admin_key}"' in body
    assert "no-store" in response["Cache-Control"]
    _assert_nothing_echoed(body)


def test_the_session_key_may_come_in_the_header(client: Client, admin_key: str) -> None:
    response = client.get(UNKNOWN, headers={"X-Hint-Session-Key": admin_key})
    assert response.status_code == 404
    assert f"/hint/core_page?session_key={admin_key}" in _body(response)


def test_another_practices_record_is_our_page_with_the_sessions_links(
    client: Client, admin_key: str, practice_b: Practice
) -> None:
    contact = make_contact(practice_b, first_name="Outsider")
    response = client.get(f"/hint/sync/contacts/{contact.pk}", {"session_key": admin_key})
    assert response.status_code == 404
    body = _body(response)
    assert "This page is not here" in body
    assert f"/hint/core_page?session_key={admin_key}" in body
    _assert_nothing_echoed(body, f"contacts/{contact.pk}", "Outsider")


def test_a_route_outside_hint_is_our_page_too(client: Client) -> None:
    response = client.get("/no-such-route/pra-aaaa", {"session_key": FORGED_KEY})
    assert response.status_code == 404
    assert "This page is not here" in _body(response)
    _assert_nothing_echoed(_body(response), FORGED_KEY)


def test_with_debug_on_an_unknown_iframe_route_is_still_our_page(
    client: Client, admin_key: str, settings
) -> None:
    settings.DEBUG = True
    response = client.get(UNKNOWN, {"session_key": admin_key})
    assert response.status_code == 404
    assert "This page is not here" in _body(response)
    _assert_nothing_echoed(_body(response))


@pytest.mark.parametrize("ajax", [False, True])
def test_with_debug_on_another_practices_record_is_still_our_page(
    client: Client, admin_key: str, practice_b: Practice, settings, ajax: bool
) -> None:
    settings.DEBUG = True
    contact = make_contact(practice_b, first_name="Outsider")
    headers = {"HX-Request": "true"} if ajax else {}
    response = client.get(
        f"/hint/sync/contacts/{contact.pk}", {"session_key": admin_key}, headers=headers
    )
    assert response.status_code == 404
    body = _body(response)
    assert "This page is not here" in body
    assert "Using the URLconf" not in body and "DEBUG = True" not in body
    assert "no-store" in response["Cache-Control"]
    assert "X-Frame-Options" not in response
    # The key appears only in the app's own links, never as the requested URL.
    assert f"contacts/{contact.pk}?session_key" not in body and "Outsider" not in body


def test_with_debug_on_a_404_outside_hint_is_left_to_django(client: Client, settings) -> None:
    settings.DEBUG = True
    response = client.get("/no-such-route/")
    assert response.status_code == 404
    assert "This page is not here" not in _body(response)


def test_a_route_that_exists_with_a_slash_is_still_redirected_there(
    client: Client, admin_key: str
) -> None:
    response = client.get("/hint/sync/contacts", {"session_key": admin_key})
    assert response.status_code == 301
    assert response["Location"] == f"/hint/sync/contacts/?session_key={admin_key}"


def test_the_error_pages_may_be_framed_by_hint(client: Client) -> None:
    response = client.get(UNKNOWN)
    assert "X-Frame-Options" not in response
    assert "frame-ancestors " in response["Content-Security-Policy"]


def test_the_403_page_carries_the_sessions_links_and_nothing_else(
    rf: RequestFactory, practice_a: Practice
) -> None:
    key = open_session(practice_a, ["staff"])
    response = views.permission_denied(
        rf.get("/hint/x/pra-aaaa", {"session_key": key}), PermissionDenied("secret-detail")
    )
    assert response.status_code == 403
    body = _body(response)
    assert "You cannot open this page" in body
    assert f"/hint/core_page?session_key={key}" in body
    _assert_nothing_echoed(body)


def test_the_403_page_without_a_session_shows_no_key(rf: RequestFactory) -> None:
    response = views.permission_denied(
        rf.get("/hint/x", {"session_key": FORGED_KEY}), PermissionDenied()
    )
    assert response.status_code == 403
    _assert_nothing_echoed(_body(response), FORGED_KEY)


@pytest.mark.urls("tests.hintpartner.error_urls")
def test_a_crash_is_our_500_page_without_the_exception(client: Client) -> None:
    client.raise_request_exception = False
    response = client.get("/test-boom", {"session_key": FORGED_KEY})
    assert response.status_code == 500
    body = _body(response)
    assert "Something went wrong on our side" in body
    assert "<nav" not in body
    _assert_nothing_echoed(body, FORGED_KEY, "RuntimeError", "test-boom")


@pytest.mark.urls("tests.hintpartner.error_urls")
def test_a_crash_inside_a_session_keeps_the_apps_links(client: Client, admin_key: str) -> None:
    client.raise_request_exception = False
    response = client.get("/test-boom-in-session", {"session_key": admin_key})
    assert response.status_code == 500
    body = _body(response)
    assert f"/hint/core_page?session_key={admin_key}" in body
    _assert_nothing_echoed(body, "RuntimeError", "test-boom")


def test_the_500_page_needs_no_database_session_or_static_files(
    rf: RequestFactory, django_assert_num_queries, settings
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    settings.STATIC_ROOT = "/nonexistent-static-root"
    with django_assert_num_queries(0):
        response = views.server_error(rf.get("/hint/core_page", {"session_key": FORGED_KEY}))
    assert response.status_code == 500
    assert "Something went wrong on our side" in _body(response)
    _assert_nothing_echoed(_body(response), FORGED_KEY)


@pytest.mark.urls("tests.hintpartner.error_urls")
def test_the_500_pages_own_styles_are_allowed_by_the_content_security_policy(
    client: Client,
) -> None:
    client.raise_request_exception = False
    response = client.get("/test-boom")
    assert response.status_code == 500
    policy = response["Content-Security-Policy"]
    style_src = next(d for d in policy.split(";") if d.strip().startswith("style-src"))
    nonce = style_src.split("'nonce-")[1].split("'")[0]
    assert f'<style nonce="{nonce}">' in _body(response)
    assert "'unsafe-inline'" not in policy
