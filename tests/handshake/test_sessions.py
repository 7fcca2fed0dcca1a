"""Sessions without cookies: resolving the key, expiry, roles and permissions."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.test import Client, RequestFactory
from django.utils import timezone

from handshake import services
from handshake.decorators import hint_session
from handshake.models import HintSession, PracticeUser
from handshake.services import key_hash
from hintpartner.tasks import Throttle
from tests.conftest import open_session

pytestmark = pytest.mark.django_db


def test_a_session_key_opens_the_core_page_from_the_query(client: Client, admin_key: str) -> None:
    response = client.get("/hint/core_page", {"session_key": admin_key})
    assert response.status_code == 200
    assert b"Practice A" in response.content


def test_a_session_key_opens_the_core_page_from_the_header(client: Client, staff_key: str) -> None:
    response = client.get("/hint/core_page", HTTP_X_HINT_SESSION_KEY=staff_key)
    assert response.status_code == 200


def test_no_key_gets_the_reopen_page(client: Client) -> None:
    response = client.get("/hint/core_page")
    assert response.status_code == 401
    assert b"open this app again from Hint" in response.content


def test_an_unknown_key_gets_the_reopen_page(client: Client, admin_key: str) -> None:
    response = client.get("/hint/core_page", {"session_key": admin_key + "x"})
    assert response.status_code == 401


def test_an_idle_session_gets_the_reopen_page(client: Client, admin_key: str) -> None:
    HintSession.objects.filter(key_hash=key_hash(admin_key)).update(
        last_seen_at=timezone.now() - timedelta(hours=2, seconds=1)
    )
    response = client.get("/hint/core_page", {"session_key": admin_key})
    assert response.status_code == 401
    assert b"open this app again from Hint" in response.content


def test_a_session_past_its_absolute_expiry_gets_the_reopen_page(
    client: Client, admin_key: str
) -> None:
    HintSession.objects.filter(key_hash=key_hash(admin_key)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert client.get("/hint/core_page", {"session_key": admin_key}).status_code == 401


def test_only_a_hash_of_the_key_is_stored(admin_key: str) -> None:
    session = HintSession.objects.get()
    assert session.key_hash == key_hash(admin_key)
    assert admin_key not in session.key_hash
    lifetime = session.expires_at - session.created_at
    assert abs(lifetime - timedelta(hours=12)) < timedelta(seconds=5)


def test_empty_roles_get_the_denial_page(client: Client, practice_a) -> None:
    key = open_session(practice_a, [])
    response = client.get("/hint/core_page", {"session_key": key})
    assert response.status_code == 403
    assert b"no role" in response.content
    assert PracticeUser.objects.get().roles == []


def test_sessions_past_their_absolute_expiry_are_purged_by_the_worker_sweep(
    practice_a, admin_key: str, monkeypatch
) -> None:
    HintSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    open_session(practice_a, ["staff"])
    assert HintSession.objects.count() == 2  # a handshake no longer deletes anything
    monkeypatch.setattr(services, "_expired_due", Throttle(0))
    assert "handshake.services.expired_sweep" in settings.WORKER_DISPATCHERS
    services.expired_sweep()
    assert not HintSession.objects.filter(key_hash=key_hash(admin_key)).exists()
    assert HintSession.objects.count() == 1


def test_a_view_behind_the_decorator_cannot_set_a_cookie(admin_key: str) -> None:
    @hint_session()
    def view(request) -> HttpResponse:
        get_token(request)  # what {% csrf_token %} does
        request.session["x"] = 1
        response = HttpResponse("ok")
        response.set_cookie("tracker", "1")
        return response

    request = RequestFactory().get("/x", {"session_key": admin_key})
    chain = SessionMiddleware(CsrfViewMiddleware(view))
    response = chain(request)
    assert response.status_code == 200
    assert not response.cookies
