"""A note's state: writing, signing, addending, and its sync with Hint (claim, outcome, queue).

A note is always committed here before Hint is called, so no failure at Hint loses text. These
functions only mark a note as waiting for Hint; the open page pushes it at once with the session's
token (`interactions.push`, the only module that talks to Hint), and a background push follows if
it does not.
"""

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from handshake.audit import Actor, audit_record
from hintpartner.hint import policy
from hintpartner.tasks import enqueue_later, enqueue_on_commit
from interactions.models import Addendum, Note
from sync.models import Patient

if TYPE_CHECKING:
    from handshake.models import Practice

TITLE_MAX = 300
BODY_MAX = 200_000
# One pusher at a time per note: the lease outlives a slow push, and a dead pusher's expires.
SYNC_LEASE = timedelta(seconds=90)
# How long the open page has to push a change itself before a background push follows.
SAFETY_NET = timedelta(seconds=60)


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
        transaction.on_commit(lambda: note_push_queue(note=note, delay=SAFETY_NET))
    note.sync_state = Note.SyncState.PENDING


def _audit(note: Note, actor: Actor, action: str, *, detail: str = "") -> None:
    audit_record(
        practice=note.practice_id,
        actor=actor,
        action=action,
        target_type="note",
        target_id=note.pk,
        patient=note.patient_hint_id,
        detail=detail,
    )


def note_create(
    *,
    practice: "Practice",
    patient_hint_id: str,
    actor: Actor,
    title: str = "",
    body: str = "",
) -> Note:
    """Store a new draft note for a Hint patient here; pushing to Hint comes after the commit."""
    patient_hint_id = patient_hint_id.strip()
    if not patient_hint_id:
        raise NoteInvalid("Open a patient's chart first: a note belongs to one patient.")
    _check_lengths(title=title, body=body)
    with transaction.atomic():
        patient = Patient.objects.for_practice(practice).filter(hint_id=patient_hint_id).first()
        note = Note.objects.create(
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
        _audit(note, actor, "note.created")
    return note


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
        _audit(current, actor, "note.edited")
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
        _audit(current, actor, "note.signed")
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
        _audit(current, actor, "note.addended", detail=f"addendum {addendum.pk}")
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
        _audit(current, actor, "note.discarded")
        current.delete()


# --- the note's sync with Hint (the calls themselves: `interactions.push`) --------------------


def note_push_queue(*, note: Note, delay: timedelta | None = None) -> bool:
    """Queue a background push of `note` (practice token): after `delay`, else once the current
    transaction commits. The one place note pushes are queued; False when the backend cannot
    defer (unit tests drive retries by calling the task)."""
    # `interactions.tasks` imports this module (its task calls the push), so the task is
    # looked up at call time: the one import of it here.
    from interactions.tasks import note_push_task

    kwargs = {"note_id": note.pk, "practice_id": note.practice_id}
    if delay is None:
        enqueue_on_commit(note_push_task, **kwargs)
        return True
    return enqueue_later(note_push_task, delay=delay, kwargs=kwargs)


def note_push_claim(*, note: Note) -> bool:
    """Take the note's push lease (state `syncing`); False while another pusher holds it."""
    now = timezone.now()
    taken = (
        Note.objects.filter(pk=note.pk)
        .filter(Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lt=now))
        .update(sync_lease_until=now + SYNC_LEASE, sync_state=Note.SyncState.SYNCING)
    )
    return taken == 1


def note_push_record(*, note: Note, outcome: str, message: str) -> Note:
    """Record a push's outcome and release the lease; queue what follows (a retry by
    `policy.NOTE_SCHEDULE`, or a push of a save that landed meanwhile)."""
    now = timezone.now()
    note.refresh_from_db()
    updates: dict[str, Any] = {"sync_lease_until": None, "sync_error": message}
    if outcome == Note.SyncState.SYNCED:
        updates.update(sync_attempts=0, sync_next_attempt_at=None, synced_at=now)
        # A save that landed while we pushed leaves the note behind Hint again.
        updates["sync_state"] = Note.SyncState.PENDING if note.needs_push else outcome
    elif outcome == Note.SyncState.PENDING:
        attempts = note.sync_attempts + 1
        updates.update(
            sync_state=outcome,
            sync_attempts=attempts,
            sync_next_attempt_at=now + policy.backoff(attempts, policy.NOTE_SCHEDULE),
        )
    else:
        updates.update(sync_state=outcome, sync_next_attempt_at=None)
    Note.objects.filter(pk=note.pk).update(**updates)
    note.refresh_from_db()
    if note.sync_state == Note.SyncState.PENDING:
        retry = policy.backoff(note.sync_attempts, policy.NOTE_SCHEDULE)
        note_push_queue(note=note, delay=None if outcome == Note.SyncState.SYNCED else retry)
    return note


def note_push_postpone(*, note: Note) -> Note:
    """Another pusher holds the lease: look again once it must have finished (or died)."""
    note.refresh_from_db()
    note_push_queue(note=note, delay=SYNC_LEASE)
    return note


def note_retry(*, note: Note) -> Note:
    """Clear an error so the next push tries again (after the admin fixed the cause)."""
    Note.objects.filter(pk=note.pk, sync_state=Note.SyncState.ERROR).update(
        sync_state=Note.SyncState.PENDING, sync_error="", sync_attempts=0
    )
    note.refresh_from_db()
    return note
