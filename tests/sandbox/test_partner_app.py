"""The sandbox's partner endpoints for the app's registration, and the address-shape switch."""

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.live import PRACTICE_A

pytestmark = pytest.mark.e2e


def _api(sandbox: Any, path: str) -> str:
    return f"{sandbox.sandbox_url}/api/partner/{path}"


@pytest.mark.parametrize(
    "path", ["partner", "app", "app/anchors", "app/services", "webhook_endpoints"]
)
def test_every_registration_endpoint_wants_the_partner_key(sandbox, path):
    assert requests.get(_api(sandbox, path), timeout=10).status_code == 401
    assert sandbox.partner().get(_api(sandbox, path), timeout=10).status_code == 200


def test_the_partner_and_the_app_are_read_and_patched_wrapped(sandbox):
    partner = sandbox.partner()
    answer = partner.patch(
        _api(sandbox, "partner"),
        json={"partner": {"auth_type": "automatic_headless", "redirect_url": "https://a.test/x/"}},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert partner.get(_api(sandbox, "partner"), timeout=10).json()["partner"]["redirect_url"] == (
        "https://a.test/x/"
    )
    partner.patch(
        _api(sandbox, "app"), json={"app": {"handshake_url": "https://a.test/hs"}}, timeout=10
    )
    try:
        assert partner.get(_api(sandbox, "app"), timeout=10).json()["app"]["handshake_url"] == (
            "https://a.test/hs"
        )
    finally:  # the sandbox posts handshakes where the app is registered: put the app back
        partner.patch(_api(sandbox, "app"), json={"app": {"handshake_url": ""}}, timeout=10)


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        ("partner", {"partner": {"handshake_url": "https://a.test"}}, "handshake_url"),
        ("app", {"app": {"redirect_url": "https://a.test"}}, "redirect_url"),
        ("app/anchors", {"anchor": {"type": "settings", "url": "https://a.test"}}, "url"),
    ],
)
def test_the_strict_sandbox_refuses_a_field_hint_does_not_name(sandbox, path, body, named):
    method = "post" if path == "app/anchors" else "patch"
    answer = getattr(sandbox.partner(), method)(_api(sandbox, path), json=body, timeout=10)

    assert answer.status_code == 422
    assert named in answer.json()["message"]


def test_an_unwrapped_body_or_an_unknown_auth_type_is_refused(sandbox):
    partner = sandbox.partner()
    bare = partner.patch(_api(sandbox, "app"), json={"handshake_url": "https://a"}, timeout=10)
    wrong = partner.patch(
        _api(sandbox, "partner"), json={"partner": {"auth_type": "magic"}}, timeout=10
    )

    assert bare.status_code == 422 and wrong.status_code == 422


def test_one_anchor_per_surface_a_second_post_updates_it(sandbox):
    partner = sandbox.partner()
    url = _api(sandbox, "app/anchors")
    first = partner.post(
        url, json={"anchor": {"type": "settings", "source_url": "https://a.test/1"}}, timeout=10
    )
    second = partner.post(
        url, json={"anchor": {"type": "settings", "source_url": "https://a.test/2"}}, timeout=10
    )
    listed = [a for a in partner.get(url, timeout=10).json() if a["type"] == "settings"]

    assert first.status_code in (200, 201) and second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert [a["source_url"] for a in listed] == ["https://a.test/2"]
    patched = partner.patch(
        f"{url}/{first.json()['id']}",
        json={"anchor": {"settings_label": "Contacts sync"}},
        timeout=10,
    )
    assert patched.json()["settings_label"] == "Contacts sync"


def test_an_anchor_of_an_unknown_surface_is_refused(sandbox):
    answer = sandbox.partner().post(
        _api(sandbox, "app/anchors"),
        json={"anchor": {"type": "sidebar", "source_url": "https://a.test"}},
        timeout=10,
    )

    assert answer.status_code == 422


def test_services_are_an_empty_list(sandbox):
    answer = sandbox.partner().get(_api(sandbox, "app/services"), timeout=10)

    assert answer.json() == [] and answer.headers["X-Total-Count"] == "0"


# --- the other address shape ------------------------------------------------------------------


@pytest.fixture
def go_hint_shape(sandbox: Any) -> Iterator[None]:
    with sandbox.faults(address_shape="address_line_1"):
        yield


def test_the_switch_answers_patients_in_go_hints_names(sandbox, go_hint_shape):
    patient = sandbox.patients(PRACTICE_A, limit=1)[0]

    assert "address_line_1" in patient and "address_line_2" in patient
    assert "address_line1" not in patient


def test_with_the_switch_only_go_hints_names_are_accepted(sandbox, go_hint_shape):
    session = sandbox.provider(PRACTICE_A)
    patient = sandbox.patients(PRACTICE_A, limit=1)[0]
    url = f"{sandbox.sandbox_url}/api/provider/patients/{patient['id']}"

    accepted = session.patch(url, json={"address_line_1": "7 Go St"}, timeout=10)
    refused = session.patch(url, json={"address_line1": "7 Doc St"}, timeout=10)

    assert accepted.status_code == 200 and accepted.json()["address_line_1"] == "7 Go St"
    assert refused.status_code == 422 and "address_line1" in refused.json()["message"]


def test_an_unknown_shape_is_refused(sandbox):
    answer = sandbox.control("faults", {"address_shape": "street"})

    assert answer.status_code == 422
