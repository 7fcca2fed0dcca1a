"""Notes reach Hint as partner interactions: once, in order, and never at the cost of text."""

import json

import pytest
import requests
import responses
from django.test import override_settings

from handshake.models import Practice
from interactions import services
from interactions.models import Note
from interactions.push import note_push
from tests.interactions.conftest import (
    DR,
    LIST_URL,
    SESSION_TOKEN,
    calls_to,
    create_url,
    interaction_answer,
    other_interactions,
    sent_json,
    update_url,
)

pytestmark = pytest.mark.django_db


def push(note: Note) -> Note:
    return note_push(note=note, token=SESSION_TOKEN, in_session=True)


def test_the_first_save_creates_a_draft_interaction_and_keeps_its_id(
    written_note: Note, mocked_hint
) -> None:
    mocked_hint.post(create_url(), json=interaction_answer(written_note))

    note = push(written_note)

    (call,) = calls_to(mocked_hint, "POST", create_url())
    body = sent_json(call)
    assert body["status"] == "draft"
    assert body["title"] == "Follow-up visit"
    assert body["integration_record_id"] == str(note.pk)
    assert body["integration_web_link"] == f"https://partner.test/hint/notes/{note.pk}/"
    assert "partner_product_id" not in body  # made inside a session
    assert call.request.headers["Authorization"] == f"Bearer {SESSION_TOKEN}"
    assert note.hint_interaction_id == "inter-N0te1"
    assert note.sync_state == Note.SyncState.SYNCED
    assert note.synced_at is not None


@override_settings(HINT_PRODUCT_ID="ppro-ours")
def test_a_note_pushed_outside_a_session_names_our_product(written_note: Note, mocked_hint) -> None:
    mocked_hint.post(create_url(), json=interaction_answer(written_note))

    note_push(note=written_note, token="practice-a-token", in_session=False)

    (call,) = calls_to(mocked_hint, "POST", create_url())
    assert sent_json(call)["partner_product_id"] == "ppro-ours"


def test_an_empty_new_note_waits_for_words_before_reaching_hint(
    practice_a: Practice, mocked_hint
) -> None:
    note = services.note_create(practice=practice_a, patient_hint_id="pat-Alice1", actor=DR)

    note = push(note)

    assert len(mocked_hint.calls) == 0
    assert note.hint_interaction_id == ""


def test_a_title_change_patches_the_title_and_an_unchanged_note_sends_nothing(
    written_note: Note, mocked_hint
) -> None:
    mocked_hint.post(create_url(), json=interaction_answer(written_note))
    mocked_hint.patch(update_url(), json=interaction_answer(written_note))
    note = push(written_note)

    note = services.note_save(
        note=note, title="Follow-up", body=note.body, base_version=note.version, actor=DR
    )
    note = push(note)
    note = services.note_save(
        note=note, title="Follow-up", body="Body only", base_version=note.version, actor=DR
    )
    note = push(note)

    (patch,) = calls_to(mocked_hint, "PATCH", update_url())
    assert sent_json(patch)["title"] == "Follow-up"
    assert sent_json(patch)["status"] == "draft"
    assert note.sync_state == Note.SyncState.SYNCED


def test_a_timeout_after_hint_stored_the_interaction_creates_no_duplicate(
    written_note: Note, mocked_hint
) -> None:
    # Hint stores the interaction but its answer never arrives.
    mocked_hint.post(create_url(), body=requests.exceptions.ReadTimeout())
    stored = [*other_interactions(), interaction_answer(written_note)]
    mocked_hint.get(LIST_URL, json=stored)

    note = push(written_note)
    assert note.sync_state == Note.SyncState.PENDING
    assert note.hint_interaction_id == ""
    assert Note.objects.get(pk=note.pk).body == "Feeling better."

    note = push(note)

    assert len(calls_to(mocked_hint, "POST", create_url())) == 1
    assert note.hint_interaction_id == "inter-N0te1"
    assert note.sync_state == Note.SyncState.SYNCED


