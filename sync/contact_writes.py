"""What a contact owes Hint: a change made here is stored first, then sent in the background.

An edit of a linked contact (or a link whose write Hint did not take) is committed here with the
fields still owed (`Contact.hint_owed_fields`, `hint_link_owed`) and the state `waiting`. The
worker's sweep (`contact_writes_dispatch`, in `WORKER_DISPATCHERS`) queues the due ones;
`contact_write_send` PATCHes them with the practice's token, then applies Hint's answer to the
fields no longer owed ("send ours, then apply Hint's answer"). A failure that may pass (5xx,
429, a timeout) tries again on `policy.CONTACT_SCHEDULE`; a refusal is `failed` and waits for a
person (Retry, a new edit, unlink). While owed, an event from Hint never overwrites the owed
fields (`owed_fields`).
"""

import logging
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from handshake.address_shape import practice_address_shape
from handshake.audit import Actor, audit_record
from handshake.hint_access import NotInstalled, practice_api
from hintpartner.hint import errors, policy
from hintpartner.hint.paths import INTEGRATION_ERROR_MESSAGE
from sync import fieldmap
from sync.merge import Situation, merge
from sync.models import Contact, SyncLog
from sync.options import sync_log_write
from sync.outbound import UNLINK_CLEARED, integration_fields, mirror_answer, patient_known

logger = logging.getLogger(__name__)

# A sent write holds its contact this long: a sender that died is replaced by the next sweep.
CLAIM_LEASE = timedelta(minutes=2)
DISPATCH_LIMIT = 500
WAITING, FAILED = Contact.HintWrite.WAITING, Contact.HintWrite.FAILED

NOT_CONNECTED = (
    "This app is not connected to the practice in Hint. Your change is kept here; ask a practice "
    "admin to install or reconnect the app, then press Retry."
)


def owed_fields(contact: Contact) -> frozenset[str]:
    """Two-way fields whose value here Hint has not confirmed: Hint's values must skip them."""
    return frozenset(contact.hint_owed_fields or ())


def updates_without_owed(contact: Contact, updates: fieldmap.Values) -> fieldmap.Values:
    """Hint's `updates` for a linked contact, less the fields it still owes Hint."""
    owed = owed_fields(contact)
    return {name: value for name, value in updates.items() if name not in owed}


def contact_write_owe(contact: Contact, *, fields: Collection[str], link: bool = False) -> None:
    """Mark `fields` (and our integration fields, with `link`) as owed on a locked contact.

    Sets the row's attributes only; the caller saves it in the transaction of the change. The
    worker's next sweep sends it.
    """
    owed = set(contact.hint_owed_fields or ()) | {f for f in fields if f in fieldmap.TWO_WAY_FIELDS}
    contact.hint_owed_fields = sorted(owed)
    contact.hint_link_owed = contact.hint_link_owed or link
    contact.hint_write_state = WAITING
    contact.hint_write_attempts = 0
    contact.hint_write_next_at = timezone.now()
    contact.hint_write_error = ""


def contact_write_clear(contact: Contact) -> None:
    """Nothing is owed any more (a link Hint took, an unlink); the caller saves."""
    for name, value in _cleared().items():
        setattr(contact, name, value)


def contact_writes_dispatch(*, limit: int = DISPATCH_LIMIT) -> int:
    """Queue a send for each owed write that is due; returns how many.

    Runs in the worker (`WORKER_DISPATCHERS`, every half second). Claiming moves the next attempt
    `CLAIM_LEASE` ahead, so a lost task or a killed sender is picked up again by a later sweep;
    SKIP LOCKED lets several workers sweep side by side.
    """
    now = timezone.now()
    due = Contact.objects.writes_due(now)
    if not due.exists():
        # A plain read first: an idle worker must not take SQLite's write lock twice a second.
        return 0
    from hintpartner.tasks import enqueue_on_commit
    from sync.tasks import contact_write_task  # the task calls back into this module

    with transaction.atomic():
        rows = list(
            due.order_by("hint_write_next_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", "practice_id")[:limit]
        )
        Contact.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            hint_write_next_at=now + CLAIM_LEASE
        )
        for pk, practice_id in rows:
            enqueue_on_commit(contact_write_task, contact_id=pk, practice_id=practice_id)
    if rows:
        logger.info("queued %s owed contact writes", len(rows))
    return len(rows)


