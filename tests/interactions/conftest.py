"""Helpers for the notes tests: Hint's interaction answers, and notes ready to push."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from handshake.audit import Actor
from handshake.models import Practice
from interactions import services
from interactions.models import Note
from sync.models import Patient

DATA = Path(__file__).resolve().parent.parent / "data" / "interactions"
PATIENT = "pat-Alice1"
SESSION_TOKEN = "session-scoped-token"
DR = Actor(label="Dr. Ada Clinician")


def interaction_answer(note: Note, **overrides: Any) -> dict[str, Any]:
    """Hint's answer to a create or update of `note`'s interaction, shaped like Hint's."""
    data = json.loads((DATA / "interaction_created.json").read_text())
    data.update({"integration_record_id": str(note.pk), "title": note.desired_hint_title})
    data.update(overrides)
    return data


def other_interactions() -> list[dict[str, Any]]:
    return json.loads((DATA / "interactions_list_other.json").read_text())


def create_url(patient: str = PATIENT) -> str:
    return f"{settings.HINT_API_URL}/api/provider/patients/{patient}/interactions/partner"


def update_url(interaction_id: str = "inter-N0te1", patient: str = PATIENT) -> str:
    return f"{create_url(patient)}/{interaction_id}"


LIST_URL = re.compile(re.escape(settings.HINT_API_URL) + r"/api/provider/interactions(\?.*)?$")


def make_patient(practice: Practice, hint_id: str = PATIENT) -> Patient:
    """The practice's mirror of a Hint patient: what a note's patient id is checked against."""
    return Patient.objects.create(practice=practice, hint_id=hint_id, first_name="Alice")


def make_note(practice: Practice, **fields: Any) -> Note:
    """A draft note with words in it, saved here and not yet in Hint."""
    note = services.note_create(practice=practice, patient_hint_id=PATIENT, actor=DR)
    if fields:
        Note.objects.filter(pk=note.pk).update(**fields)
        note.refresh_from_db()
    return note


def sent_json(call: Any) -> dict[str, Any]:
    return json.loads(call.request.body)


def calls_to(mocked: Any, method: str, url: str) -> list[Any]:
    return [
        c for c in mocked.calls if c.request.method == method and c.request.url.split("?")[0] == url
    ]


@pytest.fixture
def written_note(practice_a: Practice) -> Note:
    note = make_note(practice_a)
    return services.note_save(
        note=note, title="Follow-up visit", body="Feeling better.", base_version=1, actor=DR
    )
