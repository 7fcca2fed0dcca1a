"""What the sandbox sends to the app: signed handshakes and signed, retried webhooks."""

import pytest

from hintpartner.hint import signing
from tests.e2e.live import PRACTICE_A, USERS

pytestmark = pytest.mark.e2e


def test_a_handshake_is_signed_and_carries_hints_full_payload(sandbox, receiver):
    patient = sandbox.patients(PRACTICE_A, limit=1)[0]
    url = sandbox.handshake(PRACTICE_A, "clinician", "clinical_chart", patient_id=patient["id"])
    assert url.startswith(f"{receiver.url}/hint/clinical_chart?session_key=key-")
    sent = receiver.to("/hint/handshake")[-1]
    assert signing.verify(
        sent.body, sent.headers["X-Hint-Signature"], sandbox.secrets["HINT_WEBHOOK_SECRET"]
    )
    payload = sent.json()
    assert payload["user"]["id"] == USERS["clinician"]
    assert payload["user"]["partner_roles"] == ["clinician"]
    assert payload["practice"]["id"] == PRACTICE_A
    assert payload["patient"] == {"id": patient["id"]}
    assert payload["access_context"] == "standard"
    assert {"timestamp", "integration", "access_token", "browser_allow_list"} <= set(payload)


def test_each_handshake_mints_a_session_token_the_provider_api_accepts(sandbox, receiver):
    sandbox.install(PRACTICE_A)
    sandbox.handshake(PRACTICE_A, "staff", "core_page")
    first = receiver.to("/hint/handshake")[-1].json()["access_token"]
    sandbox.handshake(PRACTICE_A, "staff", "core_page")
    second = receiver.to("/hint/handshake")[-1].json()["access_token"]
    assert first != second
    response = sandbox.provider(PRACTICE_A)
    response.headers["Authorization"] = f"Bearer {second}"
    assert response.get(f"{sandbox.sandbox_url}/api/provider/patients").status_code == 200


def test_a_support_user_opens_with_the_platform_support_context(sandbox, receiver):
    sandbox.handshake(PRACTICE_A, "support", "settings")
    payload = receiver.to("/hint/handshake")[-1].json()
    assert payload["access_context"] == "platform_support"
    assert "patient" not in payload


def test_a_handshake_goes_to_the_url_registered_for_the_app(sandbox, receiver):
    def register(url: str) -> None:
        answer = sandbox.partner().patch(
            f"{sandbox.sandbox_url}/api/partner/app",
            json={"app": {"handshake_url": url}},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

    register(f"{receiver.url}/registered/handshake")
    try:
        before = len(receiver.to("/hint/handshake"))
        url = sandbox.handshake(PRACTICE_A, "staff", "core_page")
        sent = receiver.to("/registered/handshake")
        assert len(sent) == 1 and sent[0].json()["practice"]["id"] == PRACTICE_A
        assert len(receiver.to("/hint/handshake")) == before  # not the app's default path
        assert url.startswith(f"{receiver.url}/hint/core_page?session_key=key-")
    finally:
        register("")
    sandbox.handshake(PRACTICE_A, "staff", "core_page")  # none registered: the app's own path
    assert len(receiver.to("/hint/handshake")) == before + 1


def test_a_refused_handshake_is_reported_plainly(sandbox, receiver):
    receiver.statuses["/hint/handshake"].append(401)
    with pytest.raises(AssertionError, match="401"):
        sandbox.handshake(PRACTICE_A, "admin", "core_page")


def test_a_webhook_is_signed_for_the_apps_verifier_and_retried_after_a_500(sandbox, receiver):
    sandbox.install(PRACTICE_A)
    # Earlier events (integration.activated) must not take the 500 meant for ours.
    sandbox.wait_for(lambda: all(e["status"] != "pending" for e in sandbox.events()))
    receiver.statuses["/hint/webhooks"].extend([500])
    before = len(receiver.to("/hint/webhooks"))
    event = sandbox.trigger(PRACTICE_A, "update", fields={"address_city": "Golden"})

    def delivered() -> list:
        mine = [
            r for r in receiver.to("/hint/webhooks")[before:] if r.json()["id"] == event["event_id"]
        ]
        return mine if len(mine) >= 2 else []

    attempts = sandbox.wait_for(delivered, timeout=15)
    secret = sandbox.secrets["HINT_WEBHOOK_SECRET"]
    for attempt in attempts:
        assert signing.verify(attempt.body, attempt.headers["X-Hint-Signature"], secret)
    body = attempts[0].json()
    assert body["type"] == "patient.updated"
    assert body["practice_id"] == PRACTICE_A
    assert body["object"]["address_city"] == "Golden"
    assert body["id"].startswith("evt-") and body["created_at"]
    statuses = sandbox.wait_for(
        lambda: [
            e
            for e in sandbox.events()
            if e["id"] == event["event_id"] and e["status"] == "delivered"
        ]
    )[0]["attempts"]
    assert [a["status"] for a in statuses] == [500, 200]


def test_no_webhook_goes_to_a_practice_without_an_active_installation(sandbox):
    sandbox.uninstall("pra-sbx-riverside")
    event = sandbox.trigger("pra-sbx-riverside", "update")
    assert event["event_status"] == "skipped"
