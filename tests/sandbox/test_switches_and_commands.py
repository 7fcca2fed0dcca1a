"""Webhook switches, injected faults and the sandbox's commands, over real HTTP."""

import subprocess

import pytest
import requests

from tests.e2e.live import PRACTICE_A, PY, ROOT, base_env

pytestmark = pytest.mark.e2e


def _settled(sandbox) -> None:
    sandbox.wait_for(lambda: all(e["status"] != "pending" for e in sandbox.events()))


def _manage(sandbox, *args: str) -> str:
    env = base_env(sandbox.secrets)
    env["SANDBOX_DATABASE_URL"] = f"sqlite:///{sandbox.processes.workdir / 'sandbox.sqlite3'}"
    done = subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_duplicates_send_every_event_twice(sandbox, receiver):
    sandbox.install(PRACTICE_A)
    _settled(sandbox)
    with sandbox.faults(webhook_duplicates=True):
        event = sandbox.trigger(PRACTICE_A, "update")
        copies = sandbox.wait_for(
            lambda: [
                r for r in receiver.to("/hint/webhooks") if r.json()["id"] == event["event_id"]
            ][1:]
        )
    assert len(copies) == 1


def test_out_of_order_delivers_the_newest_first(sandbox, receiver):
    sandbox.install(PRACTICE_A)
    _settled(sandbox)
    with sandbox.faults(webhook_out_of_order=True):
        first = sandbox.trigger(PRACTICE_A, "update")["event_id"]
        second = sandbox.trigger(PRACTICE_A, "update")["event_id"]

        def both() -> list:
            ids = [r.json()["id"] for r in receiver.to("/hint/webhooks")]
            return [i for i in ids if i in (first, second)] if {first, second} <= set(ids) else []

        order = sandbox.wait_for(both, timeout=15)
    assert order == [second, first]


def test_a_late_success_is_applied_although_the_client_gave_up(sandbox):
    session = sandbox.provider(PRACTICE_A)
    patient = sandbox.patients(PRACTICE_A, limit=1)[0]
    url = f"{sandbox.sandbox_url}/api/provider/patients/{patient['id']}"
    with (
        sandbox.faults(fault_late_success_rate=1.0, fault_slow_seconds=1.5),
        pytest.raises(requests.Timeout),
    ):
        session.patch(url, json={"address_line2": "Suite 9"}, timeout=0.5)
    assert sandbox.wait_for(lambda: session.get(url).json()["address_line2"] == "Suite 9")


def test_a_timeout_fault_is_not_applied(sandbox):
    session = sandbox.provider(PRACTICE_A)
    patient = sandbox.patients(PRACTICE_A, limit=1)[0]
    url = f"{sandbox.sandbox_url}/api/provider/patients/{patient['id']}"
    with sandbox.faults(fault_timeout_rate=1.0, fault_slow_seconds=1.0):
        answer = session.patch(url, json={"address_line2": "Never"}, timeout=5)
    assert answer.status_code == 504
    assert session.get(url).json()["address_line2"] != "Never"


def test_sandbox_trigger_changes_a_patient_and_the_event_is_delivered(sandbox, receiver):
    sandbox.install(PRACTICE_A)
    out = _manage(
        sandbox,
        "sandbox_trigger",
        "create",
        "--practice",
        PRACTICE_A,
        "--fields",
        '{"last_name": "Triggered"}',
    )
    event_id = out.split("event ")[1].split()[0]
    sandbox.wait_for(
        lambda: [r for r in receiver.to("/hint/webhooks") if r.json()["id"] == event_id]
    )
    assert sandbox.patients(PRACTICE_A, last_name="triggered")


def test_sandbox_trigger_explains_a_bad_practice(sandbox):
    env = base_env(sandbox.secrets)
    env["SANDBOX_DATABASE_URL"] = f"sqlite:///{sandbox.processes.workdir / 'sandbox.sqlite3'}"
    done = subprocess.run(
        [PY, "manage.py", "sandbox_trigger", "update", "--practice", "pra-none"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "No such practice" in done.stderr


def test_sandbox_seed_adds_patients_to_a_new_practice(sandbox):
    _manage(
        sandbox,
        "sandbox_seed",
        "--practice",
        "pra-seeded",
        "--name",
        "Seeded Clinic",
        "--patients",
        "300",
    )
    token = sandbox.install("pra-seeded")
    answer = requests.get(
        f"{sandbox.sandbox_url}/api/provider/patients",
        headers={"Authorization": f"Bearer {token}"},
        params={"sort": "-created_at", "limit": 500},
        timeout=10,
    )
    assert answer.headers["X-Total-Count"] == "300"
    assert answer.headers["X-Count"] == "100"  # Hint's largest page
    assert answer.json()[0]["created_at"] >= answer.json()[-1]["created_at"]
    assert "already seeded" in _manage(sandbox, "sandbox_seed", "--if-empty")
