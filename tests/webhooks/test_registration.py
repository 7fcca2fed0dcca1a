"""The webhooks panel's view of Hint: the endpoint Hint holds (this app's or not), Hint's failed
deliveries (this practice's only), the last update of each type, and "Register again"
(idempotent, audited); `manage.py hint_webhook_register` uses the same service."""

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import responses as responses_lib
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from handshake.models import AuditEntry, Practice
from tests.conftest import open_session
from webhooks import registration
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db

# Partner API answers (partner-wide, not webhook events: tests/data/webhooks holds those).
DATA = Path(__file__).resolve().parent.parent / "data" / "partner"
OURS = "https://partner.test/hint/webhooks"  # APP_URL (test settings) + /hint/webhooks


def _data(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text())


@pytest.fixture
def endpoints_url(hint_url: str) -> str:
    return hint_url + "/api/partner/webhook_endpoints"


@pytest.fixture
def requests_url(hint_url: str) -> str:
    return hint_url + "/api/partner/webhook_requests"


def _hint_holds(mocked_hint: responses_lib.RequestsMock, url: str, endpoint: str) -> None:
    mocked_hint.get(url, json=[{"id": "whe-1", "webhook_url": endpoint}])


def _page(client: Client, key: str, **query: str) -> Any:
    return client.get(reverse("webhooks:hint"), {"session_key": key, **query})


def _register(client: Client, key: str) -> Any:
    return client.post(reverse("webhooks:register"), {"session_key": key})


def _sent(mocked_hint: responses_lib.RequestsMock, method: str) -> list[Any]:
    return [c.request for c in mocked_hint.calls if c.request.method == method]


# --- what Hint holds ------------------------------------------------------------------------


def test_the_page_shows_hint_sends_updates_to_this_app(
    client: Client, admin_key: str, mocked_hint, endpoints_url: str, requests_url: str
) -> None:
    _hint_holds(mocked_hint, endpoints_url, OURS + "/")  # a trailing slash is the same URL
    mocked_hint.get(requests_url, json=[])
    page = _page(client, admin_key)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Hint sends updates to" in html and 'badge success">this app' in html
    assert "do not reach this app" not in html
    assert "None: Hint lists no failed delivery for this practice." in html
    # Partner-wide data: read with the partner key, never a practice's token.
    for call in mocked_hint.calls:
        assert call.request.headers["Authorization"] == f"Bearer {settings.HINT_API_KEY}"


def test_the_page_says_when_hint_sends_updates_elsewhere(
    client: Client, admin_key: str, mocked_hint, endpoints_url: str, requests_url: str
) -> None:
    # Two endpoints: the newest (by created_at) is another deployment's.
    mocked_hint.get(endpoints_url, json=_data("webhook_endpoints"))
    mocked_hint.get(requests_url, json=[])
    html = _page(client, admin_key).content.decode()
    assert "https://old.partner.test/hint/webhooks" in html
    assert 'badge error">not this app' in html
    assert f"This app receives them at</dt><dd>{OURS}" in html
    assert "Changes made in Hint do not reach this app. Register again" in html


def test_the_page_says_when_no_endpoint_is_registered(
    client: Client, admin_key: str, mocked_hint, endpoints_url: str, requests_url: str
) -> None:
    mocked_hint.get(endpoints_url, json={"data": []})
    mocked_hint.get(requests_url, json=[])
    html = _page(client, admin_key).content.decode()
    assert "No address is registered with Hint." in html
    assert "Register again" in html


def test_it_shows_this_practices_failed_deliveries_with_their_error_and_no_other_practices(
    client: Client, admin_key: str, mocked_hint, endpoints_url: str, requests_url: str
) -> None:
    _hint_holds(mocked_hint, endpoints_url, OURS)
    mocked_hint.get(requests_url, json=_data("webhook_requests"))
    html = _page(client, admin_key).content.decode()
    assert "Only this practice's deliveries are shown" in html
    assert "patient.updated" in html and "answered 500" in html
    assert "patient.destroyed" in html and "answered 401" in html  # practice named in `event`
    # Names no practice: shown, and marked as such.
    assert "membership.updated" in html and "answered 504: no answer within 10 s" in html
    assert 'badge">any practice' in html
    # Practice B's delivery never shows on practice A's page.
    assert "patient.created" not in html and "practice B" not in html
    # Newest first.
    assert html.index("patient.updated") < html.index("patient.destroyed")
    assert html.index("patient.destroyed") < html.index("membership.updated")


