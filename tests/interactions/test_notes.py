"""Writing, two tabs, signing and addenda, here (before anything reaches Hint)."""

import pytest

from handshake.models import Practice
from interactions import services
from interactions.models import Note
from sync.models import Patient
from tests.interactions.conftest import DR, PATIENT, make_note

pytestmark = pytest.mark.django_db


def test_a_new_note_links_the_patient_mirror_when_there_is_one(practice_a: Practice) -> None:
    patient = Patient.objects.create(
        practice=practice_a, hint_id=PATIENT, first_name="Alice", last_name="Ng"
    )

    note = services.note_create(practice=practice_a, patient_hint_id=PATIENT, actor=DR)

    assert note.patient == patient
    assert note.patient_label == "Alice Ng"
    assert note.author_label == "Dr. Ada Clinician"
    assert (note.status, note.version) == (Note.Status.DRAFT, 1)


def test_the_patient_mirror_of_another_practice_is_never_linked(
    practice_a: Practice, practice_b: Practice
) -> None:
    Patient.objects.create(practice=practice_b, hint_id=PATIENT, first_name="Bob")

    note = services.note_create(practice=practice_a, patient_hint_id=PATIENT, actor=DR)

    assert note.patient is None


def test_a_note_needs_a_patient(practice_a: Practice) -> None:
    with pytest.raises(services.NoteInvalid):
        services.note_create(practice=practice_a, patient_hint_id="  ", actor=DR)
    assert not Note.objects.exists()


def test_each_save_bumps_the_version_and_an_identical_save_does_not(
    practice_a: Practice,
) -> None:
    note = make_note(practice_a)

    note = services.note_save(note=note, title="T", body="B", base_version=1, actor=DR)
    again = services.note_save(note=note, title="T", body="B", base_version=2, actor=DR)

    assert note.version == 2
    assert again.version == 2
    assert Note.objects.get(pk=note.pk).body == "B"


def test_saving_over_a_newer_version_is_refused_with_both_versions(
    practice_a: Practice,
) -> None:
    note = make_note(practice_a)
    services.note_save(
        note=note, title="Tab one", body="First tab's text", base_version=1, actor=DR
    )

    with pytest.raises(services.NoteConflict) as caught:
        services.note_save(
            note=note, title="Tab two", body="Second tab's text", base_version=1, actor=DR
        )

    conflict = caught.value
    assert (conflict.note.title, conflict.note.body) == ("Tab one", "First tab's text")
    assert conflict.note.version == 2
    assert (conflict.title, conflict.body, conflict.base_version) == (
        "Tab two",
        "Second tab's text",
        1,
    )
    stored = Note.objects.get(pk=note.pk)
    assert (stored.body, stored.version) == ("First tab's text", 2)


def test_a_signed_note_cannot_be_edited(practice_a: Practice) -> None:
    note = make_note(practice_a, title="T", body="B")
    note = services.note_sign(note=note, actor=DR)

    with pytest.raises(services.NoteLocked):
        services.note_save(
            note=note, title="T", body="changed", base_version=note.version, actor=DR
        )

    assert Note.objects.get(pk=note.pk).body == "B"


def test_signing_records_the_signer_and_time(practice_a: Practice) -> None:
    note = make_note(practice_a, title="T", body="B")

    note = services.note_sign(note=note, actor=DR, version=1)

    assert note.status == Note.Status.SIGNED
    assert note.signed_by_label == "Dr. Ada Clinician"
    assert note.signed_at is not None
    assert not note.is_editable


def test_signing_a_version_other_than_the_one_shown_is_refused(practice_a: Practice) -> None:
    note = make_note(practice_a, title="T", body="B", version=3)

    with pytest.raises(services.NoteConflict):
        services.note_sign(note=note, actor=DR, version=2)

    assert Note.objects.get(pk=note.pk).status == Note.Status.DRAFT


def test_an_empty_note_cannot_be_signed(practice_a: Practice) -> None:
    note = make_note(practice_a)

    with pytest.raises(services.NoteInvalid):
        services.note_sign(note=note, actor=DR)


def test_signing_twice_is_refused(practice_a: Practice) -> None:
    note = services.note_sign(note=make_note(practice_a, title="T"), actor=DR)

    with pytest.raises(services.NoteLocked):
        services.note_sign(note=note, actor=DR)


def test_an_addendum_needs_a_signed_note_and_some_text(practice_a: Practice) -> None:
    note = make_note(practice_a, title="T", body="B")
    with pytest.raises(services.NoteInvalid):
        services.note_addend(note=note, body="too early", actor=DR)

    note = services.note_sign(note=note, actor=DR)
    with pytest.raises(services.NoteInvalid):
        services.note_addend(note=note, body="   ", actor=DR)

    services.note_addend(note=note, body="Later finding.", actor=DR)
    note.refresh_from_db()
    assert note.status == Note.Status.ADDENDED
    assert note.addenda.get().practice_id == practice_a.pk


def test_an_overlong_note_is_refused_and_nothing_changes(practice_a: Practice) -> None:
    note = make_note(practice_a, body="kept")

    with pytest.raises(services.NoteInvalid):
        services.note_save(
            note=note, title="x" * 301, body="new", base_version=note.version, actor=DR
        )

    assert Note.objects.get(pk=note.pk).body == "kept"


def test_a_stale_tab_sending_exactly_what_is_stored_is_not_a_conflict(
    practice_a: Practice,
) -> None:
    note = make_note(practice_a)
    services.note_save(note=note, title="Same", body="Same text", base_version=1, actor=DR)

    again = services.note_save(note=note, title="Same", body="Same text", base_version=1, actor=DR)

    assert again.version == 2