def _owed_body(contact: Contact, sent: fieldmap.Values) -> dict[str, Any]:
    body = fieldmap.patient_payload(
        sent,
        patient=patient_known(contact),
        address_shape=practice_address_shape(contact.practice),
    )
    if contact.hint_link_owed:
        body.update(integration_fields(contact))
    if contact.hint_error_in_hint:
        body[INTEGRATION_ERROR_MESSAGE] = ""
    return body


def contact_write_send(*, contact: Contact) -> str:
    """Send what the contact owes Hint, with the practice's token; returns the state after.

    Never raises for Hint's failures: the contact's state says what happened.
    """
    contact.refresh_from_db()
    if contact.hint_write_state != WAITING:
        return contact.hint_status
    if not contact.hint_patient_id:  # unlinked meanwhile: nothing to send it to
        Contact.objects.filter(pk=contact.pk).update(**_cleared())
        return "unlinked"
    ours = fieldmap.contact_values(contact)
    sent = {name: ours[name] for name in contact.hint_owed_fields if name in ours}
    body = _owed_body(contact, sent)
    hint: Any = None
    try:
        hint = practice_api(contact.practice)
        if body:
            answer = hint.patient_update(patient_id=contact.hint_patient_id, fields=body)
            mirror_answer(contact.practice, answer)
    except NotInstalled:
        return _refused(contact, message=NOT_CONNECTED)
    except errors.HintError as exc:
        logger.info("contact %s: write to Hint failed (%s)", contact.pk, type(exc).__name__)
        if exc.transient or exc.uncertain:
            return _postponed(contact, exc)
        sentence = policy.error_sentence(exc, practice_token=True)
        state = _refused(contact, message=f"{sentence} Your change is kept here; {_next_step(exc)}")
        # Hint shows the message on the patient; useless for a patient it no longer has, and
        # impossible with a token it refused.
        if not policy.is_token_refused(exc) and not isinstance(exc, errors.HintNotFound):
            _report_in_hint(contact=contact, hint=hint, sentence=sentence)
        return state
    state = _landed(contact, sent=sent, link=contact.hint_link_owed)
    if state is None:
        # Deleted here while the write was on its way (`sync.contact_delete` cleared our fields
        # in Hint, then this write may have put them back): clear them again.
        _deleted_meanwhile(contact, hint, link_sent=contact.hint_link_owed)
        return "deleted"
    return state


def _deleted_meanwhile(contact: Contact, hint: Any, *, link_sent: bool) -> None:
    if not link_sent:
        return  # only values were sent: nothing of ours to take back
    try:
        hint.patient_update(patient_id=contact.hint_patient_id, fields=dict(UNLINK_CLEARED))
    except errors.HintError as exc:
        logger.warning(
            "contact %s was deleted while its link was being written; clearing our fields on "
            "patient %s failed (%s)",
            contact.pk,
            contact.hint_patient_id,
            type(exc).__name__,
        )


def _cleared() -> dict[str, Any]:
    return {
        "hint_owed_fields": [],
        "hint_link_owed": False,
        "hint_write_state": Contact.HintWrite.NONE,
        "hint_write_attempts": 0,
        "hint_write_next_at": None,
        "hint_write_error": "",
    }


def _landed(contact: Contact, *, sent: fieldmap.Values, link: bool) -> str | None:
    """Hint took the write: what we sent is no longer owed; Hint's state fills the rest.
    None when the contact was deleted meanwhile (the lock waits for a delete under way)."""
    with transaction.atomic():
        fresh = (
            Contact.objects.for_practice(contact.practice_id)
            .select_for_update()
            .filter(pk=contact.pk)
            .first()
        )
        if fresh is None:
            return None
        if fresh.hint_patient_id != contact.hint_patient_id:
            return fresh.hint_status  # linked elsewhere meanwhile: that link owes its own write
        now_values = fieldmap.contact_values(fresh)
        # An edit made while we sent stays owed: its value is not the one Hint took.
        still = [n for n in fresh.hint_owed_fields if n not in sent or now_values[n] != sent[n]]
        fresh.hint_owed_fields = still
        fresh.hint_link_owed = fresh.hint_link_owed and not link
        fresh.hint_error_in_hint = False
        if still or fresh.hint_link_owed:
            contact_write_owe(fresh, fields=())
        else:
            contact_write_clear(fresh)
            fresh.last_synced_at = timezone.now()
        applied = _apply_hint_state(fresh)
        fresh.save()
        sync_log_write(
            practice=fresh.practice,
            level=SyncLog.Level.DEBUG,
            message="Contact's change reached Hint"
            + (f"; from Hint: {', '.join(applied)}." if applied else "."),
            contact=fresh,
            patient_id=fresh.hint_patient_id,
        )
    return fresh.hint_status


