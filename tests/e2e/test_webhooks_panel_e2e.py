"""Through the sandbox: Hint posts to a wrong address, the delivery fails, and the settings'
webhooks panel shows it (to this practice only); "Register again" points Hint back at the app,
and Hint's next try arrives."""

import pytest
import requests

from tests.e2e.live import PRACTICE_A, PRACTICE_B

pytestmark = pytest.mark.e2e


def _key(url: str) -> str:
    return url.split("session_key=", 1)[1].split("&", 1)[0]


def _get(stack, key: str, path: str, htmx: bool = False) -> str:
    headers = {"X-Hint-Session-Key": key, **({"HX-Request": "true"} if htmx else {})}
    response = requests.get(stack.app_url + path, headers=headers, timeout=30)
    assert response.status_code == 200, response.status_code
    return response.text


def _endpoints(stack) -> str:
    return f"{stack.sandbox_url}/api/partner/webhook_endpoints"


def test_a_failed_delivery_shows_on_the_panel_and_register_again_fixes_it(live_stack):
    stack = live_stack
    stack.install(PRACTICE_A)
    stack.install(PRACTICE_B)
    admin = _key(stack.handshake(PRACTICE_A, "admin", "settings"))
    outsider = _key(stack.handshake(PRACTICE_B, "admin", "settings"))
    ours = f"{stack.app_url}/hint/webhooks"
    stack.wait_for(lambda: all(e["status"] != "pending" for e in stack.events()), timeout=30)
    partner = stack.partner()
    # Hint is told to post somewhere the app does not receive (a 4xx there).
    wrong = partner.post(
        _endpoints(stack), json={"webhook_url": f"{stack.app_url}/hint/webhooks-old"}, timeout=10
    )
    assert wrong.status_code == 201
    try:
        event = stack.trigger(PRACTICE_A, "update", fields={"address_city": "Lostville"})

        def panel_shows_the_failure() -> str:
            text = _get(stack, admin, "/hint/webhooks/hint", htmx=True)
            return text if "answered 4" in text else ""

        hint_side = stack.wait_for(panel_shows_the_failure, timeout=30)
        assert "patient.updated" in hint_side
        assert f"{stack.app_url}/hint/webhooks-old" in hint_side
        assert 'badge error">not this app' in hint_side
        assert "Changes made in Hint do not reach this app" in hint_side
        # Partner-wide at Hint, but practice B is not shown practice A's failed delivery.
        assert "answered 4" not in _get(stack, outsider, "/hint/webhooks/hint", htmx=True)

        registered = requests.post(
            stack.app_url + "/hint/webhooks/hint/register",
            data={"session_key": admin},
            timeout=30,
        )
        assert registered.status_code == 200  # after the 303
        assert "Registered: Hint now sends updates to this app." in registered.text
        assert 'badge success">this app' in registered.text
        assert partner.get(_endpoints(stack), timeout=10).json()[0]["webhook_url"] == ours

        # Hint's next try goes to the app: the event arrives and the panel shows its type.
        def arrived() -> bool:
            return any(
                e["id"] == event["event_id"] and e["status"] == "delivered" for e in stack.events()
            )

        stack.wait_for(arrived, timeout=30)
        panel = _get(stack, admin, "/hint/webhooks/panel", htmx=True)
        assert "Last update of each type" in panel and "<td>patient.updated</td>" in panel
    finally:
        current = partner.get(_endpoints(stack), timeout=10).json()
        if not current or current[0]["webhook_url"] != ours:
            partner.post(_endpoints(stack), json={"webhook_url": ours}, timeout=10)
