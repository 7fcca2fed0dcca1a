"""What a running batch checks and counts between its rows: abort, a stopping error, counts.

Shared by the two pipelines (`sync.batch_patients`, `sync.batch_csv`) and by
`sync.batch_control`, which runs them and turns these exceptions into the batch's end state.
"""

from django.db.models import Count

from hintpartner.hint import errors, policy
from sync.models import Batch, BatchRow

Outcome = BatchRow.Outcome
# Counted with the outcomes, but not a row's outcome: rows whose write to Hint is still owed.
WRITES_OWED = "hint_writes_owed"


class BatchAborted(Exception):
    """Someone asked the batch to stop; the rows already done stay done."""


class BatchStopped(Exception):
    """An error that stops the whole batch; the message is plain words for the page."""


def abort_check(batch: Batch) -> None:
    """Raise BatchAborted when an abort was asked for since the run began."""
    status = Batch.objects.filter(pk=batch.pk).values_list("status", flat=True).first()
    if status in (Batch.Status.ABORTING, Batch.Status.ABORTED):
        raise BatchAborted


def stop_if_token_refused(exc: errors.HintError) -> None:
    """A refused practice token stops the batch (`practice_api` marked the practice
    disconnected); any other error is the row's alone."""
    if policy.is_token_refused(exc):
        sentence = policy.error_sentence(exc, practice_token=True)
        raise BatchStopped(f"{sentence} Then resume the batch.") from exc


def batch_recount(batch: Batch) -> None:
    """Count the batch's rows by outcome (and the writes still owed) into `batch.counts`."""
    rows = BatchRow.objects.filter(batch=batch).exclude(outcome=Outcome.PENDING)
    counts = dict(rows.values_list("outcome").annotate(n=Count("pk")).order_by())
    if batch.kind == Batch.Kind.PATIENTS_TO_CONTACTS:  # CSV rows never owe a write
        owed = BatchRow.objects.filter(batch=batch, push_body__isnull=False).count()
        if owed:
            counts[WRITES_OWED] = owed
    batch.counts = counts
    batch.processed = sum(v for k, v in counts.items() if k != WRITES_OWED)