def test_deliveries_naming_another_practice_are_counted_never_kept(
    practice_a: Practice, mocked_hint, endpoints_url: str, requests_url: str
) -> None:
    _hint_holds(mocked_hint, endpoints_url, OURS)
    mocked_hint.get(requests_url, json=_data("webhook_requests"))
    side = registration.hint_side_read(practice=practice_a)
    assert side.other_practices == 1
    assert {d.practice_id for d in side.deliveries} == {"pra-aaaa", ""}
    assert side.matches and side.unattributed


def test_practice_b_sees_only_its_own_failed_delivery(
    client: Client, outsider_key: str, mocked_hint, endpoints_url: str, requests_url: str
) -> None:
    _hint_holds(mocked_hint, endpoints_url, OURS)
    mocked_hint.get(requests_url, json=_data("webhook_requests"))
    html = _page(client, outsider_key).content.decode()
    assert "secret of practice B&#x27;s delivery" in html
    assert "patient.updated" not in html and "patient.destroyed" not in html


@pytest.mark.parametrize("wrapper", ["data", "webhook_requests", "items"])
def test_it_reads_a_wrapped_list_of_failed_deliveries(
    client: Client,
    admin_key: str,
    mocked_hint,
    endpoints_url: str,
    requests_url: str,
    wrapper: str,
) -> None:
    _hint_holds(mocked_hint, endpoints_url, OURS)
    mocked_hint.get(requests_url, json={wrapper: _data("webhook_requests")[:1]})
    html = _page(client, admin_key).content.decode()
    assert "patient.updated" in html and "answered 500" in html


def test_a_delivery_is_read_whichever_names_hint_uses() -> None:
    body = json.dumps({"type": "patient.inactive", "practice_id": "pra-x"})
    delivery = registration.delivery_from_hint(
        {"request_body": body, "response_status": 502, "failure_reason": "bad gateway"}
    )
    assert (delivery.event_type, delivery.practice_id) == ("patient.inactive", "pra-x")
    assert delivery.what == "answered 502: bad gateway"
    assert registration.delivery_from_hint({}).what == "no reason given"
    assert registration.delivery_from_hint({"status": "pending"}).status is None
    assert registration.delivery_from_hint({"type": {"odd": 1}}).event_type == ""


