"""The webhook inbox: every delivery Hint made, stored once per Hint event id.

A delivery lands in `ReceivedWebhookEvent` (one narrow row, one index: what the acknowledgement
pays for); the worker sorts it within a second into `WebhookEvent` (the practice's, with its
status) or `UnroutedWebhookEvent` (no practice of ours), see `webhooks.inbox`.
"""

from django.db import models
from django.utils import timezone

from hintpartner.tenancy import PracticeOwned, PracticeScopedQuerySet


class WebhookEventQuerySet(PracticeScopedQuerySet):
    def failed(self) -> "WebhookEventQuerySet":
        return self.filter(status=WebhookEvent.Status.FAILED)


class WebhookEvent(PracticeOwned):
    """One event Hint sent about a practice we know, and what became of it."""

    class Status(models.TextChoices):
        PENDING = "pending", "waiting"
        PROCESSED = "processed", "processed"
        IGNORED = "ignored", "ignored"
        FAILED = "failed", "failed"

    # Every index here is paid by each event's INSERT (the worker's sort, 500 rows at a time;
    # the acknowledgement writes `ReceivedWebhookEvent`): each one is here for a query that
    # needs it. The practice's own foreign-key index
    # is left out: the two indexes below that lead with the practice serve its lookups (and
    # PROTECT's check when a practice is deleted).
    practice = models.ForeignKey(
        "handshake.Practice", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # Hint's event id (`evt-…`): Hint repeats deliveries, we act on each id once (the
    # receiver's ON CONFLICT). A constraint rather than `unique=True`, which on PostgreSQL adds a
    # second (LIKE) index that no query uses.
    event_id = models.CharField(max_length=200)
    type = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # Why an event was ignored (unknown type, practice not connected), in plain words.
    note = models.CharField(max_length=300, blank=True)
    # The whole event as Hint sent it (`object` is the resource as GET returns it).
    payload = models.JSONField(default=dict)
    hint_created_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The last handler error (exception class and message; never a stack trace or a token).
    error = models.TextField(blank=True)
    # When the receiver stored the delivery (set by it, kept when the worker sorts it here).
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a task was queued for the event. The sort leaves it empty; the worker's dispatcher
    # queues pending events in batches and stamps them (`services.events_dispatch`), and a
    # replay stamps the event it queues.
    queued_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookEventQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event_id"], name="webhook_event_id_unique")]
        indexes = [
            # The settings pages: a practice's events newest first; its counts by status, types.
            models.Index(fields=["practice", "-received_at"], name="webhook_practice_recent"),
            models.Index(fields=["practice", "status", "type"], name="webhook_practice_status"),
            # `replay_webhooks` across practices (failed events): partial, so the receiver's
            # inserts (waiting or ignored, never failed) do not write to it.
            models.Index(fields=["id"], condition=models.Q(status="failed"), name="webhook_failed"),
            # The dispatcher's sweep: pending events by when (or whether) they were queued.
            models.Index(
                fields=["queued_at", "id"],
                condition=models.Q(status="pending"),
                name="webhook_pending_queue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id} ({self.status})"

    @property
    def object_id(self) -> str:
        obj = self.payload.get("object") if isinstance(self.payload, dict) else None
        return str(obj.get("id") or "") if isinstance(obj, dict) else ""


class UnroutedWebhookEvent(models.Model):
    """An event naming a practice we have never seen: kept for diagnosis, never acted on.

    A system table rather than `WebhookEvent` with a null practice: every table of practice data
    has a non-null practice reference (Hint's tenancy rule), and these rows belong to no tenant of
    ours. Only Django admin shows them.
    """

    event_id = models.CharField(max_length=200, unique=True)
    type = models.CharField(max_length=100)
    hint_practice_id = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.type} {self.event_id} for unknown practice {self.hint_practice_id}"


class ReceivedWebhookEvent(models.Model):
    """A delivery stored by the receiver and not yet sorted by the worker (`inbox.received_sort`,
    every half second): the acknowledgement writes this narrow row with one index, and leaves to
    the worker what the practice's events table costs to write (its indexes, the practice's
    status). Sorting moves the row and deletes it here, in one transaction.

    A system table like `UnroutedWebhookEvent`: until sorted, a delivery belongs to no tenant
    (the practice it names may not exist here); no page reads it, and it holds seconds of work.
    """

    # Hint's event id. The primary key is the one index (the migration drops the LIKE index
    # Django adds to a text key on PostgreSQL: no query here uses LIKE).
    event_id = models.CharField(max_length=200, primary_key=True)
    type = models.CharField(max_length=100)
    # The Hint id of the practice the event names ("" for none).
    hint_practice_id = models.CharField(max_length=100, blank=True)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.type} {self.event_id} (received, not sorted yet)"
