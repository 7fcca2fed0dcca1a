"""The app and the sandbox together, over real HTTP, as in `make run`."""

import pytest
import requests

from tests.e2e.live import PRACTICE_A, PRACTICE_B

pytestmark = pytest.mark.e2e


def _state(stack, practice: str) -> dict:
    practices = requests.get(f"{stack.sandbox_url}/_sandbox/state", timeout=10).json()["practices"]
    return next(p for p in practices if p["id"] == practice)


def test_an_install_posts_a_code_that_the_app_exchanges_for_a_token_that_reads_patients(
    live_stack,
):
    live_stack.uninstall(PRACTICE_B)
    token = live_stack.install(PRACTICE_B)
    installation = _state(live_stack, PRACTICE_B)["installation"]
    assert installation["code_exchanged"], installation["connect_result"]
    assert "answered 200" in installation["connect_result"]
    response = requests.get(
        f"{live_stack.sandbox_url}/api/provider/patients",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "50"


@pytest.mark.parametrize(
    "surface", ["core_page", "settings", "clinical_chart", "clinical_interaction"]
)
def test_a_handshake_from_the_sandbox_yields_a_working_iframe_url(live_stack, surface):
    live_stack.install(PRACTICE_A)
    patient = live_stack.patients(PRACTICE_A, limit=1)[0]
    interaction = (
        live_stack.provider(PRACTICE_A)
        .post(
            f"{live_stack.sandbox_url}/api/provider/patients/{patient['id']}/interactions/partner",
            json={"status": "draft", "title": "E2E visit"},
            timeout=10,
        )
        .json()
    )
    url = live_stack.handshake(
        PRACTICE_A,
        "multi",
        surface,
        patient_id=patient["id"],
        interaction_id=interaction["id"],
    )
    assert url.startswith(f"{live_stack.app_url}/hint/{surface}?session_key=")
    page = requests.get(url, timeout=20)
    assert page.status_code == 200
    assert "X-Frame-Options" not in page.headers
    assert live_stack.sandbox_url in page.headers.get("Content-Security-Policy", "")


def test_a_surface_without_a_session_answers_401(live_stack):
    assert requests.get(f"{live_stack.app_url}/hint/core_page", timeout=10).status_code == 401


def test_the_apps_handshake_answers_cors_for_the_sandbox_in_localhost_mode(live_stack):
    response = requests.options(
        f"{live_stack.app_url}/hint/handshake",
        headers={
            "Origin": live_stack.sandbox_url,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-hint-signature",
        },
        timeout=10,
    )
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == live_stack.sandbox_url


def test_a_patient_change_in_the_sandbox_reaches_the_apps_webhook_receiver(live_stack):
    live_stack.install(PRACTICE_A)
    event = live_stack.trigger(PRACTICE_A, "update", fields={"address_city": "Lakewood"})

    def delivered() -> list:
        return [
            e
            for e in live_stack.events()
            if e["id"] == event["event_id"] and e["status"] == "delivered"
        ]

    attempts = live_stack.wait_for(delivered, timeout=20)[0]["attempts"]
    assert attempts[-1]["status"] in (200, 201, 202, 204)
    assert attempts[-1]["url"] == f"{live_stack.app_url}/hint/webhooks"
