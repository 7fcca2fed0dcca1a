"""Batch syncs: start, abort, resume, and run one to its end, abort or failure.

Two kinds, each a pipeline of its own module: all Hint patients -> contacts
(`sync.batch_patients`) and a CSV of contact ids -> Hint patients (`sync.batch_csv`). Both run as
a background task with a checkpoint, so a killed worker resumes where it stopped. An abort is
looked for at least every second in every phase (`batch_progress.AbortWatch`); the batch then
ends "aborted", saying what was done and which writes to Hint were not sent. A rerun of a
finished batch does nothing.
"""

import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from handshake.audit import Actor, audit_record
from handshake.hint_access import NotInstalled, PracticeApi, practice_api
from sync import batch_csv, batch_patients
from sync.batch_progress import (
    BatchAborted,
    BatchStopped,
    Outcome,
    abort_summary,
    batch_recount,
)
from sync.models import Batch, BatchRow, SyncLog
from sync.options import sync_log_write

# A running batch not heard from for this long is shown as stalled, with a Resume button.
STALLED_AFTER_SECONDS = 120
ROWS_PER_INSERT = 1000


class BatchError(Exception):
    """A batch cannot start; the message is plain words for the page."""


# --- starting, aborting, resuming ------------------------------------------------------------


def _new_sync_id() -> str:
    return "BS-" + timezone.now().strftime("%Y%m%d") + "-" + secrets.token_hex(4).upper()


def _ensure_none_active(practice: Any) -> None:
    active = Batch.objects.for_practice(practice).filter(status__in=Batch.ACTIVE_STATUSES)
    if active.exists():
        raise BatchError(
            "Another batch is still running. Wait for it to finish, or abort it, then start again."
        )


def _enqueue_run(batch: Batch) -> None:
    from hintpartner.tasks import enqueue_on_commit
    from sync.tasks import batch_run_task  # the task calls back into this module

    enqueue_on_commit(batch_run_task, batch.pk)


def _audit(batch: Batch, actor: Actor, action: str, detail: str = "") -> None:
    audit_record(
        practice=batch.practice_id,
        actor=actor,
        action=action,
        target_type="batch",
        target_id=batch.sync_id,
        detail=detail,
    )


def batch_start_patients(*, practice: Any, actor: Actor) -> Batch:
    """Queue a batch that syncs every Hint patient to a contact."""
    with transaction.atomic():
        _ensure_none_active(practice)
        batch = Batch.objects.create(
            practice=practice,
            sync_id=_new_sync_id(),
            kind=Batch.Kind.PATIENTS_TO_CONTACTS,
            started_by=actor.label,
        )
        _audit(batch, actor, "batch.started")
        _enqueue_run(batch)
    return batch


def batch_start_csv(
    *,
    practice: Any,
    actor: Actor,
    contact_ids: list[int],
    source_name: str = "",
    ignored_lines: Iterable[str] = (),
) -> Batch:
    """Queue a batch for these contact ids (already checked to be this practice's contacts)."""
    with transaction.atomic():
        _ensure_none_active(practice)
        batch = Batch.objects.create(
            practice=practice,
            sync_id=_new_sync_id(),
            kind=Batch.Kind.CONTACTS_TO_PATIENTS,
            started_by=actor.label,
            total=len(contact_ids),
            source_name=source_name[:255],
            ignored_lines=list(ignored_lines)[:200],
        )
        # A thousand rows at a time: model instances for every id at once would weigh ~1 KB each.
        for start in range(0, len(contact_ids), ROWS_PER_INSERT):
            BatchRow.objects.bulk_create(
                [
                    BatchRow(
                        practice=batch.practice,
                        batch=batch,
                        position=i,
                        contact_id=cid,
                        contact_ref=str(cid),
                    )
                    for i, cid in enumerate(
                        contact_ids[start : start + ROWS_PER_INSERT], start=start + 1
                    )
                ]
            )
        _audit(batch, actor, "batch.started", f"CSV of {len(contact_ids)} contacts")
        _enqueue_run(batch)
    return batch