@pytest.mark.parametrize(
    ("answer", "sentence"),
    [
        ({"status": 401, "json": {"message": "bad key"}}, "Hint refused this app's partner key"),
        ({"status": 500, "json": {"message": "boom"}}, "Hint did not answer. Try again"),
        ({"body": requests.exceptions.ReadTimeout()}, "Hint did not answer. Try again"),
        ({"status": 200, "body": "not json"}, "Hint answered with something this app cannot"),
    ],
    ids=["401", "500", "timeout", "not json"],
)
def test_hint_failing_gives_a_sentence_on_the_page_never_a_500(
    client: Client,
    admin_key: str,
    mocked_hint,
    endpoints_url: str,
    requests_url: str,
    answer: dict[str, Any],
    sentence: str,
) -> None:
    mocked_hint.get(endpoints_url, **answer)
    mocked_hint.get(requests_url, **answer)
    page = client.get(
        reverse("webhooks:hint"), {"session_key": admin_key}, headers={"HX-Request": "true"}
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count(sentence.replace("'", "&#x27;")) == 2  # the endpoint, the deliveries
    assert "bad key" not in html and "boom" not in html
    assert "<html" not in html  # the panel's part, for htmx


# --- the last update of each type -----------------------------------------------------------


def _event(practice: Practice, event_id: str, event_type: str) -> WebhookEvent:
    return WebhookEvent.objects.create(
        practice=practice, event_id=event_id, type=event_type, status="processed"
    )


def test_the_panel_lists_the_last_update_of_each_type(
    client: Client, practice_a: Practice, admin_key: str
) -> None:
    for n in range(3):
        _event(practice_a, f"evt-u{n}", "patient.updated")
    _event(practice_a, "evt-c1", "patient.created")
    html = client.get(reverse("webhooks:panel"), {"session_key": admin_key}).content.decode()
    assert "Last update of each type" in html
    assert "<td>patient.updated</td>" in html and "<td>patient.created</td>" in html
    assert '<td class="optional">3</td>' in html
    # Hint's side loads after, by htmx.
    assert 'hx-get="/hint/webhooks/hint?session_key=' in html


def test_the_last_update_of_each_type_is_one_grouped_query(
    practice_a: Practice, django_assert_num_queries: Any
) -> None:
    for n in range(3):
        _event(practice_a, f"evt-u{n}", "patient.updated")
    _event(practice_a, "evt-c1", "patient.created")
    with django_assert_num_queries(1):
        rows = registration.last_events_by_type(practice=practice_a)
    assert {(r["type"], r["count"]) for r in rows} == {
        ("patient.updated", 3),
        ("patient.created", 1),
    }


def test_practice_b_cannot_see_practice_as_last_updates(
    client: Client, practice_a: Practice, outsider_key: str
) -> None:
    _event(practice_a, "evt-a-only", "integration.activated")
    html = client.get(reverse("webhooks:panel"), {"session_key": outsider_key}).content.decode()
    assert "integration.activated" not in html
    assert "Last update of each type" not in html


# --- register again -------------------------------------------------------------------------


def test_register_again_registers_this_app_when_hint_sends_elsewhere_and_is_audited(
    client: Client, practice_a: Practice, admin_key: str, mocked_hint, endpoints_url: str
) -> None:
    _hint_holds(mocked_hint, endpoints_url, "https://old.partner.test/hint/webhooks")
    mocked_hint.post(endpoints_url, json={"id": "whe-2", "webhook_url": OURS}, status=201)
    response = _register(client, admin_key)
    assert response.status_code == 303
    assert response["Location"].startswith(reverse("webhooks:hint") + "?session_key=")
    assert response["Location"].endswith("&registered=new")
    posted = _sent(mocked_hint, "POST")
    assert [json.loads(r.body) for r in posted] == [{"webhook_url": OURS}]
    assert posted[0].headers["Hint-Version"] == "marketplace_endpoints"
    entry = AuditEntry.objects.get(action="webhook.registered")
    assert entry.practice_id == practice_a.pk and entry.user is not None
    assert entry.detail == f"{OURS} (registered)"


def test_register_again_sends_nothing_when_hint_already_sends_here(
    client: Client, admin_key: str, mocked_hint, endpoints_url: str
) -> None:
    _hint_holds(mocked_hint, endpoints_url, OURS)
    first = _register(client, admin_key)
    second = _register(client, admin_key)
    assert first["Location"].endswith("&registered=same")
    assert second["Location"].endswith("&registered=same")
    assert _sent(mocked_hint, "POST") == []
    assert AuditEntry.objects.filter(action="webhook.registered").count() == 2


def test_the_page_after_registering_says_so(
    client: Client, admin_key: str, mocked_hint, endpoints_url: str, requests_url: str
) -> None:
    _hint_holds(mocked_hint, endpoints_url, OURS)
    mocked_hint.get(requests_url, json=[])
    html = _page(client, admin_key, registered="new").content.decode()
    assert "Registered: Hint now sends updates to this app." in html
    assert "Registered:" not in _page(client, admin_key, registered="<b>").content.decode()


@pytest.mark.parametrize(
    ("answer", "status", "sentence"),
    [
        ({"status": 422, "json": {"message": "Webhook url is invalid"}}, 502, "refused the change"),
        ({"status": 401, "json": {"message": "nope"}}, 502, "partner key"),
        ({"status": 503}, 503, "Hint did not answer"),
        ({"body": requests.exceptions.ReadTimeout()}, 503, "Hint did not answer"),
    ],
    ids=["422", "401", "503", "timeout"],
)
def test_register_again_failing_says_why_and_records_nothing(
    client: Client,
    admin_key: str,
    mocked_hint,
    endpoints_url: str,
    answer: dict[str, Any],
    status: int,
    sentence: str,
) -> None:
    _hint_holds(mocked_hint, endpoints_url, "https://old.partner.test/hint/webhooks")
    mocked_hint.post(endpoints_url, **answer)
    response = _register(client, admin_key)
    assert response.status_code == status
    html = response.content.decode()
    assert "Not registered." in html and sentence in html
    assert f"This app receives updates at</dt><dd>{OURS}" in html
    assert not AuditEntry.objects.filter(action="webhook.registered").exists()


def test_support_sees_the_delivery_page_but_cannot_register(
    client: Client,
    practice_a: Practice,
    mocked_hint,
    endpoints_url: str,
    requests_url: str,
) -> None:
    support = open_session(practice_a, [], access_context="platform_support")
    _hint_holds(mocked_hint, endpoints_url, "https://old.partner.test/hint/webhooks")
    mocked_hint.get(requests_url, json=[])
    html = _page(client, support).content.decode()
    assert '<button type="submit" disabled>Register again</button>' in html
    calls = len(mocked_hint.calls)
    assert _register(client, support).status_code == 403
    assert len(mocked_hint.calls) == calls
    assert not AuditEntry.objects.filter(action="webhook.registered").exists()


def test_register_again_takes_only_post(client: Client, admin_key: str, mocked_hint) -> None:
    assert client.get(reverse("webhooks:register"), {"session_key": admin_key}).status_code == 405
    assert not mocked_hint.calls


# --- manage.py hint_webhook_register (the same service) ---------------------------------------


def test_the_command_registers_and_lists_types(
    mocked_hint, hint_url: str, endpoints_url: str, capsys
) -> None:
    mocked_hint.get(endpoints_url, json=[])
    mocked_hint.post(endpoints_url, json={"id": "we-1", "webhook_url": OURS})
    mocked_hint.get(
        hint_url + "/api/partner/webhook_events",
        json=["patient.created", {"type": "integration.activated"}],
    )
    call_command("hint_webhook_register", "--url", OURS)
    out = capsys.readouterr().out
    assert f"Registered webhook endpoint: {OURS}" in out
    assert "patient.created" in out and "integration.activated" in out
    assert [json.loads(r.body) for r in _sent(mocked_hint, "POST")] == [{"webhook_url": OURS}]
    assert not AuditEntry.objects.exists()  # no practice asked: partner-wide, by the operator


def test_the_command_registers_this_deployments_url_by_default_and_only_once(
    mocked_hint, hint_url: str, endpoints_url: str, capsys
) -> None:
    _hint_holds(mocked_hint, endpoints_url, OURS)
    mocked_hint.get(hint_url + "/api/partner/webhook_events", json=[])
    call_command("hint_webhook_register")
    assert f"Hint already posts to {OURS}: nothing to change." in capsys.readouterr().out
    assert _sent(mocked_hint, "POST") == []


def test_the_command_refuses_a_bad_url(mocked_hint) -> None:
    with pytest.raises(CommandError, match="http"):
        call_command("hint_webhook_register", "--url", "not a url")
    assert not mocked_hint.calls


def test_the_command_reports_hint_refusing(mocked_hint, endpoints_url: str) -> None:
    mocked_hint.get(endpoints_url, json=[])
    mocked_hint.post(endpoints_url, status=422, json={"message": "x"})
    with pytest.raises(CommandError, match="did not register"):
        call_command("hint_webhook_register", "--url", OURS)
