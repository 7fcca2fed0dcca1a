"""Clinical text is encrypted at rest: the columns never hold what the clinician wrote."""

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings

from handshake.models import Practice
from hintpartner import crypto
from interactions import push, services
from interactions.models import Addendum, Note
from tests.interactions.conftest import DR, SESSION_TOKEN, create_url, interaction_answer

TITLE = "Chest pain follow-up"
BODY = "Chest pain since Tuesday, worse on exertion.\nBP 142/91. Plan: ECG — señora 🙂 mornings."
ADDENDUM = "Troponin negative; discussed with patient."


def _raw(table: str, pk: int, *columns: str) -> tuple[str, ...]:
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table)} WHERE id = %s",
            [pk],
        )
        return tuple(cursor.fetchone())


def _assert_ciphertext(raw: str, *plain: str) -> None:
    assert raw.startswith(crypto.PREFIX)
    for text in plain:
        assert text not in raw
        # Words of 5+ characters only: a shorter one ("BP") turns up in base64 by chance.
        for word in text.split():
            assert len(word) < 5 or word not in raw


@pytest.fixture
def signed_note_with_addendum(practice_a: Practice, mocked_hint) -> Note:
    note = services.note_create(practice=practice_a, patient_hint_id="pat-Alice1", actor=DR)
    note = services.note_save(note=note, title=TITLE, body=BODY, base_version=1, actor=DR)
    mocked_hint.post(create_url(), json=interaction_answer(note))
    note = push.note_push(note=note, token=SESSION_TOKEN, in_session=True)
    note = services.note_sign(note=note, actor=DR)
    services.note_addend(note=note, body=ADDENDUM, actor=DR)
    return Note.objects.get(pk=note.pk)


@pytest.mark.django_db
def test_the_note_columns_hold_no_plaintext_after_a_save(signed_note_with_addendum: Note) -> None:
    note = signed_note_with_addendum
    assert note.hint_title == TITLE  # Hint confirmed it, so its copy is stored too
    title, body, hint_title = _raw("interactions_note", note.pk, "title", "body", "hint_title")

    _assert_ciphertext(title, TITLE)
    _assert_ciphertext(body, BODY)
    _assert_ciphertext(hint_title, TITLE)
    assert title != hint_title  # a fresh nonce each time: equal texts do not look equal


@pytest.mark.django_db
def test_the_addendum_column_holds_no_plaintext(signed_note_with_addendum: Note) -> None:
    addendum = signed_note_with_addendum.addenda.get()

    (body,) = _raw("interactions_addendum", addendum.pk, "body")

    _assert_ciphertext(body, ADDENDUM)


@pytest.mark.django_db
def test_the_note_and_addendum_read_back_exactly_as_written(
    signed_note_with_addendum: Note,
) -> None:
    note = Note.objects.get(pk=signed_note_with_addendum.pk)

    assert (note.title, note.body, note.hint_title) == (TITLE, BODY, TITLE)
    assert Addendum.objects.get(note=note).body == ADDENDUM


@pytest.mark.django_db
def test_an_empty_draft_stays_empty_and_reads_back_empty(practice_a: Practice) -> None:
    note = services.note_create(practice=practice_a, patient_hint_id="pat-Alice1", actor=DR)

    assert _raw("interactions_note", note.pk, "title", "body", "hint_title") == ("", "", "")
    assert (Note.objects.get(pk=note.pk).title, Note.objects.get(pk=note.pk).body) == ("", "")


@pytest.mark.django_db
def test_reencrypt_fields_moves_notes_and_addenda_to_the_new_first_key(
    signed_note_with_addendum: Note, settings
) -> None:
    note = signed_note_with_addendum
    old = settings.FIELD_ENCRYPTION_KEYS
    new_key = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, *old]):
        call_command("reencrypt_fields", stdout=open("/dev/null", "w"))  # noqa: SIM115

    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):
        stored = Note.objects.get(pk=note.pk)
        assert (stored.title, stored.body, stored.hint_title) == (TITLE, BODY, TITLE)
        assert stored.addenda.get().body == ADDENDUM
    with override_settings(FIELD_ENCRYPTION_KEYS=old), pytest.raises(ValueError):
        Note.objects.get(pk=note.pk)


# --- the data migration (interactions 0002) ---------------------------------------------------

BEFORE = [("interactions", "0001_initial")]
AFTER = [("interactions", "0002_encrypt_clinical_text")]


@pytest.fixture
def before_encryption(transactional_db: None) -> Iterator[MigrationExecutor]:
    """The schema as it was before encryption; the latest schema again afterwards."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        yield executor
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def _insert_plain_note(executor: MigrationExecutor) -> tuple[int, int, int]:
    """A plain note and addendum written before encryption, plus a note already in ciphertext."""
    old = executor.loader.project_state(BEFORE).apps
    practice = old.get_model("handshake", "Practice").objects.create(
        hint_id="pra-old", name="Old practice"
    )
    OldNote = old.get_model("interactions", "Note")
    note = OldNote.objects.create(
        practice=practice, patient_hint_id="pat-Old1", title=TITLE, body=BODY, hint_title=TITLE
    )
    addendum = old.get_model("interactions", "Addendum").objects.create(
        practice=practice, note=note, body=ADDENDUM
    )
    already = OldNote.objects.create(
        practice=practice, patient_hint_id="pat-Old1", body=crypto.encrypt("Written twice?")
    )
    return note.pk, addendum.pk, already.pk


def test_the_migration_encrypts_existing_plain_rows(before_encryption: MigrationExecutor) -> None:
    note_pk, addendum_pk, already_pk = _insert_plain_note(before_encryption)

    MigrationExecutor(connection).migrate(AFTER)

    title, body, hint_title = _raw("interactions_note", note_pk, "title", "body", "hint_title")
    _assert_ciphertext(title, TITLE)
    _assert_ciphertext(body, BODY)
    _assert_ciphertext(hint_title, TITLE)
    _assert_ciphertext(_raw("interactions_addendum", addendum_pk, "body")[0], ADDENDUM)
    note = Note.objects.get(pk=note_pk)
    assert (note.title, note.body, note.hint_title) == (TITLE, BODY, TITLE)
    assert Addendum.objects.get(pk=addendum_pk).body == ADDENDUM
    # A value already in ciphertext is left alone, not encrypted a second time.
    assert Note.objects.get(pk=already_pk).body == "Written twice?"


def test_reversing_the_migration_gives_back_plain_text(
    before_encryption: MigrationExecutor,
) -> None:
    note_pk, addendum_pk, _ = _insert_plain_note(before_encryption)
    MigrationExecutor(connection).migrate(AFTER)

    MigrationExecutor(connection).migrate(BEFORE)

    assert _raw("interactions_note", note_pk, "title", "body", "hint_title") == (
        TITLE,
        BODY,
        TITLE,
    )
    assert _raw("interactions_addendum", addendum_pk, "body") == (ADDENDUM,)
