"""A practice's sync options and its sync log (three levels: debug, error, exception)."""

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from handshake.audit import Actor, audit_record
from hintpartner.tasks import Throttle
from sync.models import Contact, SyncLog, SyncOptions


def options_for(practice: Any) -> SyncOptions:
    """The practice's sync options (created with defaults on first use)."""
    options, _ = SyncOptions.objects.get_or_create(practice=practice)
    return options


def options_save(*, options: SyncOptions, actor: Actor) -> SyncOptions:
    """Save options an admin changed (already validated), and record who changed them."""
    with transaction.atomic():
        options.save()
        audit_record(
            practice=options.practice_id,
            actor=actor,
            action="sync.options_changed",
            target_type="options",
        )
    return options


def sync_log_write(
    *,
    practice: Any,
    level: str,
    message: str,
    detail: str = "",
    contact: Contact | None = None,
    patient_id: str = "",
    batch_sync_id: str = "",
    options: SyncOptions | None = None,
) -> None:
    """Add a sync log entry; debug entries only when the practice's log level is debug."""
    if level == SyncLog.Level.DEBUG:
        options = options or options_for(practice)
        if options.log_level != SyncOptions.LogLevel.DEBUG:
            return
    SyncLog.objects.create(
        practice_id=getattr(practice, "pk", practice),
        level=level,
        message=message[:500],
        detail=detail,
        contact_id_ref=str(contact.pk) if contact is not None else "",
        patient_id=patient_id,
        batch_sync_id=batch_sync_id,
    )


def sync_log_purge(*, now: Any = None) -> int:
    """Delete log entries older than each practice's retention; returns how many."""
    now = now or timezone.now()
    deleted = 0
    for options in SyncOptions.objects.all():
        cutoff = now - timedelta(days=options.log_retention_days)
        count, _ = (
            SyncLog.objects.for_practice(options.practice_id).filter(created_at__lt=cutoff).delete()
        )
        deleted += count
    # Practices that never saved options keep the default retention.
    default_days = SyncOptions._meta.get_field("log_retention_days").default
    cutoff = now - timedelta(days=default_days)
    with_options = SyncOptions.objects.values("practice_id")
    count, _ = (
        SyncLog.objects.exclude(practice_id__in=with_options).filter(created_at__lt=cutoff).delete()
    )
    return deleted + count


# The worker calls its dispatchers every half second; the log needs sweeping far less often.
SYNC_LOG_SWEEP_SECONDS = 3600
_sweep_due = Throttle(SYNC_LOG_SWEEP_SECONDS)


def sync_log_sweep() -> int:
    """Worker dispatcher (WORKER_DISPATCHERS): purge past-retention entries at most hourly.

    Returns 0: it queues no task."""
    if _sweep_due.due():
        sync_log_purge()
    return 0
