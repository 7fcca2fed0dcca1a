"""The sandbox's `GET /api/partner/webhook_requests`: the deliveries the app did not answer 2xx,
newest first, each naming its event's practice (so the app can show a practice its own)."""

import pytest

from tests.e2e.live import PRACTICE_A

pytestmark = pytest.mark.e2e


def test_a_delivery_answered_500_is_listed_as_failed_with_its_practice(sandbox, receiver):
    sandbox.install(PRACTICE_A)
    sandbox.wait_for(lambda: all(e["status"] != "pending" for e in sandbox.events()))
    receiver.statuses["/hint/webhooks"].extend([500])
    event = sandbox.trigger(PRACTICE_A, "update", fields={"address_city": "Failton"})
    partner = sandbox.partner()
    url = f"{sandbox.sandbox_url}/api/partner/webhook_requests"

    def listed() -> list:
        return [
            r for r in partner.get(url, timeout=10).json() if r["event_id"] == event["event_id"]
        ]

    failed = sandbox.wait_for(listed, timeout=15)
    assert failed[0]["type"] == "patient.updated"
    assert failed[0]["practice_id"] == PRACTICE_A
    assert failed[0]["status"] == 500
    assert failed[0]["created_at"]

    # Delivered on the retry: the 2xx attempt is not a failed delivery.
    def delivered() -> bool:
        return any(
            e["id"] == event["event_id"] and e["status"] == "delivered" for e in sandbox.events()
        )

    sandbox.wait_for(delivered, timeout=15)
    assert len(listed()) == 1


def test_failed_deliveries_need_the_partner_key(sandbox):
    response = sandbox.provider(PRACTICE_A).get(
        f"{sandbox.sandbox_url}/api/partner/webhook_requests", timeout=10
    )
    assert response.status_code == 401
