"""`hint_setup` and `hint_doctor` against a live sandbox over HTTP, as a developer runs them.

A stack of its own (app, worker, sandbox on free ports), so the checklist sees only the practices
these tests connect.
"""

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.e2e.live import (
    PRACTICE_A,
    PY,
    ROOT,
    LiveStack,
    Processes,
    app_start,
    base_env,
    free_port,
    fresh_secrets,
    sandbox_start,
)

pytestmark = pytest.mark.e2e


@dataclass
class Run:
    code: int
    out: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    procs = Processes(tmp_path_factory.mktemp("setup-doctor"))
    shared = fresh_secrets()
    app_port = free_port()
    try:
        sandbox_url = sandbox_start(
            procs, shared, app_url=f"http://127.0.0.1:{app_port}", patients=5
        )
        app_url = app_start(procs, shared, sandbox_url=sandbox_url, port=app_port)
        yield LiveStack(app_url=app_url, sandbox_url=sandbox_url, secrets=shared, processes=procs)
    finally:
        procs.stop()


def manage(stack: LiveStack, *args: str) -> Run:
    """A management command with the app's own environment (its database, APP_URL, Hint)."""
    env = base_env(stack.secrets)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "hintpartner.settings",
            "DJANGO_ENV": "development",
            "DATABASE_URL": f"sqlite:///{stack.processes.workdir / 'app.sqlite3'}",
            "HINT_API_URL": stack.sandbox_url,
            "SANDBOX_URL": stack.sandbox_url,
            "APP_URL": stack.app_url,
        }
    )
    done = subprocess.run(
        [PY, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(done.returncode, done.stdout + done.stderr)


@pytest.fixture
def registered(stack: LiveStack) -> LiveStack:
    """Hint's registration set by `hint_setup --apply`, and practice A connected."""
    run = manage(stack, "hint_setup", "--apply")
    assert run.code == 0, run.out
    stack.install(PRACTICE_A)
    return stack


def test_setup_applies_once_then_finds_nothing_and_the_doctor_is_all_green(stack):
    dry = manage(stack, "hint_setup")
    assert dry.code == 0, dry.out
    assert "localhost_handshake_url" in dry.out and "Dry run: nothing changed" in dry.out
    assert stack.control("registration").json()["app"]["localhost_handshake_url"] == ""

    applied = manage(stack, "hint_setup", "--apply")
    assert applied.code == 0, applied.out
    assert "Done: Hint's registration matches this deployment." in applied.out
    held = stack.control("registration").json()
    assert held["app"]["localhost_handshake_url"] == f"{stack.app_url}/hint/handshake"
    assert held["partner"]["auth_type"] == "automatic_headless"
    assert held["partner"]["localhost_redirect_url"] == f"{stack.app_url}/hint/connect/"
    assert held["anchors"]["clinical_chart"]["localhost_source_url"] == (
        f"{stack.app_url}/hint/clinical_chart"
    )
    assert f"{stack.app_url}/hint/webhooks" in held["webhook_urls"]
    # The settings tab is named, not left to the app's generic name (Hint's audit: MEDIUM).
    assert held["anchors"]["settings"]["settings_label"] == "Contacts and sync"

    again = manage(stack, "hint_setup", "--apply")
    assert again.code == 0, again.out
    assert "nothing to change" in again.out
    assert len(stack.control("registration").json()["webhook_urls"]) == 1

    stack.install(PRACTICE_A)
    doctor = manage(stack, "hint_doctor")
    assert doctor.code == 0, doctor.out
    assert "FAIL" not in doctor.out
    assert "All " in doctor.out and "checks passed" in doctor.out
    assert "Webhook receiver" in doctor.out and f"({PRACTICE_A})" in doctor.out
    assert stack.secrets["HINT_API_KEY"] not in doctor.out
    assert stack.secrets["HINT_WEBHOOK_SECRET"] not in doctor.out
    settings_page = requests.get(f"{stack.sandbox_url}/settings/", timeout=30).text
    assert "<h2>Contacts and sync</h2>" in settings_page


def test_the_doctor_reports_a_hint_that_answers_the_other_address_shape(registered):
    first = manage(registered, "hint_doctor")
    assert first.code == 0, first.out  # the practice's shape is known: address_line1
    with registered.faults(address_shape="address_line_1"):
        changed = manage(registered, "hint_doctor")
        assert changed.code == 1, changed.out
        assert "Hint returns street lines address_line_1" in changed.out
        assert "addresses were written as address_line1" in changed.out
        remembered = manage(registered, "hint_doctor")  # the shape is now remembered
        assert remembered.code == 0, remembered.out
    manage(registered, "hint_doctor")  # learn the documented shape back for the next test


def test_the_doctor_reports_an_app_registered_with_a_wrong_handshake_url(registered):
    wrong = "http://127.0.0.1:9/hint/handshake"
    answer = registered.partner().patch(
        f"{registered.sandbox_url}/api/partner/app",
        json={"app": {"localhost_handshake_url": wrong}},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text

    doctor = manage(registered, "hint_doctor")
    assert doctor.code == 1, doctor.out
    assert "FAIL  Hint's view of the app: app localhost_handshake_url" in doctor.out
    assert wrong in doctor.out and "hint_setup --apply" in doctor.out

    assert manage(registered, "hint_setup", "--apply").code == 0
    assert manage(registered, "hint_doctor").code == 0
