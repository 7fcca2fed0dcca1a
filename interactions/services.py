"""Writing, signing and addending clinical notes; pushing them to Hint (`interactions.push`).

A note is always committed here before Hint is called, so no failure at Hint loses text. These
functions only mark a note as waiting for Hint; the open page pushes it at once with the session's
token, and a background push follows if it does not.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from interactions import push
from interactions.models import Addendum, Note

# The push API, here too: views and tasks call `services.note_push(...)`.
note_push = push.note_push
note_retry = push.note_retry
note_for_interaction = push.note_for_interaction
note_web_link = push.note_web_link

if TYPE_CHECKING:
    from handshake.models import Practice, PracticeUser

TITLE_MAX = 300
BODY_MAX = 200_000


@dataclass(frozen=True)
class Actor:
    """Who acts: a practice user, or a Hint support session known only by its label."""

    user: "PracticeUser | None"
    label: str

    @classmethod
    def from_hint(cls, hint: Any) -> "Actor":
        return cls(user=hint.user, label=hint.actor_label)


class NoteError(Exception):
    """A note action refused; the message is plain words for the page."""


class NoteLocked(NoteError):
    """The note is signed: it takes addenda, never edits."""


class NoteConflict(NoteError):
    """The save started from an older version than the one stored (another tab saved since)."""

    def __init__(self, *, note: Note, title: str, body: str, base_version: int) -> None:
        super().__init__(
            "This note was changed elsewhere (another tab or person) after you started editing."
        )
        self.note = note
        self.title = title
        self.body = body
        self.base_version = base_version


class NoteInvalid(NoteError):
    """The input cannot be stored (too long, empty addendum)."""


def _check_lengths(*, title: str, body: str) -> None:
    if len(title) > TITLE_MAX:
        raise NoteInvalid(f"The title is too long: keep it under {TITLE_MAX} characters.")
    if len(body) > BODY_MAX:
        raise NoteInvalid(f"The note is too long: keep it under {BODY_MAX:,} characters.")


def _mark_pending(note: Note) -> None:
    """Hint is now behind the note. The open page pushes it at once with the session's token;
    should the page go away first, a background push follows after SAFETY_NET (practice token).
    Scheduled only on the way into `pending`, so typing does not queue a task per keystroke."""
    if note.sync_state not in (Note.SyncState.PENDING, Note.SyncState.SYNCING):
        transaction.on_commit(lambda: push.schedule_retry(note, delay=push.SAFETY_NET))
    note.sync_state = Note.SyncState.PENDING


def note_create(
    *,
    practice: "Practice",
    patient_hint_id: str,
    actor: Actor,
    title: str = "",
    body: str = "",
) -> Note:
    """Store a new draft note for a Hint patient here; pushing to Hint comes after the commit."""
    from sync.models import Patient

    patient_hint_id = patient_hint_id.strip()
    if not patient_hint_id:
        raise NoteInvalid("Open a patient's chart first: a note belongs to one patient.")
    _check_lengths(title=title, body=body)
    with transaction.atomic():
        patient = Patient.objects.for_practice(practice).filter(hint_id=patient_hint_id).first()
        return Note.objects.create(
            practice=practice,
            patient_hint_id=patient_hint_id,
            patient=patient,
            title=title,
            body=body,
            author=actor.user,
            author_label=actor.label,
            last_saved_by_label=actor.label,
            # Nothing for Hint yet: the first words move it to pending (and queue the safety net).
            sync_state=Note.SyncState.SYNCED,
        )


def note_save(*, note: Note, title: str, body: str, base_version: int, actor: Actor) -> Note:
    """Save the editor's text over `base_version`; refuse a newer stored version (two tabs)."""
    _check_lengths(title=title, body=body)
    with transaction.atomic():
        current = Note.objects.select_for_update().get(pk=note.pk, practice=note.practice_id)
        if not current.is_editable:
            raise NoteLocked("This note is signed and can no longer change; add an addendum.")
        if current.title == title and current.body == body:
            # Nothing new (a repeated autosave, or a tab that typed what is stored): no version
            # bump, no push, and no conflict, since this page now shows exactly what is stored.
            return current
        if base_version != current.version:
            raise NoteConflict(note=current, title=title, body=body, base_version=base_version)
        now = timezone.now()
        current.title = title
        current.body = body
        current.version += 1
        current.last_saved_at = now
        current.last_saved_by_label = actor.label
        if current.needs_push:
            _mark_pending(current)
        current.save(
            update_fields=[
                "title",
                "body",
                "version",
                "last_saved_at",
                "last_saved_by_label",
                "sync_state",
            ]
        )
    return current


def note_sign(*, note: Note, actor: Actor, version: int | None = None) -> Note:
    """Sign a draft (after the editor's confirmation): read-only from now on."""
    with transaction.atomic():
        current = Note.objects.select_for_update().get(pk=note.pk, practice=note.practice_id)
        if not current.is_editable:
            raise NoteLocked("This note is already signed.")
        if version is not None and version != current.version:
            raise NoteConflict(
                note=current, title=current.title, body=current.body, base_version=version
            )
        if not current.has_content:
            raise NoteInvalid("This note is empty: write something before signing it.")
        now = timezone.now()
        current.status = Note.Status.SIGNED
        current.signed_by = actor.user
        current.signed_by_label = actor.label
        current.signed_at = now
        current.version += 1
        current.last_saved_at = now
        _mark_pending(current)
        current.save(
            update_fields=[
                "status",
                "signed_by",
                "signed_by_label",
                "signed_at",
                "version",
                "last_saved_at",
                "sync_state",
            ]
        )
    return current


def note_addend(*, note: Note, body: str, actor: Actor) -> Addendum:
    """Add text to a signed note; the interaction becomes `addended` in Hint."""
    body = body.strip()
    if not body:
        raise NoteInvalid("Write the addendum before saving it.")
    _check_lengths(title="", body=body)
    with transaction.atomic():
        current = Note.objects.select_for_update().get(pk=note.pk, practice=note.practice_id)
        if current.is_editable:
            raise NoteInvalid("Sign the note first; until then, edit it directly.")
        addendum = Addendum.objects.create(
            practice_id=current.practice_id,
            note=current,
            body=body,
            author=actor.user,
            author_label=actor.label,
        )
        current.status = Note.Status.ADDENDED
        current.version += 1
        current.last_saved_at = timezone.now()
        if current.needs_push:
            _mark_pending(current)
        current.save(update_fields=["status", "version", "last_saved_at", "sync_state"])
    return addendum


def note_discard(*, note: Note, actor: Actor) -> None:
    """Delete a draft that never reached Hint (a New note opened by mistake, say)."""
    with transaction.atomic():
        current = Note.objects.select_for_update().get(pk=note.pk, practice=note.practice_id)
        if not current.is_editable:
            raise NoteLocked("A signed note is part of the record and cannot be discarded.")
        if current.hint_interaction_id or current.hint_create_attempted:
            raise NoteInvalid(
                "This draft is already in the patient's chart in Hint, so it stays: finish it, "
                "or leave it unsigned."
            )
        current.delete()
