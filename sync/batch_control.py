"""Batch syncs: start, abort, resume, and run one to its end, abort or failure.

Two kinds, each a pipeline of its own module: all Hint patients -> contacts
(`sync.batch_patients`) and a CSV of contact ids -> Hint patients (`sync.batch_csv`). Both run as
a background task with a checkpoint, so a killed worker resumes where it stopped. An abort is
looked for at least every second in every phase (`batch_progress.AbortWatch`); the batch then
ends "aborted", saying what was done and which writes to Hint were not sent. A rerun of a
finished batch does nothing.

A plan (`sync.plans`) is a batch in mode PLAN: its run decides every row and writes nothing
(status "planned"); `plan_apply` queues it again to carry out exactly those rows.
"""

import itertools
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from handshake.audit import Actor, audit_record
from handshake.hint_access import NotInstalled, PracticeApi, practice_api
from hintpartner.tasks import Throttle
from sync import batch_csv, batch_patients, plans
from sync.batch_progress import (
    BatchAborted,
    BatchPaused,
    BatchStopped,
    Outcome,
    abort_summary,
    batch_recount,
)
from sync.csv_input import CsvRow
from sync.models import Batch, BatchRow, SyncLog
from sync.options import options_for, sync_log_write

# A running batch not heard from for this long is shown as stalled, with a Resume button.
STALLED_AFTER_SECONDS = 120
ROWS_PER_INSERT = 1000
# Outcomes a CSV row gets when the file is read (not a contact id, repeated, not ours).
UPLOAD_OUTCOMES = (Outcome.NOT_AN_ID, Outcome.DUPLICATE, Outcome.UNKNOWN)


class BatchError(Exception):
    """A batch cannot start; the message is plain words for the page."""


# --- starting, aborting, resuming ------------------------------------------------------------


def _new_sync_id() -> str:
    return "BS-" + timezone.now().strftime("%Y%m%d") + "-" + secrets.token_hex(4).upper()


def _ensure_none_active(practice: Any, *, but: Batch | None = None) -> None:
    active = Batch.objects.for_practice(practice).filter(status__in=Batch.ACTIVE_STATUSES)
    if but is not None:
        active = active.exclude(pk=but.pk)
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


def batch_start_patients(*, practice: Any, actor: Actor, plan: bool = False) -> Batch:
    """Queue a batch that syncs every Hint patient to a contact (`plan`: only its plan)."""
    with transaction.atomic():
        _ensure_none_active(practice)
        batch = Batch.objects.create(
            practice=practice,
            sync_id=_new_sync_id(),
            kind=Batch.Kind.PATIENTS_TO_CONTACTS,
            started_by=actor.label,
            **_plan_fields(practice, plan),
        )
        _audit(batch, actor, "batch.planned" if plan else "batch.started")
        _enqueue_run(batch)
    return batch


def _plan_fields(practice: Any, plan: bool) -> dict[str, Any]:
    if not plan:
        return {}
    # The plan decides with the option as it is now; applying it keeps that choice.
    create = bool(options_for(practice).create_contacts_when_batch_unmatched)
    return {"mode": Batch.Mode.PLAN, "plan_create": create}


def batch_start_csv(
    *,
    practice: Any,
    actor: Actor,
    rows: Iterable[CsvRow],
    source_name: str = "",
    ignored_lines: Iterable[str] = (),
    plan: bool = False,
) -> Batch:
    """Queue a batch for these rows of a CSV (`sync.csv_input.csv_rows`: contact ids to sync,
    and lines skipped with their reason); `plan`: only its plan. Raises CsvError, keeping
    nothing, when no row names a contact of the practice."""
    with transaction.atomic():
        batch = Batch.objects.create(
            practice=practice,
            sync_id=_new_sync_id(),
            kind=Batch.Kind.CONTACTS_TO_PATIENTS,
            started_by=actor.label,
            source_name=source_name[:255],
            ignored_lines=list(ignored_lines)[:200],
            **_plan_fields(practice, plan),
        )
        # A thousand rows at a time: model instances for every id at once would weigh ~1 KB each.
        total = 0
        numbered = enumerate(rows, start=1)
        while chunk := list(itertools.islice(numbered, ROWS_PER_INSERT)):
            BatchRow.objects.bulk_create(
                [
                    BatchRow(
                        practice=batch.practice,
                        batch=batch,
                        position=position,
                        contact_id=contact_id,
                        contact_ref=ref,
                        outcome=outcome,
                        planned_outcome=outcome if plan and outcome != Outcome.PENDING else "",
                        message=message,
                    )
                    for position, (contact_id, ref, outcome, message) in chunk
                ]
            )
            total = chunk[-1][0]
        # After the rows: a file with no usable id is refused as such (400) even while another
        # batch runs; this transaction keeps nothing either way.
        _ensure_none_active(practice, but=batch)
        batch.total = total
        batch_recount(batch)  # the rows skipped at upload are done already
        batch.save(update_fields=["total", "counts", "processed"])
        action = "batch.planned" if plan else "batch.started"
        _audit(batch, actor, action, f"CSV of {total} rows")
        _enqueue_run(batch)
    return batch


