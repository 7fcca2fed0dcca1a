"""Installations, code exchanges and the Partner API over real HTTP."""

import pytest
import requests

from tests.e2e.live import PRACTICE_B

pytestmark = pytest.mark.e2e


def test_install_posts_a_one_time_code_to_the_apps_connect_route(sandbox, receiver):
    sandbox.uninstall(PRACTICE_B)
    answer = sandbox.control("install", {"practice": PRACTICE_B, "mode": "partner_activate"})
    assert answer.status_code == 201
    code = answer.json()["code"]
    posted = receiver.to(f"/hint/connect/{code}")
    assert [r.method for r in posted] == ["POST"]

    partner = sandbox.partner()
    exchanged = partner.post(
        f"{sandbox.sandbox_url}/api/partner/installations/connect", json={"code": code}
    )
    assert exchanged.status_code == 200
    installation = exchanged.json()
    assert installation["status"] == "pending"
    assert installation["practice"]["id"] == PRACTICE_B
    token = installation["api_keys"][0]["token"]
    again = partner.post(
        f"{sandbox.sandbox_url}/api/partner/installations/connect", json={"code": code}
    )
    assert again.status_code == 422  # one-time

    pending = partner.get(
        f"{sandbox.sandbox_url}/api/partner/installations", params={"status": "pending"}
    ).json()
    assert installation["id"] in {i["id"] for i in pending}
    patients_url = f"{sandbox.sandbox_url}/api/provider/patients"
    assert (
        requests.get(patients_url, headers={"Authorization": f"Bearer {token}"}).status_code == 403
    )

    activated = partner.post(
        f"{sandbox.sandbox_url}/api/partner/installations/{installation['id']}/activate"
    )
    assert activated.json()["status"] == "active"
    assert (
        requests.get(patients_url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )

    sandbox.uninstall(PRACTICE_B)
    assert (
        requests.get(patients_url, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    deactivated = sandbox.events("integration.deactivated")
    assert deactivated and deactivated[0]["practice_id"] == PRACTICE_B


def test_the_older_oauth_exchange_answers_an_access_token(sandbox):
    sandbox.uninstall(PRACTICE_B)
    code = sandbox.control(
        "install", {"practice": PRACTICE_B, "mode": "instant", "post_code": False}
    ).json()["code"]
    answer = sandbox.partner().post(
        f"{sandbox.sandbox_url}/api/oauth/tokens",
        json={"grant_type": "authorization_code", "code": code},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "connected"
    assert body["access_token"] == body["api_keys"][0]["token"]


def test_connect_with_activate_false_leaves_the_installation_pending(sandbox):
    sandbox.uninstall(PRACTICE_B)
    code = sandbox.control(
        "install", {"practice": PRACTICE_B, "mode": "instant", "post_code": False}
    ).json()["code"]
    answer = sandbox.partner().post(
        f"{sandbox.sandbox_url}/api/partner/installations/connect",
        json={"code": code, "activate": False},
    )
    assert answer.json()["status"] == "pending"


def test_the_partner_api_refuses_other_keys(sandbox):
    url = f"{sandbox.sandbox_url}/api/partner/installations"
    assert requests.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    token = sandbox.install("pra-sbx-maple")
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_bad_code_is_refused(sandbox):
    answer = sandbox.partner().post(
        f"{sandbox.sandbox_url}/api/partner/installations/connect", json={"code": "made-up"}
    )
    assert answer.status_code == 422
    assert answer.json()["status"] == 422


def test_webhook_endpoints_and_event_types_are_listed(sandbox):
    partner = sandbox.partner()
    types = partner.get(f"{sandbox.sandbox_url}/api/partner/webhook_events").json()
    assert {"type": "patient.updated"} in types
    listed = partner.get(f"{sandbox.sandbox_url}/api/partner/webhook_endpoints")
    assert listed.status_code == 200 and isinstance(listed.json(), list)
    refused = partner.post(
        f"{sandbox.sandbox_url}/api/partner/webhook_endpoints", json={"webhook_url": "ftp://x"}
    )
    assert refused.status_code == 422
