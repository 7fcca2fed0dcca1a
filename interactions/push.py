"""Pushing notes to Hint: each note's partner interaction, brought up to the note's state.

Idempotent: it compares what Hint last confirmed (`hint_title`, `hint_status`) with the note and
sends only the difference, under a short lease so two pushers never race to create twice. After a
create whose answer never arrived, it looks for our `integration_record_id` among the patient's
interactions before creating again. Hint's failures never raise: the note's sync state says what
happened, and transient ones schedule a retry with backoff.
"""

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.urls import reverse

from handshake.hint_access import NotInstalled, practice_api
from hintpartner.hint import api, errors, policy
from hintpartner.hint.paths import (
    INTEGRATION_ERROR_MESSAGE,
    INTEGRATION_RECORD_ID,
    INTEGRATION_WEB_LINK,
)
from interactions import services
from interactions.models import Note

if TYPE_CHECKING:
    from handshake.models import Practice

logger = logging.getLogger(__name__)

NOT_CONNECTED = (
    "This app is not connected to the practice in Hint, so the note cannot reach the chart yet. "
    "It is kept here; ask a practice admin to install or reconnect the app."
)


class _SessionApi:
    """`hintpartner.hint.api` with the open session's token (`practice_api`'s counterpart)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:  # never show the token
        return "<SessionApi>"

    def __getattr__(self, name: str) -> Any:
        return partial(getattr(api, name), token=self._token)


def _hint_for(note: Note, token: str) -> Any:
    """The session's token when a page pushes; the practice's (`practice_api`: a refused token
    marks the practice disconnected) for background work. NotInstalled when there is none."""
    return _SessionApi(token) if token else practice_api(note.practice)


def note_web_link(note: Note) -> str:
    """The deep link written into Hint: it opens this note (Hint adds the session key)."""
    return settings.APP_URL + reverse("interactions:note", kwargs={"note_id": note.pk})


def _find_existing_interaction(*, note: Note, hint: Any) -> dict[str, Any] | None:
    """The interaction Hint already holds for this note, if any (after an unseen answer)."""
    wanted = str(note.pk)
    for item in hint.interactions_list(patient_id=note.patient_hint_id):
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


def _push_once(*, note: Note, hint: Any, in_session: bool) -> None:
    """Bring Hint's interaction up to this note's state; raises HintError on failure."""
    if not note.hint_interaction_id:
        found = None
        if note.hint_create_attempted:
            found = _find_existing_interaction(note=note, hint=hint)
        if found:
            note.hint_interaction_id = str(found["id"])
            note.hint_status = str(found.get("status") or Note.Status.DRAFT)
            note.hint_title = str(found.get("title") or "")
            note.save(update_fields=["hint_interaction_id", "hint_status", "hint_title"])
        else:
            # Committed before the call: if the answer never arrives, the next attempt looks first.
            Note.objects.filter(pk=note.pk).update(hint_create_attempted=True)
            note.hint_create_attempted = True
            answer = hint.interaction_create(
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
        hint.interaction_update(
            patient_id=note.patient_hint_id,
            interaction_id=note.hint_interaction_id,
            fields=_interaction_fields(note, status=note.status),
            in_session=in_session,
        )
        note.hint_status = note.status
        note.hint_title = note.desired_hint_title
        note.save(update_fields=["hint_status", "hint_title"])


def _permanent_message(exc: errors.HintError, *, in_session: bool) -> str:
    """The policy's sentence, then what becomes of the note and what to do next."""
    sentence = policy.error_sentence(
        exc, record="patient or this note's entry in the chart", practice_token=not in_session
    )
    if policy.is_token_refused(exc):
        then = "it syncs once the app is reconnected."
    elif isinstance(exc, errors.HintNotFound):
        then = "check the patient in Hint, then copy the text into their current chart."
    else:
        then = "fix the note or contact support."
    return f"{sentence} The note is kept here; {then}"


def note_push(*, note: Note, token: str = "", in_session: bool = False) -> Note:
    """Sync the note to its Hint interaction; on failure record why and schedule a retry.

    `token` is the open session's token (`in_session=True`); without one the practice token is used.
    Never raises for Hint's failures: the note's sync state says what happened.
    """
    if not services.note_push_claim(note=note):
        # Another request or task is pushing right now. It re-checks when it finishes; a later
        # look covers a pusher that died holding the lease.
        return services.note_push_postpone(note=note)
    note.refresh_from_db()
    outcome, message = Note.SyncState.SYNCED, ""
    hint: Any = None
    try:
        if note.needs_push:
            hint = _hint_for(note, token)
            _push_once(note=note, hint=hint, in_session=in_session)
    except NotInstalled:
        outcome, message = Note.SyncState.ERROR, NOT_CONNECTED
    except errors.HintError as exc:
        logger.info("note %s: push to Hint failed (%s)", note.pk, type(exc).__name__)
        refused = policy.is_token_refused(exc)
        if exc.transient or exc.uncertain or (refused and in_session):
            # A refused session token may just have expired: background work has its own.
            outcome, message = Note.SyncState.PENDING, ""
        else:
            outcome, message = Note.SyncState.ERROR, _permanent_message(exc, in_session=in_session)
            if not refused:
                _report_on_interaction(note=note, hint=hint, in_session=in_session, message=message)
    return services.note_push_record(note=note, outcome=outcome, message=message)


def _report_on_interaction(*, note: Note, hint: Any, in_session: bool, message: str) -> None:
    """Write the error where Hint shows it (possible only when the interaction exists)."""
    if not note.hint_interaction_id:
        return
    try:
        hint.interaction_update(
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
