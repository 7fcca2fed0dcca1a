"""The webhook admin pages: administer only, one practice's events, replay one or all."""

from typing import Any

import pytest
from django.test import Client, TestCase
from django.urls import reverse

from handshake.models import Practice
from sync.models import Patient
from tests.webhooks.conftest import deliver, deliver_and_dispatch, load_event, patient_event
from webhooks import handlers, inbox
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_event(client: Client, practice_a: Practice, monkeypatch: pytest.MonkeyPatch) -> Any:
    def broken(event: WebhookEvent) -> None:
        raise RuntimeError("mirror unavailable")

    real = handlers.HANDLERS["patient.updated"]
    monkeypatch.setitem(handlers.HANDLERS, "patient.updated", broken)
    deliver_and_dispatch(client, patient_event(first_name="Replay", last_name="Me"))
    monkeypatch.setitem(handlers.HANDLERS, "patient.updated", real)
    return WebhookEvent.objects.get(status="failed")


def _get(client: Client, name: str, key: str, *args: Any, **query: Any) -> Any:
    return client.get(reverse(name, args=args), {"session_key": key, **query})


def _post(client: Client, name: str, key: str, *args: Any) -> Any:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse(name, args=args), {"session_key": key})


def test_the_events_page_lists_the_practices_events_with_filters(
    client: Client, admin_key: str, failed_event: WebhookEvent
) -> None:
    deliver_and_dispatch(client, load_event("membership_updated"))
    page = _get(client, "webhooks:events", admin_key)
    assert page.status_code == 200
    html = page.content.decode()
    assert "membership.updated" in html and "mirror unavailable" in html
    failed_only = _get(client, "webhooks:events", admin_key, status="failed").content.decode()
    assert "patient.updated" in failed_only and "membership.updated</td>" not in failed_only
    by_type = _get(client, "webhooks:events", admin_key, type="membership.updated")
    assert "mirror unavailable" not in by_type.content.decode()


def test_the_events_page_ignores_an_unknown_status_filter(
    client: Client, admin_key: str, failed_event: WebhookEvent
) -> None:
    page = _get(client, "webhooks:events", admin_key, status="bogus", page="x")
    assert page.status_code == 200
    assert "patient.updated" in page.content.decode()


def test_the_htmx_filter_answers_only_the_table(
    client: Client, admin_key: str, failed_event: WebhookEvent
) -> None:
    page = client.get(
        reverse("webhooks:events"),
        {"status": "failed"},
        HTTP_HX_REQUEST="true",
        HTTP_X_HINT_SESSION_KEY=admin_key,
    )
    assert page.status_code == 200
    assert b"<html" not in page.content and b"patient.updated" in page.content


def test_the_event_page_shows_what_happened_without_ids(
    client: Client, admin_key: str, failed_event: WebhookEvent
) -> None:
    page = _get(client, "webhooks:event", admin_key, failed_event.pk)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Replay Me" in html and "mirror unavailable" in html
    assert failed_event.event_id not in html and "pat-8Hs2LwQ4" not in html


def test_an_admin_replays_one_failed_event(
    client: Client, admin_key: str, failed_event: WebhookEvent
) -> None:
    response = _post(client, "webhooks:event-replay", admin_key, failed_event.pk)
    assert response.status_code == 303
    assert admin_key in response["Location"]
    failed_event.refresh_from_db()
    assert failed_event.status == WebhookEvent.Status.PROCESSED
    assert Patient.objects.get().first_name == "Replay"


def test_an_admin_replays_all_failed_events(
    client: Client, admin_key: str, failed_event: WebhookEvent
) -> None:
    response = _post(client, "webhooks:replay-failed", admin_key)
    assert response.status_code == 303
    assert "replayed=1" in response["Location"]
    assert not WebhookEvent.objects.failed().exists()


def test_the_settings_panel_counts_failed_events(
    client: Client, admin_key: str, failed_event: WebhookEvent
) -> None:
    page = _get(client, "webhooks:panel", admin_key)
    assert page.status_code == 200
    assert "1 update could not be applied" in page.content.decode()


def test_the_panel_counts_what_arrived_before_the_worker_sorts_it_and_only_the_practices(
    client: Client, admin_key: str, outsider_key: str
) -> None:
    page = _get(client, "webhooks:panel", admin_key).content.decode()
    assert "has not sent any update yet" in page
    deliver(client, patient_event(practice_id="pra-aaaa"))  # the worker is not running
    deliver(client, patient_event(practice_id="pra-aaaa"))
    page = _get(client, "webhooks:panel", admin_key).content.decode()
    assert "2 waiting to be applied" in page
    assert "Hint last sent an update" in page
    other = _get(client, "webhooks:panel", outsider_key).content.decode()
    assert "waiting to be applied" not in other and "has not sent any update yet" in other
    inbox.received_sort()  # sorted: still waiting, now as the practice's pending events
    page = _get(client, "webhooks:panel", admin_key).content.decode()
    assert "2 waiting to be applied" in page


@pytest.mark.parametrize(
    ("name", "method", "with_pk"),
    [
        ("webhooks:panel", "get", False),
        ("webhooks:events", "get", False),
        ("webhooks:event", "get", True),
        ("webhooks:event-replay", "post", True),
        ("webhooks:replay-failed", "post", False),
    ],
)
def test_every_admin_page_refuses_no_session_a_staff_user_and_the_wrong_method(
    client: Client,
    staff_key: str,
    clinician_key: str,
    failed_event: WebhookEvent,
    name: str,
    method: str,
    with_pk: bool,
) -> None:
    url = reverse(name, args=[failed_event.pk] if with_pk else [])
    call = getattr(client, method)
    wrong = client.post if method == "get" else client.get
    assert call(url).status_code == 401
    assert call(url, {"session_key": staff_key}).status_code == 403
    assert call(url, {"session_key": clinician_key}).status_code == 403
    assert wrong(url, {"session_key": staff_key}).status_code == 405
    failed_event.refresh_from_db()
    assert failed_event.status == WebhookEvent.Status.FAILED


def test_another_practices_admin_cannot_see_or_replay_our_events(
    client: Client, outsider_key: str, failed_event: WebhookEvent
) -> None:
    assert _get(client, "webhooks:event", outsider_key, failed_event.pk).status_code == 404
    assert _post(client, "webhooks:event-replay", outsider_key, failed_event.pk).status_code == 404
    _post(client, "webhooks:replay-failed", outsider_key)
    listing = _get(client, "webhooks:events", outsider_key).content.decode()
    assert "patient.updated" not in listing
    failed_event.refresh_from_db()
    assert failed_event.status == WebhookEvent.Status.FAILED