def test_a_timeout_before_hint_stored_anything_creates_the_interaction_on_retry(
    written_note: Note, mocked_hint
) -> None:
    mocked_hint.post(create_url(), body=requests.exceptions.ReadTimeout())
    mocked_hint.post(create_url(), json=interaction_answer(written_note))
    mocked_hint.get(LIST_URL, json=other_interactions())

    note = push(push(written_note))

    assert len(calls_to(mocked_hint, "POST", create_url())) == 2
    listed = [c for c in mocked_hint.calls if c.request.method == "GET"]
    assert len(listed) == 1
    assert "patient_id=pat-Alice1" in listed[0].request.url
    assert "type=partner" in listed[0].request.url
    assert note.hint_interaction_id == "inter-N0te1"


def test_signing_patches_the_interaction_to_signed_exactly_once(
    written_note: Note, mocked_hint
) -> None:
    mocked_hint.post(create_url(), json=interaction_answer(written_note))
    mocked_hint.patch(update_url(), json=interaction_answer(written_note, status="signed"))
    note = push(written_note)

    note = services.note_sign(note=note, actor=DR)
    note = push(note)
    note = push(note)
    note_push(note=note, token="practice-a-token")

    (patch,) = calls_to(mocked_hint, "PATCH", update_url())
    assert sent_json(patch)["status"] == "signed"
    assert note.hint_status == "signed"
    assert note.sync_state == Note.SyncState.SYNCED


def test_a_note_signed_before_its_first_sync_is_created_then_signed(
    written_note: Note, mocked_hint
) -> None:
    mocked_hint.post(create_url(), json=interaction_answer(written_note))
    mocked_hint.patch(update_url(), json=interaction_answer(written_note, status="signed"))
    note = services.note_sign(note=written_note, actor=DR)

    push(note)

    assert sent_json(calls_to(mocked_hint, "POST", create_url())[0])["status"] == "draft"
    (patch,) = calls_to(mocked_hint, "PATCH", update_url())
    assert sent_json(patch)["status"] == "signed"


def test_an_addendum_marks_the_interaction_addended(written_note: Note, mocked_hint) -> None:
    mocked_hint.post(create_url(), json=interaction_answer(written_note))
    mocked_hint.patch(update_url(), json=interaction_answer(written_note))
    note = push(services.note_sign(note=push(written_note), actor=DR))

    services.note_addend(note=note, body="Labs came back normal.", actor=DR)
    note.refresh_from_db()
    note = push(note)

    statuses = [sent_json(c)["status"] for c in calls_to(mocked_hint, "PATCH", update_url())]
    assert statuses == ["signed", "addended"]
    assert note.status == Note.Status.ADDENDED
    assert note.addenda.get().body == "Labs came back normal."


@override_settings(HINT_MAX_RETRIES=0)
@pytest.mark.parametrize("status", [500, 503, 429])
def test_hint_down_or_busy_keeps_the_text_and_marks_it_syncing(
    written_note: Note, mocked_hint, status: int
) -> None:
    mocked_hint.post(create_url(), status=status, json={"message": "busy"})

    note = push(written_note)

    assert note.sync_state == Note.SyncState.PENDING
    assert note.sync_attempts == 1
    assert note.sync_next_attempt_at is not None
    assert note.sync_error == ""
    stored = Note.objects.get(pk=note.pk)
    assert (stored.title, stored.body) == ("Follow-up visit", "Feeling better.")


def test_a_patient_deleted_in_hint_is_shown_with_what_to_do(
    written_note: Note, mocked_hint
) -> None:
    mocked_hint.post(create_url(), status=404, json={"status": 404, "message": "Not found"})

    note = push(written_note)

    assert note.sync_state == Note.SyncState.ERROR
    assert "no longer has this patient" in note.sync_error
    assert "kept here" in note.sync_error
    assert Note.objects.get(pk=note.pk).body == "Feeling better."