def plan_apply(*, batch: Batch, actor: Actor) -> Batch:
    """Carry out a plan: the batch runs again following the plan's rows (`sync.plans`)."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != Batch.Status.PLANNED or not batch.is_planning:
            raise BatchError("This is not a plan waiting to be applied.")
        if plans.plan_is_expired(batch):
            raise BatchError(
                "This plan has expired: Hint and the contacts may have changed since. "
                "Preview again, then apply the new plan."
            )
        _ensure_none_active(batch.practice)
        rows = BatchRow.objects.filter(batch=batch)
        # The rows the plan decided are decided again as they run (the same decision when
        # nothing changed); lines skipped at upload and patients without an id stay as planned.
        rows = rows.exclude(planned_outcome__in=["", *UPLOAD_OUTCOMES])
        if batch.kind == Batch.Kind.PATIENTS_TO_CONTACTS:
            rows = rows.exclude(patient_id="")
        rows.update(outcome=Outcome.PENDING, updated_at=timezone.now())
        batch.plan_counts = dict(batch.counts or {})
        batch.applied_at = timezone.now()
        batch.status = Batch.Status.QUEUED
        batch.checkpoint = 0
        batch.phase = ""
        batch.message = ""
        batch_recount(batch)
        batch.save()
        _audit(batch, actor, "batch.applied")
        _enqueue_run(batch)
    return batch


def batch_abort(*, batch: Batch, actor: Actor) -> Batch:
    """Ask a batch to stop; a queued or stalled batch stops at once."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        if not batch.is_active:
            return batch
        waiting = (Batch.Status.QUEUED, Batch.Status.PAUSED)
        if batch.status in waiting or batch_is_stalled(batch):
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
    """Queue a stalled, failed or paused batch again; it continues from its checkpoint (a paused
    one pauses again at once if today's Hint budget still has no room for it)."""
    resumable = (Batch.Status.FAILED, Batch.Status.PAUSED)
    if not (batch_is_stalled(batch) or batch.status in resumable):
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
    # A plan's rows say what applying would do.
    labels = plans.PLANNED_LABELS if batch.is_planning else {}
    return [
        (value, labels.get(value, label), counts[value])
        for value, label in Outcome.choices
        if counts[value]
    ]


# --- running ---------------------------------------------------------------------------------


def _finish(batch: Batch, status: str, message: str = "") -> None:
    batch.status = status
    batch.finished_at = timezone.now()
    if message:
        batch.message = message
    batch.save(
        update_fields=["status", "finished_at", "message", "counts", "processed", "updated_at"]
    )


_FINISHED = (Batch.Status.DONE, Batch.Status.ABORTED, Batch.Status.PLANNED)


def _pause(batch: Batch, message: str) -> None:
    """Wait for Hint's budget to renew (`batches_paused_sweep` queues the batch again then);
    an abort asked for meanwhile still wins."""
    batch_recount(batch)
    with transaction.atomic():
        current = Batch.objects.select_for_update().get(pk=batch.pk).status
        if current == Batch.Status.ABORTING:
            _finish(batch, Batch.Status.ABORTED, abort_summary(batch))
            return
        batch.status, batch.message = Batch.Status.PAUSED, message
        batch.save(update_fields=["status", "message", "counts", "processed", "updated_at"])
    sync_log_write(
        practice=batch.practice,
        level=SyncLog.Level.ERROR,
        message="A batch paused: today's Hint budget is (nearly) spent.",
        detail=message,
        batch_sync_id=batch.sync_id,
    )


# Paused batches are looked at this often (seconds): each look reads one practice's count.
PAUSED_SWEEP_SECONDS = 60
_paused_due = Throttle(PAUSED_SWEEP_SECONDS)


def batches_paused_sweep(*, force: bool = False) -> int:
    """Worker dispatcher (WORKER_DISPATCHERS): queue again each paused batch whose practice's
    Hint budget has room for batch work again (a new UTC day); returns how many."""
    if not (_paused_due.due() or force):
        return 0
    queued = 0
    for batch in Batch.objects.filter(status=Batch.Status.PAUSED).select_related("practice"):
        try:
            room = practice_api(batch.practice).batch_room()
        except NotInstalled:
            room = True  # the run says why it cannot go on
        if not room:
            continue
        with transaction.atomic():
            changed = Batch.objects.filter(pk=batch.pk, status=Batch.Status.PAUSED).update(
                status=Batch.Status.QUEUED,
                message="Resumed: Hint's daily budget renewed.",
                updated_at=timezone.now(),
            )
            if changed:
                _audit(
                    batch,
                    Actor.background("the worker"),
                    "batch.resumed",
                    "Hint's daily budget renewed",
                )
                _enqueue_run(batch)
                queued += 1
    return queued


def _claim(batch_id: int) -> Batch | None:
    """Mark the batch running; None when there is nothing (more) to run."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.status in _FINISHED:
            return None  # a rerun of a finished batch (or plan) does nothing
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
    except BatchPaused as pause:
        _pause(batch, str(pause))
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
    if batch.is_planning:
        batch.planned_at = timezone.now()
        batch.plan_counts = dict(batch.counts)
        batch.save(update_fields=["planned_at", "plan_counts"])
        _finish(batch, Batch.Status.PLANNED, "Plan ready: nothing was written to Hint or here.")
        return
    done_message = "Finished."
    redecided = BatchRow.objects.filter(batch=batch, redecided=True).count() if batch.is_plan else 0
    if redecided:
        done_message = (
            f"Plan applied; {redecided} rows had changed since the plan and were decided again "
            "(flagged in the rows)."
        )
    if batch.writes_owed:
        done_message = (
            f"Finished; {batch.writes_owed} of {batch.writes_total} writes to Hint were not "
            "taken by Hint (see the rows)."
        )
    _finish(batch, Batch.Status.DONE, done_message)