def _apply_hint_state(contact: Contact) -> list[str]:
    """Hint's state of the patient (its answer, or a newer event) onto the fields not owed."""
    known = patient_known(contact)
    if not known:
        return []
    result = merge(
        situation=Situation.PATIENT_UPDATED,
        contact=fieldmap.contact_values(contact),
        patient=fieldmap.patient_values(known),
    )
    return fieldmap.contact_assign(contact, updates_without_owed(contact, result.contact_updates))


def _postponed(contact: Contact, exc: errors.HintError) -> str:
    """A failure that may pass: try again by the contact schedule, with no click."""
    attempts = contact.hint_write_attempts + 1
    Contact.objects.filter(pk=contact.pk, hint_write_state=WAITING).update(
        hint_write_attempts=attempts,
        hint_write_next_at=timezone.now() + policy.backoff(attempts, policy.CONTACT_SCHEDULE),
        hint_write_error=_passing_reason(exc),
    )
    return WAITING


def _passing_reason(exc: errors.HintError) -> str:
    """Why the last try did not land, for a write that is retried by itself: the policy's
    sentence ends in "try again", which is the worker's job here, not the reader's."""
    if isinstance(exc, errors.HintRateLimited):
        return "Hint was busy (too many requests)."
    return "Hint did not answer."


def _next_step(exc: errors.HintError) -> str:
    """What a person does about a refused write (after the policy's sentence)."""
    if policy.is_token_refused(exc):
        return "once the app is reconnected, press Retry."
    if isinstance(exc, errors.HintNotFound):
        return 'unlink the contact, or use "Sync to Hint" to link it to another patient.'
    if isinstance(exc, errors.HintBadRequest):
        return "correct the contact and save it again, or press Retry."
    return "press Retry in a few minutes."


def _refused(contact: Contact, *, message: str) -> str:
    """Hint refused the write: shown on the contact and in the sync log until a person acts."""
    with transaction.atomic():
        Contact.objects.filter(pk=contact.pk, hint_write_state=WAITING).update(
            hint_write_state=FAILED, hint_write_next_at=None, hint_write_error=message[:500]
        )
        sync_log_write(
            practice=contact.practice,
            level=SyncLog.Level.ERROR,
            message="A contact's change could not be sent to Hint.",
            detail=message,
            contact=contact,
            patient_id=contact.hint_patient_id,
        )
    return FAILED


def _report_in_hint(*, contact: Contact, hint: Any, sentence: str) -> None:
    """Write the refusal where Hint shows it on the patient (best effort: the page shows it)."""
    text = f"A change from the partner app's contact was not saved. {sentence}"
    try:
        hint.patient_update(
            patient_id=contact.hint_patient_id, fields={INTEGRATION_ERROR_MESSAGE: text}
        )
    except errors.HintError:
        logger.info("contact %s: could not write the error message to Hint", contact.pk)
        return
    Contact.objects.filter(pk=contact.pk).update(hint_error_in_hint=True)


def contact_write_retry(*, contact: Contact, actor: Actor) -> Contact:
    """Send a refused write again (after the cause was fixed); audited."""
    with transaction.atomic():
        fresh = (
            Contact.objects.for_practice(contact.practice_id).select_for_update().get(pk=contact.pk)
        )
        if fresh.hint_write_state == FAILED and fresh.hint_patient_id:
            contact_write_owe(fresh, fields=())
            fresh.save()
            audit_record(
                practice=fresh.practice_id,
                actor=actor,
                action="contact.write_retried",
                target_type="contact",
                target_id=fresh.pk,
                patient=fresh.hint_patient_id,
            )
    contact.refresh_from_db()
    return contact
