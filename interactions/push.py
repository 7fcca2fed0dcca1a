"""Pushing notes to Hint: each note's partner interaction, brought up to the note's state.

Idempotent: it compares what Hint last confirmed (`hint_title`, `hint_status`) with the note and
sends only the difference, under a short lease so two pushers never race to create twice. After a
create whose answer never arrived, it looks for our `integration_record_id` among the patient's
interactions before creating again. Hint's failures never raise: the note's sync state says what
happened, and transient ones schedule a retry with backoff.
"""

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from hintpartner.hint import api, errors
from hintpartner.hint.paths import (
    INTEGRATION_ERROR_MESSAGE,
    INTEGRATION_RECORD_ID,
    INTEGRATION_WEB_LINK,
)
from interactions.models import Note

if TYPE_CHECKING:
    from handshake.models import Practice

logger = logging.getLogger(__name__)

SYNC_LEASE = timedelta(seconds=90)
SAFETY_NET = timedelta(seconds=60)
RETRY_BASE_SECONDS = 15
RETRY_MAX_SECONDS = 30 * 60


def note_web_link(note: Note) -> str:
    """The deep link written into Hint: it opens this note (Hint adds the session key)."""
    return settings.APP_URL + reverse("interactions:note", kwargs={"note_id": note.pk})


def _lease_take(note: Note) -> bool:
    now = timezone.now()
    taken = (
        Note.objects.filter(pk=note.pk)
        .filter(Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lt=now))
        .update(sync_lease_until=now + SYNC_LEASE, sync_state=Note.SyncState.SYNCING)
    )
    return taken == 1


def _find_existing_interaction(*, note: Note, token: str) -> dict[str, Any] | None:
    """The interaction Hint already holds for this note, if any (after an unseen answer)."""
    wanted = str(note.pk)
    for item in api.interactions_list(token=token, patient_id=note.patient_hint_id):
        if (
            isinstance(item, dict)
            and item.get("id")
            and str(item.get(INTEGRATION_RECORD_ID) or "") == wanted
        ):
            return item
    return None


def _interaction_fields(note: Note, *, status: str) -> dict[str, Any]:
    return {
        "status": status,
        "title": note.desired_hint_title,
        INTEGRATION_RECORD_ID: str(note.pk),
        INTEGRATION_WEB_LINK: note_web_link(note),
        INTEGRATION_ERROR_MESSAGE: "",
    }


def _push_once(*, note: Note, token: str, in_session: bool) -> None:
    """Bring Hint's interaction up to this note's state; raises HintError on failure."""
    if not note.hint_interaction_id:
        found = None
        if note.hint_create_attempted:
            found = _find_existing_interaction(note=note, token=token)
        if found:
            note.hint_interaction_id = str(found["id"])
            note.hint_status = str(found.get("status") or Note.Status.DRAFT)
            note.hint_title = str(found.get("title") or "")
            note.save(update_fields=["hint_interaction_id", "hint_status", "hint_title"])
        else:
            # Committed before the call: if the answer never arrives, the next attempt looks first.
            Note.objects.filter(pk=note.pk).update(hint_create_attempted=True)
            note.hint_create_attempted = True
            answer = api.interaction_create(
                token=token,
                patient_id=note.patient_hint_id,
                fields=_interaction_fields(note, status=Note.Status.DRAFT),
                in_session=in_session,
            )
            interaction_id = str(answer.get("id") or "")
            if not interaction_id:
                raise errors.HintInvalidResponse("Hint's answer to the create names no id.")
            note.hint_interaction_id = interaction_id
            note.hint_status = str(answer.get("status") or Note.Status.DRAFT)
            note.hint_title = note.desired_hint_title
            note.save(update_fields=["hint_interaction_id", "hint_status", "hint_title"])
    if note.hint_status != note.status or note.hint_title != note.desired_hint_title:
        api.interaction_update(
            token=token,
            patient_id=note.patient_hint_id,
            interaction_id=note.hint_interaction_id,
            fields=_interaction_fields(note, status=note.status),
            in_session=in_session,
        )
        note.hint_status = note.status
        note.hint_title = note.desired_hint_title
        note.save(update_fields=["hint_status", "hint_title"])


def _permanent_message(exc: errors.HintError) -> str:
    if isinstance(exc, errors.HintNotFound):
        return (
            "Hint no longer has this patient (or this note's entry in the chart). The note is "
            "kept here; check the patient in Hint, then copy the text into their current chart."
        )
    if isinstance(exc, errors.HintUnauthorized):
        return (
            "Hint refused this app's access to the practice. The note is kept here; ask a "
            "practice admin to reconnect the app in Hint's marketplace, then it will sync."
        )
    reason = f" Hint said: {exc.hint_message}" if exc.hint_message else ""
    return (
        "Hint refused this note's entry in the chart." + reason + " The note is kept here; "
        "fix the note or contact support."
    )


class _NotConnected(Exception):
    """The practice has no active installation, so background work has no token."""


def _token_for(note: Note, token: str) -> str:
    if token:
        return token
    from handshake.services import NotInstalled, practice_token

    try:
        return practice_token(note.practice)
    except NotInstalled as exc:
        raise _NotConnected from exc


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)))


