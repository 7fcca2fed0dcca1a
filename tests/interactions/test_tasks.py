"""The background retry: the practice token, backoff, and 'until it lands'."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from handshake.audit import Actor
from handshake.models import Practice
from hintpartner.hint import policy
from interactions import push, services
from interactions.models import Note
from interactions.tasks import note_push_task
from tests.interactions.conftest import (
    DR,
    LIST_URL,
    SESSION_TOKEN,
    calls_to,
    create_url,
    interaction_answer,
    update_url,
)

pytestmark = pytest.mark.django_db


def run_task(note: Note) -> Note:
    note_push_task.call(note_id=note.pk, practice_id=note.practice_id)
    return Note.objects.get(pk=note.pk)


@override_settings(HINT_MAX_RETRIES=0)
def test_hint_down_keeps_the_text_and_the_retry_task_syncs_it_later(
    written_note: Note, mocked_hint
) -> None:
    mocked_hint.post(create_url(), status=503, json={"message": "down"})
    note = push.note_push(note=written_note, token=SESSION_TOKEN, in_session=True)
    assert note.sync_state == Note.SyncState.PENDING

    note = run_task(note)  # still down
    assert note.sync_state == Note.SyncState.PENDING
    assert note.sync_attempts == 2
    assert (note.title, note.body) == ("Follow-up visit", "Feeling better.")

    mocked_hint.replace("POST", create_url(), json=interaction_answer(note))
    mocked_hint.get(LIST_URL, json=[])  # a 503 may hide a stored create: look first
    note = run_task(note)

    assert note.sync_state == Note.SyncState.SYNCED
    assert note.hint_interaction_id == "inter-N0te1"
    assert note.sync_attempts == 0
    last_create = calls_to(mocked_hint, "POST", create_url())[-1]
    assert last_create.request.headers["Authorization"] == "Bearer practice-a-token"


def test_the_retry_waits_longer_after_each_failure() -> None:
    delays = [policy.backoff(n, policy.NOTE_SCHEDULE) for n in (1, 2, 3, 4, 20)]

    assert delays[0] < delays[1] < delays[2] < delays[3]
    assert delays[0] == timedelta(seconds=15)
    assert delays[-1] == timedelta(minutes=30)


def test_the_background_signing_patch_uses_the_practice_token(
    written_note: Note, mocked_hint
) -> None:
    mocked_hint.post(create_url(), json=interaction_answer(written_note))
    mocked_hint.patch(update_url(), json=interaction_answer(written_note, status="signed"))
    note = push.note_push(note=written_note, token=SESSION_TOKEN, in_session=True)
    note = services.note_sign(note=note, actor=Actor(label="Dr"))

    note = run_task(note)
    run_task(note)

    (patch,) = calls_to(mocked_hint, "PATCH", update_url())
    assert patch.request.headers["Authorization"] == "Bearer practice-a-token"
    assert note.hint_status == "signed"


def test_a_revoked_practice_token_marks_the_practice_disconnected_and_says_what_to_do(
    written_note: Note, mocked_hint
) -> None:
    mocked_hint.post(create_url(), status=401, json={"message": "revoked"})

    note = run_task(written_note)

    assert note.sync_state == Note.SyncState.ERROR
    assert "reconnect" in note.sync_error
    practice = Practice.objects.get(pk=note.practice_id)
    assert practice.installation_status == Practice.InstallationStatus.DISCONNECTED


def test_without_an_installation_the_note_waits_with_an_explanation(
    written_note: Note, mocked_hint
) -> None:
    Practice.objects.filter(pk=written_note.practice_id).update(
        installation_status=Practice.InstallationStatus.DEACTIVATED
    )

    note = run_task(written_note)

    assert len(mocked_hint.calls) == 0
    assert note.sync_state == Note.SyncState.ERROR
    assert "not connected" in note.sync_error
    assert note.body == "Feeling better."


def test_the_task_never_touches_another_practices_note(
    written_note: Note, practice_b: Practice, mocked_hint
) -> None:
    result = note_push_task.call(note_id=written_note.pk, practice_id=practice_b.pk)

    assert result == "gone"
    assert len(mocked_hint.calls) == 0


def test_an_error_waits_for_a_person_then_retry_clears_it(written_note: Note, mocked_hint) -> None:
    Note.objects.filter(pk=written_note.pk).update(
        sync_state=Note.SyncState.ERROR, sync_error="Hint refused."
    )
    assert note_push_task.call(note_id=written_note.pk, practice_id=written_note.practice_id) == (
        "error"
    )
    assert len(mocked_hint.calls) == 0

    mocked_hint.post(create_url(), json=interaction_answer(written_note))
    note = services.note_retry(note=written_note)
    note = run_task(note)

    assert note.sync_state == Note.SyncState.SYNCED
    assert note.sync_error == ""


def test_a_stale_lease_left_by_a_dead_worker_does_not_block_the_retry(
    written_note: Note, mocked_hint
) -> None:
    Note.objects.filter(pk=written_note.pk).update(
        sync_state=Note.SyncState.SYNCING,
        sync_lease_until=timezone.now() - timedelta(seconds=1),
    )
    mocked_hint.post(create_url(), json=interaction_answer(written_note))

    note = run_task(written_note)

    assert note.sync_state == Note.SyncState.SYNCED


DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def queued_pushes() -> list:
    from django_tasks_db.models import DBTaskResult

    return list(DBTaskResult.objects.filter(task_path="interactions.tasks.note_push_task"))


def test_the_first_words_queue_one_background_push_in_case_the_page_goes_away(
    practice_a: Practice, django_capture_on_commit_callbacks
) -> None:
    with override_settings(TASKS=DB_BACKEND):
        note = services.note_create(
            practice=practice_a, patient_hint_id="pat-Alice1", actor=Actor(label="Dr")
        )
        with django_capture_on_commit_callbacks(execute=True):
            note = services.note_save(note=note, title="T", body="a", base_version=1, actor=DR)
        with django_capture_on_commit_callbacks(execute=True):
            services.note_save(note=note, title="T", body="ab", base_version=2, actor=DR)

        (queued,) = queued_pushes()

    assert queued.run_after > timezone.now() + timedelta(seconds=30)
    assert queued.args_kwargs["kwargs"] == {"note_id": note.pk, "practice_id": practice_a.pk}
