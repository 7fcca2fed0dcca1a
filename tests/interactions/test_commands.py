"""`manage.py notes_push_pending`: every waiting note, each with its own practice's token."""

import pytest
from django.core.management import call_command
from django.test import TestCase

from handshake.models import Practice
from interactions import services
from interactions.models import Note
from tests.interactions.conftest import DR, calls_to, create_url, interaction_answer

pytestmark = pytest.mark.django_db


def test_it_pushes_each_waiting_note_with_its_own_practices_token(
    practice_a: Practice, practice_b: Practice, mocked_hint, capsys
) -> None:
    notes = []
    for practice in (practice_a, practice_b):
        note = services.note_create(practice=practice, patient_hint_id="pat-Alice1", actor=DR)
        notes.append(services.note_save(note=note, title="T", body="B", base_version=1, actor=DR))
    synced = services.note_create(practice=practice_a, patient_hint_id="pat-Alice1", actor=DR)
    mocked_hint.post(create_url(), json=interaction_answer(notes[0]))

    with TestCase.captureOnCommitCallbacks(execute=True):  # a command runs outside a transaction
        call_command("notes_push_pending")

    tokens = sorted(
        c.request.headers["Authorization"] for c in calls_to(mocked_hint, "POST", create_url())
    )
    assert tokens == ["Bearer practice-a-token", "Bearer practice-b-token"]
    assert "Queued 2 note(s)" in capsys.readouterr().out
    assert Note.objects.get(pk=synced.pk).hint_interaction_id == ""
