"""The host page over real HTTP: pages, forms (with Django's CSRF token), plain errors."""

import re

import pytest
import requests

from tests.e2e.live import PRACTICE_A, PRACTICE_B

pytestmark = pytest.mark.e2e


def _browser(sandbox) -> requests.Session:
    """A session holding the CSRF cookie, as a browser would."""
    session = requests.Session()
    session.get(sandbox.sandbox_url + "/", timeout=10)
    return session


def _post(session: requests.Session, url: str, data: dict) -> requests.Response:
    token = session.cookies.get("csrftoken")
    return session.post(url, data={"csrfmiddlewaretoken": token, **data}, timeout=30)


@pytest.mark.parametrize(
    "path", ["/", "/app/", "/settings/", "/sandbox/deliveries", "/sandbox/tools", "/patients/new"]
)
def test_every_host_page_renders(sandbox, path):
    response = requests.get(sandbox.sandbox_url + path, timeout=30)
    assert response.status_code == 200
    assert "Maple Street Family Medicine" in response.text


def test_the_patient_list_searches_and_links_to_charts(sandbox):
    patient = sandbox.patients(PRACTICE_A, limit=1)[0]
    page = requests.get(sandbox.sandbox_url + "/", params={"q": patient["last_name"]}, timeout=10)
    assert f"/patients/{patient['id']}/" in page.text


def test_a_chart_opens_the_clinical_chart_frame_or_says_why_not(sandbox):
    patient = sandbox.patients(PRACTICE_A, limit=1)[0]
    page = requests.get(f"{sandbox.sandbox_url}/patients/{patient['id']}/", timeout=30)
    assert page.status_code == 200
    assert re.search(r'src="[^"]+/hint/clinical_chart\?session_key=', page.text)


def test_an_unknown_patient_is_404(sandbox):
    assert requests.get(f"{sandbox.sandbox_url}/patients/pat-nope/", timeout=10).status_code == 404


def test_the_switchers_choose_practice_and_user(sandbox):
    session = _browser(sandbox)
    _post(
        session,
        sandbox.sandbox_url + "/switch",
        {"practice": PRACTICE_B, "user": "user-sbx-staff", "next": "/"},
    )
    page = session.get(sandbox.sandbox_url + "/", timeout=10)
    assert re.search(r'<option value="pra-sbx-riverside" selected>', page.text)
    assert re.search(r'<option value="user-sbx-staff" selected>', page.text)


def test_creating_a_patient_on_the_host_page_sends_patient_created(sandbox):
    sandbox.install(PRACTICE_A)
    session = _browser(sandbox)
    response = _post(
        session,
        sandbox.sandbox_url + "/patients/new",
        {
            "first_name": "Grace",
            "last_name": "Hopper",
            "dob": "1906-12-09",
            "phone": "(303) 555-0142",
        },
    )
    assert response.status_code == 200 and "Grace Hopper" in response.text
    created = sandbox.events("patient.created")[0]
    assert created["practice_id"] == PRACTICE_A


def test_an_invalid_patient_form_says_what_is_wrong_and_saves_nothing(sandbox):
    session = _browser(sandbox)
    before = [e["id"] for e in sandbox.events("patient.created")]
    response = _post(
        session,
        sandbox.sandbox_url + "/patients/new",
        {"first_name": "", "last_name": "X", "dob": "1-2-3"},
    )
    assert response.status_code == 200
    assert "Not saved" in response.text
    assert [e["id"] for e in sandbox.events("patient.created")] == before


def test_a_form_without_the_csrf_token_is_refused(sandbox):
    response = requests.post(
        sandbox.sandbox_url + "/patients/new", data={"first_name": "A"}, timeout=10
    )
    assert response.status_code == 403


def test_pages_refuse_the_wrong_method(sandbox):
    session = _browser(sandbox)
    assert _post(session, sandbox.sandbox_url + "/app/", {}).status_code == 405
    assert requests.get(sandbox.sandbox_url + "/settings/install", timeout=10).status_code == 405


def test_the_tools_page_saves_faults_and_refuses_nonsense(sandbox):
    session = _browser(sandbox)
    bad = _post(
        session,
        sandbox.sandbox_url + "/sandbox/tools",
        {"fault_error_rate": "7", "rate_limit_per_second": "100"},
    )
    assert "out of range" in bad.text
    assert sandbox.control("faults").json()["fault_error_rate"] == 0
    good = _post(
        session,
        sandbox.sandbox_url + "/sandbox/tools",
        # A browser sends the boxes that are ticked: strict is, by default.
        {
            "fault_latency_ms": "0",
            "rate_limit_per_second": "100",
            "webhook_on_api_writes": "on",
            "strict": "on",
        },
    )
    assert "Saved" in good.text
    assert sandbox.control("faults").json()["strict"] is True


def test_install_and_uninstall_from_the_settings_page(sandbox, receiver):
    sandbox.uninstall(PRACTICE_B)
    session = _browser(sandbox)
    _post(session, sandbox.sandbox_url + "/switch", {"practice": PRACTICE_B, "next": "/settings/"})
    page = _post(
        session,
        sandbox.sandbox_url + "/settings/install",
        {"mode": "practice_activate", "delivery": "show"},
    )
    assert "Finish setup" in page.text
    code = re.search(r"data-install-code>([^<]+)<", page.text).group(1)
    assert not receiver.to(f"/hint/connect/{code}")  # shown for pasting, not posted
    page = _post(session, sandbox.sandbox_url + "/settings/finish", {})
    assert "Active" in page.text
    page = _post(session, sandbox.sandbox_url + "/settings/uninstall", {})
    assert "Install app" in page.text


def test_resend_queues_an_event_again(sandbox):
    sandbox.install(PRACTICE_A)
    event = sandbox.trigger(PRACTICE_A, "update")
    sandbox.wait_for(
        lambda: [
            e
            for e in sandbox.events()
            if e["id"] == event["event_id"] and e["status"] == "delivered"
        ]
    )
    session = _browser(sandbox)
    _post(session, f"{sandbox.sandbox_url}/sandbox/deliveries/{event['event_id']}/resend", {})

    def attempts() -> int:
        return (
            len(next(e for e in sandbox.events() if e["id"] == event["event_id"])["attempts"]) >= 2
        )

    assert sandbox.wait_for(attempts)


def test_installing_with_an_unknown_mode_says_so(sandbox):
    sandbox.uninstall(PRACTICE_B)
    session = _browser(sandbox)
    _post(session, sandbox.sandbox_url + "/switch", {"practice": PRACTICE_B, "next": "/"})
    page = _post(session, sandbox.sandbox_url + "/settings/install", {"mode": "sideways"})
    assert page.status_code == 200
    assert "Not installed: Unknown activation mode" in page.text
    assert sandbox.installation(PRACTICE_B) is None