def test_a_refused_update_is_written_to_the_interactions_error_message(
    written_note: Note, mocked_hint
) -> None:
    mocked_hint.post(create_url(), json=interaction_answer(written_note))
    mocked_hint.patch(
        update_url(), status=422, json={"status": 422, "message": "Title is too long"}
    )
    mocked_hint.patch(update_url(), json=interaction_answer(written_note))
    note = push(written_note)
    note = services.note_save(
        note=note, title="New title", body=note.body, base_version=note.version, actor=DR
    )

    note = push(note)

    assert note.sync_state == Note.SyncState.ERROR
    assert "Title is too long" in note.sync_error
    patches = calls_to(mocked_hint, "PATCH", update_url())
    assert len(patches) == 2
    assert "Title is too long" in sent_json(patches[1])["integration_error_message"]


def test_an_expired_session_token_leaves_the_note_to_the_background_retry(
    written_note: Note, mocked_hint
) -> None:
    mocked_hint.post(create_url(), status=401, json={"message": "expired"})

    note = push(written_note)

    assert note.sync_state == Note.SyncState.PENDING
    assert note.sync_error == ""
    assert Practice.objects.get(pk=note.practice_id).installation_status == "active"


def test_a_push_already_under_way_is_not_duplicated(written_note: Note, mocked_hint) -> None:
    from datetime import timedelta

    from django.utils import timezone

    Note.objects.filter(pk=written_note.pk).update(
        sync_lease_until=timezone.now() + timedelta(seconds=60)
    )

    push(written_note)

    assert len(mocked_hint.calls) == 0


# Hint's partner interaction holds the note's title, status and the link back to it; the text
# itself opens from that link, out of the stored row. What a push sends must be that stored note.


def test_a_push_sends_exactly_the_saved_note_even_from_an_older_copy(
    practice_a: Practice, mocked_hint
) -> None:
    before_the_save = services.note_create(
        practice=practice_a, patient_hint_id="pat-Alice1", actor=DR
    )
    saved = services.note_save(
        note=before_the_save,
        title="Knee pain",
        body="Swelling down since Monday.",
        base_version=1,
        actor=DR,
    )
    mocked_hint.post(create_url(), json=interaction_answer(saved))

    note = push(before_the_save)

    (call,) = calls_to(mocked_hint, "POST", create_url())
    assert sent_json(call)["title"] == "Knee pain"
    assert sent_json(call)["integration_web_link"].endswith(f"/hint/notes/{saved.pk}/")
    assert note.hint_title == "Knee pain"
    assert (note.title, note.body, note.version) == (saved.title, saved.body, saved.version)
    assert note.sync_state == Note.SyncState.SYNCED


def test_a_save_landing_during_a_push_is_pushed_next_not_lost(
    written_note: Note, mocked_hint
) -> None:
    def save_while_hint_answers(request):
        services.note_save(
            note=written_note,
            title="Follow-up visit, knee",
            body="Feeling better. Knee still stiff in the morning.",
            base_version=written_note.version,
            actor=DR,
        )
        return 200, {}, json.dumps(interaction_answer(written_note))

    mocked_hint.add_callback(
        responses.POST,
        create_url(),
        callback=save_while_hint_answers,
        content_type="application/json",
    )
    mocked_hint.patch(update_url(), json=interaction_answer(written_note))

    note = push(written_note)
    assert note.hint_title == "Follow-up visit"  # what Hint confirmed
    assert note.sync_state == Note.SyncState.PENDING  # and the newer save still owed

    note = push(note)

    (patch,) = calls_to(mocked_hint, "PATCH", update_url())
    assert sent_json(patch)["title"] == "Follow-up visit, knee"
    assert note.hint_title == "Follow-up visit, knee"
    assert note.body == "Feeling better. Knee still stiff in the morning."
    assert note.sync_state == Note.SyncState.SYNCED
