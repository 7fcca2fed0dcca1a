"""Processing: a failing handler is recorded, retried a bounded number of times, replayable."""

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, TestCase

from handshake.audit import Actor
from handshake.models import AuditEntry, Practice
from hintpartner.hint import policy
from sync.models import Patient
from tests.webhooks.conftest import deliver_and_dispatch, load_event, patient_event
from webhooks import handlers, services, tasks
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db

ADMIN = Actor(label="Ada Admin")


@pytest.fixture
def broken_mirror(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The patient handler raises until `state["broken"]` is set to False."""
    state = {"broken": True, "calls": 0}
    real = handlers.HANDLERS["patient.updated"]

    def flaky(event: WebhookEvent) -> None:
        state["calls"] += 1
        if state["broken"]:
            raise RuntimeError("database hiccup")
        real(event)

    monkeypatch.setitem(handlers.HANDLERS, "patient.updated", flaky)
    return state


def _run(event: WebhookEvent) -> str:
    """Drive one retry the way the deferred task would (the test backend cannot defer)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return tasks.webhook_event_process.call(event.pk)


def test_a_failing_handler_marks_the_event_failed_with_the_error(
    client: Client, practice_a: Practice, broken_mirror: dict[str, Any]
) -> None:
    assert (
        deliver_and_dispatch(client, patient_event()).status_code == 200
    )  # Hint still gets its 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED
    assert event.attempts == 1
    assert event.error == "RuntimeError: database hiccup"
    assert not Patient.objects.exists()  # the failed attempt left nothing half-applied


def test_a_failed_event_never_blocks_the_next_one(
    client: Client, practice_a: Practice, broken_mirror: dict[str, Any]
) -> None:
    deliver_and_dispatch(client, patient_event())
    deliver_and_dispatch(client, patient_event("patient.created", patient_id="pat-other"))
    assert Patient.objects.filter(hint_id="pat-other").exists()


def test_a_failed_event_is_retried_and_then_succeeds(
    client: Client, practice_a: Practice, broken_mirror: dict[str, Any]
) -> None:
    deliver_and_dispatch(client, patient_event(last_name="Later"))
    event = WebhookEvent.objects.get()
    broken_mirror["broken"] = False
    assert _run(event) == WebhookEvent.Status.PROCESSED
    event.refresh_from_db()
    assert (event.status, event.attempts, event.error) == ("processed", 2, "")
    assert Patient.objects.get().last_name == "Later"


def test_retries_stop_after_the_bound_and_the_event_waits_for_a_replay(
    client: Client, practice_a: Practice, broken_mirror: dict[str, Any]
) -> None:
    deliver_and_dispatch(client, patient_event())
    event = WebhookEvent.objects.get()
    for _ in range(services.MAX_ATTEMPTS + 2):
        _run(event)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED
    assert event.attempts == services.MAX_ATTEMPTS + 3


def test_the_retry_delay_grows_and_is_bounded_in_count() -> None:
    schedule = policy.WEBHOOK_SCHEDULE
    delays = [policy.backoff(n, schedule).total_seconds() for n in range(1, services.MAX_ATTEMPTS)]
    assert delays == [30, 120, 480, 1920]  # settles well before Hint's hourly retries


def test_running_a_processed_event_again_does_nothing(
    client: Client, practice_a: Practice, broken_mirror: dict[str, Any]
) -> None:
    broken_mirror["broken"] = False
    deliver_and_dispatch(client, patient_event())
    calls = broken_mirror["calls"]
    assert _run(WebhookEvent.objects.get()) == WebhookEvent.Status.PROCESSED
    assert broken_mirror["calls"] == calls


def test_a_failed_event_can_be_replayed_from_the_shell(
    client: Client, practice_a: Practice, broken_mirror: dict[str, Any]
) -> None:
    deliver_and_dispatch(client, patient_event(last_name="Replayed"))
    broken_mirror["broken"] = False
    out = StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("replay_webhooks", "--status", "failed", stdout=out)
    assert "Queued 1 failed event(s)" in out.getvalue()
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert Patient.objects.get().last_name == "Replayed"


def test_replay_for_one_practice_leaves_the_other_alone(
    client: Client, practice_a: Practice, practice_b: Practice, broken_mirror: dict[str, Any]
) -> None:
    deliver_and_dispatch(client, patient_event())
    deliver_and_dispatch(client, patient_event(practice_id="pra-bbbb"))
    broken_mirror["broken"] = False
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert services.events_replay(practice=practice_a, actor=ADMIN) == 1
    statuses = dict(WebhookEvent.objects.values_list("practice__hint_id", "status"))
    assert statuses == {"pra-aaaa": "processed", "pra-bbbb": "failed"}
    entry = AuditEntry.objects.get(action="webhook.replayed")
    assert (entry.practice, entry.actor_label) == (practice_a, "Ada Admin")


def test_the_replay_command_refuses_an_unknown_practice(db: None) -> None:
    with pytest.raises(Exception, match="No practice"):
        call_command("replay_webhooks", "--practice", "pra-nobody")


def test_a_processed_event_is_not_replayed(client: Client, practice_a: Practice) -> None:
    deliver_and_dispatch(client, patient_event())
    assert services.event_replay(event=WebhookEvent.objects.get(), actor=ADMIN) is False
    assert not AuditEntry.objects.filter(action="webhook.replayed").exists()


def test_an_activation_event_counts_for_a_pending_practice_and_starts_a_first_backfill(
    client: Client, practice_a: Practice, mocked_hint: Any, hint_url: str
) -> None:
    from sync.models import BackfillRun

    Practice.objects.filter(pk=practice_a.pk).update(installation_status="pending")
    mocked_hint.get(f"{hint_url}/api/provider/patients", json=[])
    response = deliver_and_dispatch(client, load_event("integration_activated"))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    practice_a.refresh_from_db()
    assert practice_a.installation_status == Practice.InstallationStatus.ACTIVE
    assert BackfillRun.objects.for_practice(practice_a).get().status == BackfillRun.Status.DONE


def test_a_deactivation_event_disconnects_the_practice(
    client: Client, practice_a: Practice
) -> None:
    event = {**load_event("integration_activated"), "type": "integration.deactivated"}
    deliver_and_dispatch(client, event)
    practice_a.refresh_from_db()
    assert practice_a.installation_status == Practice.InstallationStatus.DEACTIVATED
    assert deliver_and_dispatch(client, patient_event()).status_code == 200
    assert WebhookEvent.objects.filter(status="ignored").count() == 1
