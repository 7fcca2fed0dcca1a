"""What a running batch checks and counts between its rows: abort, a stopping error, counts.

Shared by the two pipelines (`sync.batch_patients`, `sync.batch_csv`) and by
`sync.batch_control`, which runs them and turns these exceptions into the batch's end state.
"""

import time
from collections.abc import Callable
from typing import Any

from django.db.models import Count

from hintpartner.hint import errors, policy
from sync.models import Batch, BatchRow

Outcome = BatchRow.Outcome
# Counted with the outcomes, but not a row's outcome: writes Hint took, and writes still owed.
WRITES_SENT = Batch.WRITES_SENT
WRITES_OWED = Batch.WRITES_OWED

# An abort is looked for at least this often (seconds) and at least every this many rows, so
# it takes effect within a second or two in every phase for one small query per check.
ABORT_CHECK_SECONDS = 1.0
ABORT_CHECK_ROWS = 50


class BatchAborted(Exception):
    """Someone asked the batch to stop; the rows already done stay done."""


class BatchStopped(Exception):
    """An error that stops the whole batch; the message is plain words for the page."""


class BatchPaused(BatchStopped):
    """Today's Hint budget is (nearly) spent: the batch waits, and resumes when it renews."""


PAUSED_MESSAGE = (
    "Paused: today's budget of calls to Hint for this practice is {state}; the rest is kept "
    "for people using the app. The rows done so far are kept, and the batch resumes by itself "
    "after 00:00 UTC, when Hint's budget renews."
)


def abort_check(batch: Batch) -> None:
    """Raise BatchAborted when an abort was asked for since the run began."""
    status = Batch.objects.filter(pk=batch.pk).values_list("status", flat=True).first()
    if status in (Batch.Status.ABORTING, Batch.Status.ABORTED):
        raise BatchAborted


class AbortWatch:
    """`tick()` once per row (or per wait): checks for an abort when a second or
    `ABORT_CHECK_ROWS` rows have passed since the last check, whichever comes first."""

    def __init__(
        self,
        batch: Batch,
        hint: Any = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._batch = batch
        self._hint = hint  # a PracticeApi: its budget is looked at with each abort check
        self._clock = clock
        self._rows = 0
        self._last = clock()

    def tick(self, rows: int = 1) -> bool:
        """True when it checked (a good moment for the caller to save its progress too)."""
        self._rows += rows
        due = self._clock() - self._last >= ABORT_CHECK_SECONDS
        if due or self._rows >= ABORT_CHECK_ROWS:
            self.check()
            return True
        return False

    def check(self) -> None:
        self._rows, self._last = 0, self._clock()
        abort_check(self._batch)
        if self._hint is not None and not self._hint.batch_room():
            raise BatchPaused(PAUSED_MESSAGE.format(state="nearly used up"))


def stop_if_token_refused(exc: errors.HintError) -> None:
    """A refused practice token stops the batch (`practice_api` marked the practice
    disconnected), and so does today's Hint budget running out (nothing more can be sent until
    it renews); any other error is the row's alone."""
    if policy.is_token_refused(exc):
        sentence = policy.error_sentence(exc, practice_token=True)
        raise BatchStopped(f"{sentence} Then resume the batch.") from exc
    if isinstance(exc, errors.HintBudgetExhausted):
        raise BatchPaused(PAUSED_MESSAGE.format(state="used up")) from exc


def batch_recount(batch: Batch) -> None:
    """Count the batch's rows by outcome (and the writes sent and owed) into `batch.counts`."""
    rows = BatchRow.objects.filter(batch=batch)
    counts = dict(
        rows.exclude(outcome=Outcome.PENDING)
        .values_list("outcome")
        .annotate(n=Count("pk"))
        .order_by()
    )
    if batch.is_planning:  # a plan writes nothing
        sent = owed = 0
    elif batch.kind == Batch.Kind.PATIENTS_TO_CONTACTS:
        sent = rows.filter(written_at__isnull=False).count()
        owed = rows.filter(push_body__isnull=False).count()
    else:  # a CSV row is linked only once Hint took its write, and never owes one
        sent, owed = counts.get(Outcome.LINKED, 0), 0
    if sent:
        counts[WRITES_SENT] = sent
    if owed:
        counts[WRITES_OWED] = owed
    batch.counts = counts
    batch.processed = sum(v for k, v in counts.items() if k not in (WRITES_SENT, WRITES_OWED))


def abort_summary(batch: Batch) -> str:
    """What an aborted batch did and did not do, from its (recounted) counts."""
    total = batch.total if batch.total else "?"
    sent = batch.writes_sent
    if batch.is_planning:
        return (
            f"Aborted: the plan was not finished ({batch.processed} of {total} rows decided). "
            "Nothing was written."
        )
    if batch.kind == Batch.Kind.PATIENTS_TO_CONTACTS:
        return (
            f"Aborted. Contacts in step: {batch.processed} of {total}. "
            f"Writes to Hint: {sent} sent, {batch.writes_owed} not sent."
        )
    left = max(0, batch.total - batch.processed)
    return (
        f"Aborted. Contacts done: {batch.processed} of {total}; {left} not processed. "
        f"Writes to Hint: {sent} sent, none sent for the contacts not processed."
    )
