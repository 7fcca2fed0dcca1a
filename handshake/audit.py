"""The audit trail: who did what to which record, within one practice.

Entries are written by the service that makes the change, inside its transaction, with the
`Actor` the view passed in; background work acts as `Actor.background(...)`. Views write only
reads (a page shown, an export) and `@hint_session` writes refusals. Entries are append-only
(`AuditEntry`); `audit_prune` is the one deletion, past `AUDIT_RETENTION_DAYS`, run by the
worker's sweep `audit_prune_sweep`.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from handshake.models import AuditEntry, Practice, PracticeUser
from hintpartner.tasks import Throttle

logger = logging.getLogger("hintpartner.audit")

# Every action the app records, in plain words for the Activity page (its action filter lists
# them in this order). An action missing here is still shown, as its name.
ACTIONS: dict[str, str] = {
    "patient.viewed": "viewed the patient",
    "contact.viewed": "viewed the contact",
    "note.viewed": "viewed the note",
    "contact.created": "created the contact",
    "contact.edited": "edited the contact",
    "contact.linked": "linked the contact to a patient",
    "contact.unlinked": "unlinked the contact",
    "contact.write_retried": "sent the contact to Hint again",
    "contact.deleted": "deleted the contact",
    "contacts.exported": "downloaded the contacts",
    "patient.created": "created the patient in Hint",
    "note.created": "started the note",
    "note.edited": "edited the note",
    "note.signed": "signed the note",
    "note.addended": "added an addendum",
    "note.discarded": "discarded the note",
    "batch.planned": "previewed a batch (a plan, nothing written)",
    "batch.applied": "applied the batch's plan",
    "batch.started": "started the batch",
    "batch.aborted": "aborted the batch",
    "batch.resumed": "resumed the batch",
    "batch.exported": "downloaded the batch's rows",
    "backfill.requested": "asked for all patients from Hint",
    "sync.options_changed": "changed the sync options",
    "webhook.replayed": "replayed a webhook event",
    "webhook.registered": "registered the webhook endpoint with Hint",
    "session.opened": "opened the app",
    "installation.connected": "connected the app",
    "installation.activated": "activated the installation",
    "installation.disconnected": "disconnected the app",
    "installation.deactivated": "deactivated the installation",
    "installation.pending": "the installation awaits activation",
    "activity.exported": "downloaded the activity",
    "access.denied": "was refused a page",
}

if TYPE_CHECKING:
    from handshake.context import HintContext


@dataclass(frozen=True)
class Actor:
    """Who acts: a practice user, a Hint support session (no user row), or background work."""

    label: str
    user: PracticeUser | None = None
    is_support: bool = False

    @classmethod
    def from_hint(cls, hint: "HintContext") -> "Actor":
        """The person behind an open session (support sessions are marked as such)."""
        return cls(label=hint.actor_label, user=hint.user, is_support=hint.is_support)

    @classmethod
    def background(cls, label: str) -> "Actor":
        """Work nobody started by hand right now: a batch, a retry, Hint's own event."""
        return cls(label=label)

    def __str__(self) -> str:
        return self.label


def audit_record(
    *,
    practice: Practice | int,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: object = "",
    patient: str = "",
    detail: str = "",
) -> AuditEntry:
    """Record an action of `actor` in `practice`; call it inside the change's transaction.

    `patient` is the Hint id of the patient whose data it touches, if any.
    """
    return AuditEntry.objects.create(
        practice_id=getattr(practice, "pk", practice),
        user=actor.user,
        is_support=actor.is_support,
        actor_label=(actor.label or "background work")[:300],
        action=action[:100],
        target_type=target_type[:50],
        target_id=str(target_id)[:100],
        patient_hint_id=(patient or "")[:100],
        detail=detail,
    )


# --- retention --------------------------------------------------------------------------------

PRUNE_EVERY_SECONDS = 3600
PRUNE_CHUNK = 10_000
_prune_due = Throttle(PRUNE_EVERY_SECONDS)


def audit_prune(*, now: datetime | None = None) -> int:
    """Delete entries older than AUDIT_RETENTION_DAYS; the app's only deletion of entries."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    # Plain SQL, because the model refuses deletion; in chunks, so no single statement holds
    # the table for long (the created_at index finds them).
    sql = (
        f"DELETE FROM {table} WHERE id IN "  # noqa: S608 - the table name is ours, quoted
        f"(SELECT id FROM {table} WHERE created_at < %s LIMIT {PRUNE_CHUNK})"
    )
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [cutoff])
            count = cursor.rowcount
        deleted += count
        if count < PRUNE_CHUNK:
            break
    if deleted:
        logger.info("audit: pruned %d entries older than %s", deleted, cutoff.date())
    return deleted


def audit_prune_sweep() -> int:
    """The worker's dispatcher (WORKER_DISPATCHERS): prune at most once an hour per process."""
    if _prune_due.due():
        audit_prune()
    return 0  # queues nothing