def schedule_retry(note: Note, *, delay: timedelta | None = None) -> None:
    from hintpartner.tasks import enqueue_later
    from interactions.tasks import note_push_task

    enqueue_later(
        note_push_task,
        delay=delay or _retry_delay(note.sync_attempts),
        kwargs={"note_id": note.pk, "practice_id": note.practice_id},
    )


def note_push(*, note: Note, token: str = "", in_session: bool = False) -> Note:
    """Sync the note to its Hint interaction; on failure record why and schedule a retry.

    `token` is the open session's token (`in_session=True`); without one the practice token is used.
    Never raises for Hint's failures: the note's sync state says what happened.
    """
    if not _lease_take(note):
        # Another request or task is pushing right now. It re-checks when it finishes; a later
        # look covers a pusher that died holding the lease.
        note.refresh_from_db()
        schedule_retry(note, delay=SYNC_LEASE)
        return note
    note.refresh_from_db()
    outcome = Note.SyncState.SYNCED
    message = ""
    try:
        if note.needs_push:
            _push_once(note=note, token=_token_for(note, token), in_session=in_session)
    except errors.HintUnauthorized as exc:
        if in_session:
            # The session's short-lived token may have expired: background work has its own.
            outcome, message = Note.SyncState.PENDING, ""
        else:
            outcome, message = Note.SyncState.ERROR, _permanent_message(exc)
            from handshake.services import practice_mark_disconnected

            practice_mark_disconnected(practice=note.practice)
    except errors.HintError as exc:
        if exc.transient or exc.uncertain:
            outcome, message = Note.SyncState.PENDING, ""
        else:
            outcome, message = Note.SyncState.ERROR, _permanent_message(exc)
            _report_on_interaction(note=note, token=token, in_session=in_session, message=message)
        logger.info("note %s: push to Hint failed (%s)", note.pk, type(exc).__name__)
    except _NotConnected:
        outcome = Note.SyncState.ERROR
        message = (
            "This app is not connected to the practice in Hint, so the note cannot reach the "
            "chart yet. It is kept here; ask a practice admin to install or reconnect the app."
        )
    return _push_finish(note=note, outcome=outcome, message=message)


def _report_on_interaction(*, note: Note, token: str, in_session: bool, message: str) -> None:
    """Write the error where Hint shows it (possible only when the interaction exists)."""
    if not note.hint_interaction_id:
        return
    try:
        api.interaction_update(
            token=_token_for(note, token),
            patient_id=note.patient_hint_id,
            interaction_id=note.hint_interaction_id,
            fields={
                "status": note.hint_status or Note.Status.DRAFT,
                INTEGRATION_ERROR_MESSAGE: message,
            },
            in_session=in_session,
        )
    except Exception:  # best effort: the page already shows the error
        logger.info("note %s: could not write the error message to Hint", note.pk)


def _push_finish(*, note: Note, outcome: str, message: str) -> Note:
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
            sync_next_attempt_at=now + _retry_delay(attempts),
        )
    else:
        updates.update(sync_state=outcome, sync_next_attempt_at=None)
    Note.objects.filter(pk=note.pk).update(**updates)
    note.refresh_from_db()
    if note.sync_state == Note.SyncState.PENDING:
        if outcome == Note.SyncState.SYNCED:
            from hintpartner.tasks import enqueue_on_commit
            from interactions.tasks import note_push_task

            enqueue_on_commit(note_push_task, note_id=note.pk, practice_id=note.practice_id)
        else:
            schedule_retry(note)
    return note


def note_for_interaction(
    *, practice: "Practice", interaction_id: str, patient_hint_id: str, token: str
) -> Note | None:
    """The note behind a chart interaction; asks Hint when our copy of its id was never stored."""
    notes = Note.objects.for_practice(practice)
    note = notes.filter(hint_interaction_id=interaction_id).first()
    if note is not None or not (token and patient_hint_id):
        return note
    try:
        items = api.interactions_list(token=token, patient_id=patient_hint_id)
    except errors.HintError:
        return None
    for item in items:
        if not isinstance(item, dict) or str(item.get("id") or "") != interaction_id:
            continue
        record = str(item.get(INTEGRATION_RECORD_ID) or "")
        if not record.isdigit():
            return None
        # Our id as Hint holds it, within this practice and patient only.
        note = notes.filter(pk=int(record), patient_hint_id=patient_hint_id).first()
        if note is not None and not note.hint_interaction_id:
            notes.filter(pk=note.pk, hint_interaction_id="").update(
                hint_interaction_id=interaction_id,
                hint_status=str(item.get("status") or Note.Status.DRAFT),
                hint_title=str(item.get("title") or ""),
            )
            note.refresh_from_db()
        return note if note is not None and note.hint_interaction_id == interaction_id else None
    return None


def note_retry(*, note: Note) -> Note:
    """Clear an error so the next push tries again (after the admin fixed the cause)."""
    Note.objects.filter(pk=note.pk, sync_state=Note.SyncState.ERROR).update(
        sync_state=Note.SyncState.PENDING, sync_error="", sync_attempts=0
    )
    note.refresh_from_db()
    return note