def batch_abort(*, batch: Batch, actor: Actor) -> Batch:
    """Ask a batch to stop; a queued or stalled batch stops at once."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        if not batch.is_active:
            return batch
        if batch.status == Batch.Status.QUEUED or batch_is_stalled(batch):
            batch_recount(batch)
            _finish(batch, Batch.Status.ABORTED, abort_summary(batch))
        else:
            batch.status = Batch.Status.ABORTING
            batch.message = f"Abort requested by {actor}."
            batch.save(update_fields=["status", "message", "updated_at"])
        _audit(batch, actor, "batch.aborted")
    return batch


def batch_is_stalled(batch: Batch) -> bool:
    """Running, but not heard from for a while: its worker was probably killed."""
    if batch.status not in (Batch.Status.RUNNING, Batch.Status.ABORTING):
        return False
    return (timezone.now() - batch.updated_at).total_seconds() > STALLED_AFTER_SECONDS


def batch_resume(*, batch: Batch, actor: Actor) -> Batch:
    """Queue a stalled (or failed) batch again; it continues from its checkpoint."""
    if not (batch_is_stalled(batch) or batch.status == Batch.Status.FAILED):
        raise BatchError("This batch is not stalled; there is nothing to resume.")
    with transaction.atomic():
        Batch.objects.filter(pk=batch.pk).update(
            status=Batch.Status.QUEUED, message="Resumed.", updated_at=timezone.now()
        )
        _audit(batch, actor, "batch.resumed")
        _enqueue_run(batch)
    batch.refresh_from_db()
    return batch


def outcome_counts(batch: Batch) -> list[tuple[str, str, int]]:
    """(outcome, label, count) for the results page, in the order of the outcome list."""
    counts = Counter(batch.counts or {})
    return [(value, label, counts[value]) for value, label in Outcome.choices if counts[value]]


# --- running ---------------------------------------------------------------------------------


def _finish(batch: Batch, status: str, message: str = "") -> None:
    batch.status = status
    batch.finished_at = timezone.now()
    if message:
        batch.message = message
    batch.save(
        update_fields=["status", "finished_at", "message", "counts", "processed", "updated_at"]
    )


def _claim(batch_id: int) -> Batch | None:
    """Mark the batch running; None when there is nothing (more) to run."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.status in (Batch.Status.DONE, Batch.Status.ABORTED):
            return None  # a rerun of a finished batch does nothing
        if batch.status == Batch.Status.ABORTING:
            batch_recount(batch)
            _finish(batch, Batch.Status.ABORTED, abort_summary(batch))
            return None
        batch.status = Batch.Status.RUNNING
        batch.started_at = batch.started_at or timezone.now()
        batch.save(update_fields=["status", "started_at", "updated_at"])
    return batch


def _pipeline(batch: Batch) -> Callable[[Batch, PracticeApi], None]:
    if batch.kind == Batch.Kind.PATIENTS_TO_CONTACTS:
        return batch_patients.batch_patients_run
    return batch_csv.batch_csv_run


def batch_run(*, batch_id: int) -> None:
    """The task body: run (or resume) one batch to its end, abort or failure."""
    batch = _claim(batch_id)
    if batch is None:
        return
    practice = batch.practice
    try:
        try:
            hint = practice_api(practice)
        except NotInstalled as exc:
            raise BatchStopped(
                "The app is not installed for this practice any more; reinstall it in Hint."
            ) from exc
        _pipeline(batch)(batch, hint)
    except BatchAborted:
        batch_recount(batch)
        _finish(batch, Batch.Status.ABORTED, abort_summary(batch))
        return
    except BatchStopped as stop:
        batch_recount(batch)
        _finish(batch, Batch.Status.FAILED, str(stop))
        sync_log_write(
            practice=practice,
            level=SyncLog.Level.ERROR,
            message="A batch stopped.",
            detail=str(stop),
            batch_sync_id=batch.sync_id,
        )
        return
    except Exception as exc:
        batch.refresh_from_db()
        batch_recount(batch)
        _finish(batch, Batch.Status.FAILED, "The batch stopped on an unexpected error; resume it.")
        sync_log_write(
            practice=practice,
            level=SyncLog.Level.EXCEPTION,
            message="A batch stopped on an unexpected error.",
            detail=f"{type(exc).__name__}: {exc}"[:2000],
            batch_sync_id=batch.sync_id,
        )
        raise
    batch_recount(batch)
    done_message = "Finished."
    if batch.writes_owed:
        done_message = (
            f"Finished; {batch.writes_owed} of {batch.writes_total} writes to Hint were not "
            "taken by Hint (see the rows)."
        )
    _finish(batch, Batch.Status.DONE, done_message)
